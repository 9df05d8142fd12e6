"""core: the pruning engine every other part builds on.

Owns the sparsity schedules (target as a function of the step), the mask patterns (how
weights are grouped and scored), the one selection rule, the `PruneWrapper` layer that
holds hard masks, the registry of prunable layers, `prune`/`strip` (wrapping models of
every kind), `update_masks`, the data of data-driven criteria (`CriterionData`), the
resume state, `one_shot_prune` and `sparsity_report` (with MAC counts).
May import: keras, numpy and `kerasprune._compat`; nothing else of kerasprune.
"""
