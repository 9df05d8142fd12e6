"""tfmot: TensorFlow Model Optimization's pruning API on Keras 3, on kerasprune's engine.

A script written for `tensorflow_model_optimization` runs by changing its import line to

    import kerasprune.tfmot as tfmot

and `from tensorflow_model_optimization.python.core.sparsity.keras import prune` (TFMOT's
module paths) to `from kerasprune.tfmot.python.core.sparsity.keras import prune`.
`tfmot.sparsity.keras` has TFMOT's names and semantics, checked by TFMOT's own tests
(`tests/tfmot/upstream`): `prune_low_magnitude` (a model, a layer or a list of layers,
wrapped around the same layer objects; `pruning_schedule`, `block_size`,
`block_pooling_type`, `pruning_policy`, `sparsity_m_by_n`), the schedules
`ConstantSparsity` and `PolynomialDecay` (tensors, as TFMOT's), TFMOT's default prunable
weights and mask rules, its step counting (each wrapper's `pruning_step`, the first
training batch is step 1), `UpdatePruningStep`, `PruningSummaries`, `strip_pruning`,
`prune_scope`, `PrunableLayer`, `PruningPolicy` and `PruneForLatencyOnXNNPack`.
Underneath it is kerasprune: `PruneWrapper` with hard masks, the one selection rule, the
mask update of `kerasprune.core.mask_update`. TFMOT's pruning-preserving quantization-aware
training (`tfmot.quantization.keras.quantize_annotate_model` / `quantize_apply` with
`tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()`) is
`kerasprune.quantization.quantize_model` on whole models.
May import: `kerasprune.core`, `kerasprune.callbacks`, `kerasprune.quantization`,
`kerasprune._compat`, keras, numpy;
inside functions also `tensorflow` (TFMOT's step check and summaries are TensorFlow's).
"""

from kerasprune.tfmot import experimental, quantization, sparsity

__all__ = ["experimental", "quantization", "sparsity"]
