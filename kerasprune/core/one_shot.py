"""`one_shot_prune(model, sparsity)`: prune once by magnitude, without training."""

from __future__ import annotations

import keras

from kerasprune.core.mask_update import update_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.validation import check_model, check_sparsity
from kerasprune.core.wrapping import prune


def one_shot_prune(model: keras.Model, sparsity: float, *, scope: str = "global",
                   **prune_kwargs) -> keras.Model:
    """Prune `model` once to `sparsity` by magnitude, for users who retrain their own way.

    A plain model is copied with `kerasprune.prune(model, scope=scope, **prune_kwargs)`
    (the input stays untouched) and the copy is pruned. A model that already holds
    `PruneWrapper` layers is pruned in place (masks only grow) and returned; its wrappers'
    own scope and options apply. The masks stay hard during later training.

    Args:
        model: a plain Keras model, or one returned by `kerasprune.prune`.
        sparsity: target sparsity of the pruned weights, in [0, 1).
        scope: `"global"` (one magnitude threshold, as in IMP), `"layer"`, `"lamp"` or
            `"erk"` (see `kerasprune.prune`).
        **prune_kwargs: other `kerasprune.prune` options (`layers`, `exclude`,
            `sparsity_overrides`, `block_shape`, `pattern`).

    Returns:
        The pruned, pruning-ready model (strip it with `kerasprune.strip` to export).

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
    ...                           keras.layers.Dense(4)])
    >>> pruned = kerasprune.one_shot_prune(model, 0.75)
    >>> kerasprune.sparsity_report(pruned).total
    0.75
    """
    check_sparsity("sparsity", sparsity)
    check_model(model)
    if not prune_wrappers(model):
        model = prune(model, scope=scope, **prune_kwargs)
    elif prune_kwargs:
        raise ValueError(
            "The model is already pruning-ready; its wrappers carry the pruning options. "
            f"Received extra options: {sorted(prune_kwargs)}"
        )
    update_masks(model, sparsity)
    return model
