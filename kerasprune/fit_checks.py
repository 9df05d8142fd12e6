"""Checks a pruning callback makes in `on_train_begin`, before the first step."""

from __future__ import annotations

import keras

from kerasprune.model_walk import prune_wrappers


def check_pruning_fit(callback: keras.callbacks.Callback, needed_epochs: int,
                      breakdown: str) -> int:
    """Refuse a fit the callback cannot run; return the number of steps per epoch.

    Args:
        callback: the pruning callback, attached to its model by Keras.
        needed_epochs: epochs the callback's stages or cycles need together.
        breakdown: how those epochs add up, for the error message.
    """
    name = type(callback).__name__
    if not prune_wrappers(callback.model):
        raise ValueError(
            f"{name} needs a model with PruneWrapper layers: train "
            "kerasprune.prune(model), not the original model."
        )
    epochs, steps = callback.params.get("epochs"), callback.params.get("steps")
    if epochs is not None and epochs < needed_epochs:
        raise ValueError(
            f"fit(epochs={epochs}) is shorter than the {needed_epochs} epochs {name} needs "
            f"({breakdown})."
        )
    if not steps:
        raise ValueError(
            f"{name} needs the number of steps per epoch: pass `steps_per_epoch` to fit "
            "when the data has no known length."
        )
    return steps
