"""core: the pruning engine every other part builds on.

Owns, in the order a mask update runs through them:

- the layer specs (`registry`: one `LayerSpec` per layer type: prunable weights, kerasprune's
  and TFMOT's defaults, MAC counts, channel rules registered by `structured`);
- `prune`/`strip` (`wrapping`, models of every kind; `substitution`: subclassed ones save
  and load their substitutes) and the `PruneWrapper` layer that holds hard masks (`mask_constraint`, the one place a mask is applied);
- the sparsity schedules (the target as a function of the step);
- the selectors (`selectors`: how each policy chooses masks, never writing them), the
  mask patterns (how weights are grouped and scored), the weight criteria
  (`weight_criteria`: magnitude, SNIP, OBD, Wanda, GraSP, SynFlow, random, one saliency per
  weight that a pattern pools; `gradient_flow`: GraSP's `Hg` and SynFlow's `dR/dw`;
  `linear_views`: a layer's kernel as `X @ W` on its input), the scopes
  (`scopes`: which parts share a target; `allocation`: floors, ERK, LAMP) and the one
  selection rule (`selection`, `order_statistics`);
- `mask_update`: the one place masks are written (`update`, `write_masks`, `update_masks`),
  returning a `MaskRecord`;
- `xnnpack_sparse`: XNNPACK's sparse-inference conditions on a Keras graph (the layers
  `prune(policy="xnnpack_sparse")` and TFMOT's `PruneForLatencyOnXNNPack` prune);
- around them: the data of data-driven criteria (`criterion_data`, `gradients` per backend),
  regrowth, the penalties (`group_lasso`, `penalties`: elastic net, sparse group lasso;
  `l0_gates`: hard-concrete gates), the resume state (`pruning_state`), `sensitivity`,
  `sparsity_report` with MAC counts, deprecations.
May import: keras, numpy, `kerasprune._compat`; inside functions also tensorflow and jax (the
loss gradients of each backend) and `kerasprune.plot` (a deprecated alias of its figure).
"""
