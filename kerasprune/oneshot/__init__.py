"""oneshot: pruning once, without retraining, from a little calibration data.

Owns `one_shot_prune` (every criterion: magnitude, SNIP, OBD and Wanda through the
engine's selection, SparseGPT through its own selector, channels with reconstruction),
the sequential calibration (`calibration`: the inputs of one pruned layer at a time,
computed through the layers pruned before it, one batch of activations in memory),
the per-layer input statistics (`statistics`: `X^T X` of each weight's linear view,
accumulated over batches), Optimal Brain Surgeon's closed forms (`obs`), SparseGPT
(`sparsegpt`: OBS with lazy column blocks, dampening and adaptive masks in any weight
pattern; `sparsegpt_selector`: the engine's `Selector` that runs it layer by layer),
Wanda and OBD on the same sequential calibration (`sequential_norms`),
and the least-squares reconstruction of the layers that consume removed channels
(`reconstruction`). Masks are written by `kerasprune.core.mask_update` only.
May import: `kerasprune.core`, `kerasprune.structured`, `kerasprune._compat`, keras,
numpy.
"""
