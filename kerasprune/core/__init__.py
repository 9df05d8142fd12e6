"""core: the pruning engine every other part builds on.

Owns the sparsity schedules (target as a function of the step), the mask patterns (how
weights are grouped and scored), the one selection rule, the allocation of a model-wide
target among tensors (per-tensor floor, ERK, LAMP), the `PruneWrapper` layer that
holds hard masks, the registry of prunable layers, `prune`/`strip` (wrapping models of
every kind; subclassed ones save and load their substitutes), `update_masks`, the data
of data-driven criteria (`CriterionData`), the resume state, `one_shot_prune`,
`sparsity_report` (with MAC counts) and the loss gradients per backend (TensorFlow, JAX)
that gradient criteria use.
May import: keras, numpy and `kerasprune._compat`; nothing else of kerasprune.
"""
