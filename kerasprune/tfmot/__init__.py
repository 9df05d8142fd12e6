"""tfmot: TensorFlow Model Optimization's pruning API on Keras 3, on kerasprune's engine.

A script written for `tensorflow_model_optimization` runs by changing its import line to

    import kerasprune.tfmot as tfmot

`tfmot.sparsity.keras` has TFMOT's names and semantics: `prune_low_magnitude` (a model, a
layer or a list of layers; `pruning_schedule`, `block_size`, `block_pooling_type`,
`pruning_policy`, `sparsity_m_by_n`), the schedules `ConstantSparsity` and
`PolynomialDecay` with TFMOT's defaults, TFMOT's step counting (a persistent counter, the
first training batch is step 1), `UpdatePruningStep`, `PruningSummaries`,
`strip_pruning`, `prune_scope`, `PrunableLayer`, `PruningPolicy` and
`PruneForLatencyOnXNNPack`. Underneath it is kerasprune: `PruneWrapper` with hard
masks, the one selection rule, the callback base with its resume state.
May import: `kerasprune.core`, `kerasprune.callbacks`, `kerasprune.structured`,
`kerasprune._compat`, keras, numpy.
"""

from kerasprune.tfmot import sparsity

__all__ = ["sparsity"]
