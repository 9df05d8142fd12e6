"""callbacks: pruning inside `model.fit`, one policy per callback on one engine.

Owns `BasePruningCallback` (fit's clock, the fit checks, mask updates, logs, learning-rate
setting and resume state) and the policies built on it: `PruningCallback` (GMP),
`IMPCallback` (iterative pruning with retraining), `BIMPCallback` (budgeted IMP),
`RigLCallback` (sparse training with drop-and-regrow mask updates),
`PenaltyPruningCallback` (removing the groups a group-lasso penalty drove to zero),
`MovementPruningCallback` (movement pruning: masks from the weights' learned movement
scores) and `L0PruningCallback` (L0 hard-concrete gates ended by hard masks), and
how they report: `SparsityMetric` (sparsity in every callback's logs) and `LayerSummaries`
(per-layer TensorBoard scalars). Next to any of them, `Distillation` adds a teacher's
loss while the pruned model recovers.
May import: `kerasprune.core`, `kerasprune.retrain`, `kerasprune.oneshot` (the selector a
model's criteria call for), `kerasprune._compat`, keras, numpy; inside functions also
tensorflow (the summary ops of `LayerSummaries`).
"""
