"""Group criteria: one importance score per output channel, unit or attention head.

A channel of a weight is the slice at one index of its channel axis: the last axis of a
Dense/EinsumDense/Conv kernel (`[..., in, out]`: a filter or unit) and axis -2 of a
depthwise kernel (`[h, w, channels, 1]`). Scores (higher = more important):

- `"l1"`: sum of |w| over the channel; `"l2"`: its Euclidean norm;
- `"taylor"`: the mean over minibatches of `(sum over the channel of gradient x weight)^2`,
  Molchanov et al.'s (2019) estimate of the squared loss change when the channel is
  removed, from the loss gradients on a few batches of data (see `kerasprune.CriterionData`).
  Squaring each batch before averaging matters: near convergence the gradients of
  different batches cancel, so a score built on their sum would be noise;
- `"apoz"`: one minus the Average Percentage of Zeros of the channel's output after a
  ReLU over a data sample (Hu et al., 2016): a channel that is almost always zero matters
  little. `"mean_activation"`: the mean of the channel's ReLU output (Molchanov et al.,
  2017). Both read the layer's output (outputs <= 0 count as zeros, so a linear layer
  followed by a ReLU is scored as the ReLU sees it) from `kerasprune.CriterionData`;
- `"random"`: a fixed random order, the baseline every criterion must beat.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core.criterion_data import ChannelActivity
from kerasprune.core.validation import check_choice

CRITERIA = ("l1", "l2", "taylor", "random", "apoz", "mean_activation")
ACTIVATION_CRITERIA = ("apoz", "mean_activation")


def channel_axis(shape: tuple[int, ...]) -> int:
    """The axis of a kernel that indexes its output channels.

    The last axis, except for depthwise kernels `[..., channels, 1]` (rank >= 3 with a
    last axis of 1), whose channels are on axis -2.

    Example:

    >>> channel_axis((3, 3, 16, 32)), channel_axis((3, 3, 16, 1))
    (3, 2)
    """
    if len(shape) == 0:
        raise ValueError("A scalar weight has no channels. Received: shape=()")
    if len(shape) >= 3 and shape[-1] == 1:
        return len(shape) - 2
    return len(shape) - 1


def by_channel(array: np.ndarray, axis: int) -> np.ndarray:
    """`array` reshaped to `(channels, weights per channel)`.

    Example:

    >>> by_channel(np.zeros((5, 3)), 1).shape
    (3, 5)
    """
    return np.moveaxis(np.asarray(array), axis, 0).reshape(array.shape[axis], -1)


def channel_scores(
    weight: np.ndarray,
    criterion: str = "l1",
    *,
    axis: int | None = None,
    gradients: Sequence[np.ndarray] | None = None,
    activations: ChannelActivity | None = None,
    seed: int = 0,
) -> np.ndarray:
    """One importance score per channel of `weight` (higher = keep).

    Args:
        weight: a kernel.
        criterion: one of `"l1"`, `"l2"`, `"taylor"`, `"random"`, `"apoz"`,
            `"mean_activation"`.
        axis: the channel axis; default `channel_axis(weight.shape)`.
        gradients: the loss gradients w.r.t. `weight` on one or more minibatches (each of
            `weight`'s shape); needed for `"taylor"`.
        activations: the `ChannelActivity` of the layer's output; needed for `"apoz"`
            and `"mean_activation"`.
        seed: seed of the `"random"` order.

    Example:

    >>> w = np.array([[1.0, 0.0, -2.0], [1.0, 0.0, 2.0]])
    >>> channel_scores(w, "l1").tolist(), channel_scores(w, "l2").round(3).tolist()
    ([2.0, 0.0, 4.0], [1.414, 0.0, 2.828])
    >>> g = np.ones_like(w)
    >>> channel_scores(w, "taylor", gradients=[g, -g]).tolist()  # cancels if summed
    [4.0, 0.0, 0.0]
    """
    weight = np.asarray(weight, dtype=np.float64)
    axis = channel_axis(weight.shape) if axis is None else axis % weight.ndim
    groups = by_channel(weight, axis)
    if criterion == "l1":
        return np.abs(groups).sum(axis=1)
    if criterion == "l2":
        return np.sqrt(np.square(groups).sum(axis=1))
    if criterion == "random":
        # Same order on every call (the masks only grow), zero for channels already gone.
        order = np.random.default_rng([seed, *weight.shape]).random(groups.shape[0])
        return np.where(groups.any(axis=1), order + 1e-3, 0.0)
    if criterion == "taylor":
        return _taylor(weight, gradients, axis)
    if criterion in ACTIVATION_CRITERIA:
        return _activation_score(criterion, activations, groups.shape[0])
    raise ValueError(f"`criterion` must be one of {CRITERIA}. Received: criterion={criterion!r}")


def _taylor(weight: np.ndarray, gradients, axis: int) -> np.ndarray:
    batches = [] if gradients is None else (
        [gradients] if isinstance(gradients, np.ndarray) else list(gradients))
    if not batches or any(np.shape(g) != weight.shape for g in batches):
        shapes = [np.shape(g) for g in batches]
        raise ValueError(
            "The 'taylor' criterion needs the loss gradients of the weight on one or more "
            f"batches, each of shape {weight.shape}. Received: gradients of shapes {shapes}. "
            "Pass `data=kerasprune.CriterionData(x, y)` to the pruning callback."
        )
    per_batch = [by_channel(weight * np.asarray(g, np.float64), axis).sum(axis=1)
                 for g in batches]
    return np.mean(np.square(per_batch), axis=0)


def _activation_score(criterion: str, activity, channels: int) -> np.ndarray:
    if activity is None or np.shape(activity.mean) != (channels,):
        shape = None if activity is None else np.shape(activity.mean)
        raise ValueError(
            f"The {criterion!r} criterion needs the layer's output statistics for each of "
            f"its {channels} channels. Received: statistics of shape {shape}. Pass "
            "`data=kerasprune.CriterionData(x)` to the pruning callback."
        )
    if criterion == "apoz":
        return 1.0 - np.asarray(activity.zero_fraction, np.float64)
    return np.asarray(activity.mean, np.float64)


def head_scores(layer: keras.layers.MultiHeadAttention, criterion: str = "l1") -> np.ndarray:
    """One score per attention head of a built `MultiHeadAttention` layer.

    Sums the head's channel scores over the query, key, value and output projections
    (query/key/value kernels are `[d_model, heads, head_dim]`, the output kernel
    `[heads, head_dim, d_model]`). `"taylor"` is not available here.

    Example:

    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.zeros((1, 3, 8), "float32")
    >>> _ = mha(x, x)
    >>> head_scores(mha).shape
    (2,)
    """
    if not isinstance(layer, keras.layers.MultiHeadAttention) or not layer.built:
        raise TypeError(
            "`layer` must be a built keras.layers.MultiHeadAttention. "
            f"Received: layer={layer!r}"
        )
    check_choice("criterion", criterion, ("l1", "l2", "random"))
    projections = _compat.attention_projections(layer)
    head_axes = {"query": 1, "key": 1, "value": 1, "output": 0}
    return sum(channel_scores(np.asarray(projections[name].kernel), criterion, axis=axis)
               for name, axis in head_axes.items())
