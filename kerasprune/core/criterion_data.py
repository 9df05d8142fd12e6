"""`CriterionData(x, y)`: the data that data-driven criteria need at mask-update time.

Magnitude criteria read the weights; others need the model run on data: the Taylor
channel criterion and SNIP need loss gradients, APoZ and the mean-activation criterion
need the outputs of the pruned layers, RigL regrows where the dense gradient is largest.
A `CriterionData` holds a fixed sample and computes, on demand, what the model's
patterns declare they need (`needs_gradients`, `needs_activations`); a pruning callback
given `data=` passes it to `update_masks(gradients=..., activations=...)`. Nothing
is written onto the patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.gradients import batch_gradients
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.validation import check_int


@dataclass(frozen=True)
class ChannelActivity:
    """Statistics of one layer's output per channel, over a data sample.

    `zero_fraction`: the fraction of outputs <= 0 (zero after a ReLU: APoZ);
    `mean`: the mean of the ReLU of the outputs (the mean-activation criterion).
    """

    zero_fraction: np.ndarray
    mean: np.ndarray


def loss_gradients(
    model: keras.Model, x, y, *, batch_size: int = 64, paths: Sequence[str] | None = None
) -> dict[str, list[np.ndarray]]:
    """Gradients of `model`'s compiled loss on each batch of `(x, y)`.

    Returns `{variable path: [gradient on batch 1, gradient on batch 2, ...]}` for the
    trainable variables named in `paths` (all of them by default). The gradient of a
    pruned weight is dense: the loss's slope at 0, what RigL regrows by.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss="mse")
    >>> grads = loss_gradients(model, np.ones((4, 3)), np.zeros((4, 2)), batch_size=2)
    >>> [g.shape for g in grads[model.layers[0].kernel.path]]
    [(3, 2), (3, 2)]
    """
    if getattr(model, "loss", None) is None:
        raise ValueError(
            f"Model '{model.name}' has no loss: compile it before computing loss gradients."
        )
    wanted = None if paths is None else set(paths)
    variables = [v for v in model.trainable_variables if wanted is None or v.path in wanted]
    result: dict[str, list[np.ndarray]] = {v.path: [] for v in variables}
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        for variable, grad in zip(variables, batch_gradients(model, xb, yb, variables)):
            result[variable.path].append(np.zeros(variable.shape) if grad is None else grad)
    return result


def channel_activity(
    model: keras.Model, x, *, batch_size: int = 64, wrappers: list | None = None
) -> dict[str, ChannelActivity]:
    """Per-channel output statistics of pruned layers over `x`, keyed by weight path.

    Runs `model` on `x` in inference mode, batch by batch, and reduces the output of each
    wrapper in `wrappers` (default: all) to one `ChannelActivity` per output channel
    (the last axis, or axis 1 for `channels_first` layers). Every pruned weight of a
    wrapper maps to its layer's statistics.

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(2, use_bias=False, kernel_initializer="identity")]))
    >>> activity = channel_activity(model, np.array([[1.0, -1.0], [2.0, 0.0]]))
    >>> stats = activity[model.layers[0].layer.kernel.path]
    >>> stats.zero_fraction.tolist(), stats.mean.tolist()
    ([0.0, 1.0], [1.5, 0.0])
    """
    wrappers = prune_wrappers(model) if wrappers is None else wrappers
    zeros = {id(w): 0.0 for w in wrappers}
    sums = {id(w): 0.0 for w in wrappers}
    counts = {id(w): 0 for w in wrappers}

    def observe(wrapper, inputs, outputs):
        axis = 1 if getattr(wrapper.layer, "data_format", None) == "channels_first" else -1
        values = np.moveaxis(np.asarray(outputs, np.float64), axis, -1)
        values = values.reshape(-1, values.shape[-1])
        zeros[id(wrapper)] = zeros[id(wrapper)] + (values <= 0).sum(axis=0)
        sums[id(wrapper)] = sums[id(wrapper)] + np.maximum(values, 0).sum(axis=0)
        counts[id(wrapper)] += values.shape[0]

    with _compat.observing_calls(wrappers, observe):
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size], training=False)
    result = {}
    for wrapper in wrappers:
        n = max(counts[id(wrapper)], 1)
        key = id(wrapper)
        stats = ChannelActivity(np.asarray(zeros[key]) / n, np.asarray(sums[key]) / n)
        result.update({weight.path: stats for weight in wrapper.pruned_weights})
    return result


class CriterionData:
    """A fixed data sample from which criteria get gradients and activations on demand.

    Pass it as `data=` to a pruning callback or to `one_shot_prune`:
    right before each mask update it computes what the model's patterns need, the loss
    gradients (Taylor, SNIP; RigL's regrowth) and the per-channel activity of the pruned
    layers' outputs (APoZ, mean activation).

    Args:
        x: input sample (a few hundred examples are enough).
        y: its targets; needed for gradients, not for activations.
        batch_size: batch size of the passes over the sample. Taylor scores average
            squared per-batch estimates, so use several batches.

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
    ...     keras.layers.Dense(2)]), pattern=kerasprune.Channels("apoz"))
    >>> model.compile("adam", "mse")
    >>> x = np.random.default_rng(0).normal(size=(16, 4))
    >>> sorted(CriterionData(x).for_update(model))
    ['activations']
    """

    def __init__(self, x, y=None, *, batch_size: int = 64):
        if not hasattr(x, "__len__") or not len(x) or (
            y is not None and (not hasattr(y, "__len__") or len(x) != len(y))
        ):
            raise ValueError(
                "`x` must be a non-empty array, and `y` None or an array of equal length. "
                f"Received: x of type {type(x).__name__}, y of type {type(y).__name__}"
            )
        self.x, self.y = x, y
        self.batch_size = check_int("batch_size", batch_size, minimum=1)

    def gradients(self, model: keras.Model, paths: Sequence[str] | None = None):
        """`{weight path: [gradient per batch]}` for `paths` (default: the weights of
        every wrapper whose pattern needs gradients)."""
        if self.y is None:
            raise ValueError(
                "Loss gradients need targets: create the CriterionData with `y` "
                "(CriterionData(x, y))."
            )
        if paths is None:
            paths = [weight.path for wrapper in prune_wrappers(model)
                     if wrapper.pattern.needs_gradients for weight in wrapper.pruned_weights]
        return loss_gradients(model, self.x, self.y, batch_size=self.batch_size, paths=paths)

    def activations(self, model: keras.Model) -> dict[str, ChannelActivity]:
        """`{weight path: ChannelActivity}` for every wrapper whose pattern needs them."""
        wrappers = [w for w in prune_wrappers(model) if w.pattern.needs_activations]
        return channel_activity(model, self.x, batch_size=self.batch_size, wrappers=wrappers)

    def for_update(self, model: keras.Model) -> dict:
        """The keyword arguments of `update_masks` that the model's patterns need."""
        providers = {"gradients": self.gradients, "activations": self.activations}
        return {name: providers[name](model) for name in needed_data(model)}


def needed_data(model: keras.Model) -> list[str]:
    """What the model's patterns need from a `CriterionData`: `"gradients"`, `"activations"`."""
    patterns = [w.pattern for w in prune_wrappers(model)]
    return [name for name, flag in (("gradients", "needs_gradients"),
                                    ("activations", "needs_activations"))
            if any(getattr(p, flag) for p in patterns)]
