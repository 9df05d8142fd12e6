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
  followed by a ReLU is scored as the ReLU sees it) from `kerasprune.CriterionData`; a
  layer ending in another nonlinearity (tanh, sigmoid) is named in a warning;
- `"taylor2"`: the second-order Taylor estimate of the loss change when the channel's
  weights `w_s` are set to zero (Molchanov et al., 2019, their second variant):
  `|-g_s . w_s + 1/2 sum h_s w_s^2|`, `g` the mean gradient over the batches and `h` the
  diagonal of the Hessian: given (`curvature=`), or its squared-gradient (empirical
  Fisher) estimate, the mean over batches of `g^2`. Exact for a loss quadratic with a
  diagonal Hessian;
- `"l0"`: the number of nonzero weights of the channel (ties broken by its L1 norm):
  after unstructured pruning, the channels left thinnest go first;
- redundancy of the weights: `"fpgm"`, the sum of the Euclidean distances of the filter to
  the layer's other filters (He et al., 2019, filter pruning via geometric median: the
  filters nearest the geometric median are the most replaceable); `"cosine"`, one minus
  the largest |cosine similarity| of the filter to a filter of larger norm (ties: the
  earlier one), so of two collinear filters the weaker one scores 0 and the other is kept;
- statistics of the channel's output over a data sample, from `ChannelActivity.pooled`
  (the output averaged over every axis but the channel one, one row per example):
  `"correlation"`, one minus the largest |Pearson correlation| with a channel of larger
  standard deviation (redundant channels first, a constant channel scores 0);
  `"entropy"`, the entropy of the histogram of the channel's pooled outputs (Luo & Wu,
  2017: a constant channel scores 0); `"lda"`, the ratio of between-class to within-class
  variance of the pooled output (Tian et al., 2017's class-discriminative criterion;
  needs the sample's labels, `CriterionData(x, y)`);
- `"random"`: a fixed random order, the baseline every criterion must beat.

Channels a mask already removed score 0 under every criterion.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core.criterion_data import ChannelActivity
from kerasprune.core.validation import check_choice
from kerasprune.core.weight_criteria import data_advice

CRITERIA = ("l1", "l2", "taylor", "random", "apoz", "mean_activation", "taylor2", "l0",
            "fpgm", "cosine", "correlation", "entropy", "lda")
#: Criteria that read the layer's output on data (`ChannelActivity`).
ACTIVATION_CRITERIA = ("apoz", "mean_activation", "correlation", "entropy", "lda")
#: Criteria that read the loss gradients of the weight.
GRADIENT_CRITERIA = ("taylor", "taylor2")
#: Criteria that need the sample's labels.
LABEL_CRITERIA = ("lda",)
#: Bins of the `"entropy"` criterion's histograms.
ENTROPY_BINS = 32


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
    curvature: np.ndarray | None = None,
) -> np.ndarray:
    """One importance score per channel of `weight` (higher = keep).

    Args:
        weight: a kernel.
        criterion: one of `CRITERIA` (see the module docstring).
        axis: the channel axis; default `channel_axis(weight.shape)`.
        gradients: the loss gradients w.r.t. `weight` on one or more minibatches (each of
            `weight`'s shape); needed for `"taylor"` and `"taylor2"`.
        activations: the `ChannelActivity` of the layer's output; needed for `"apoz"`,
            `"mean_activation"`, `"correlation"`, `"entropy"` and `"lda"`.
        seed: seed of the `"random"` order.
        curvature: for `"taylor2"`: the diagonal of the loss's Hessian w.r.t. `weight`
            (default: the mean of the squared gradients).

    Example:

    >>> w = np.array([[1.0, 0.0, -2.0], [1.0, 0.0, 2.0]])
    >>> channel_scores(w, "l1").tolist(), channel_scores(w, "l2").round(3).tolist()
    ([2.0, 0.0, 4.0], [1.414, 0.0, 2.828])
    >>> g = np.ones_like(w)
    >>> channel_scores(w, "taylor", gradients=[g, -g]).tolist()  # cancels if summed
    [4.0, 0.0, 0.0]
    >>> twins = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 1.0]])  # channels 0 and 1 collinear
    >>> channel_scores(twins, "cosine").round(3).tolist()
    [1.0, 0.0, 0.106]
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
    if criterion in GRADIENT_CRITERIA:
        batches = _gradient_batches(criterion, weight, gradients)
        if criterion == "taylor":
            return _taylor(weight, batches, axis)
        return _live(groups, np.abs(taylor2_loss_change(weight, batches, axis, curvature)))
    if criterion in _WEIGHT_REDUNDANCY:
        return _live(groups, _WEIGHT_REDUNDANCY[criterion](groups))
    if criterion in ACTIVATION_CRITERIA:
        return _live(groups, _activation_score(criterion, activations, groups.shape[0]))
    raise ValueError(f"`criterion` must be one of {CRITERIA}. Received: criterion={criterion!r}")


def _gradient_batches(criterion: str, weight: np.ndarray, gradients) -> list:
    batches = [] if gradients is None else (
        [gradients] if isinstance(gradients, np.ndarray) else list(gradients))
    if not batches or any(np.shape(g) != weight.shape for g in batches):
        shapes = [np.shape(g) for g in batches]
        raise ValueError(
            f"The {criterion!r} criterion needs the loss gradients of the weight on one or "
            f"more batches, each of shape {weight.shape}. Received: gradients of shapes "
            f"{shapes}. {data_advice('x, y')}.")
    return batches


def _taylor(weight: np.ndarray, batches: list, axis: int) -> np.ndarray:
    per_batch = [by_channel(weight * np.asarray(g, np.float64), axis).sum(axis=1)
                 for g in batches]
    return np.mean(np.square(per_batch), axis=0)


def taylor2_loss_change(weight: np.ndarray, gradients: list, axis: int,
                        curvature: np.ndarray | None = None) -> np.ndarray:
    """Per channel, the second-order Taylor change of the loss when the channel's weights
    are set to zero: `-g . w + 1/2 sum h w^2` (`g` the mean gradient over the batches, `h`
    `curvature`, default the mean squared gradient).

    Example:

    >>> w = np.array([[1.0, 2.0]])
    >>> taylor2_loss_change(w, [np.array([[0.5, -1.0]])], 1, np.array([[2.0, 1.0]])).tolist()
    [0.5, 4.0]
    """
    weight = np.asarray(weight, np.float64)
    gradients = np.asarray(gradients, np.float64)
    gradient = gradients.mean(axis=0)
    if curvature is None:
        curvature = np.mean(np.square(gradients), axis=0)
    elif np.shape(curvature) != weight.shape:
        raise ValueError(f"`curvature` must have the weight's shape {weight.shape}. "
                         f"Received: curvature of shape {np.shape(curvature)}")
    change = -gradient * weight + 0.5 * np.asarray(curvature, np.float64) * np.square(weight)
    return by_channel(change, axis).sum(axis=1)


def _live(groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """`scores` with the channels a mask removed (all weights zero) at 0."""
    return np.where(groups.any(axis=1), scores, 0.0)


def _l0(groups: np.ndarray) -> np.ndarray:
    l1 = np.abs(groups).sum(axis=1)
    return np.count_nonzero(groups, axis=1) + l1 / (1.0 + l1)


def _fpgm(groups: np.ndarray) -> np.ndarray:
    live = groups.any(axis=1)
    gram = groups @ groups.T
    square = np.diag(gram)
    distances = np.sqrt(np.maximum(square[:, None] + square[None, :] - 2 * gram, 0.0))
    return (distances * live[None, :]).sum(axis=1)


def _cosine(groups: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(groups, axis=1)
    unit = groups / np.where(norms > 0, norms, 1.0)[:, None]
    return 1.0 - _largest_over_stronger(np.abs(unit @ unit.T), norms)


def _largest_over_stronger(similarity: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Per channel, its largest similarity to a stronger channel (larger `strength`, or
    equal and earlier): of two redundant channels only the weaker is scored redundant."""
    n = strength.size
    order = np.lexsort((np.arange(n), -strength))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    stronger = rank[None, :] < rank[:, None]
    return np.where(stronger, similarity, 0.0).max(axis=1, initial=0.0)


_WEIGHT_REDUNDANCY = {"l0": _l0, "fpgm": _fpgm, "cosine": _cosine}


def _activation_score(criterion: str, activity, channels: int) -> np.ndarray:
    if activity is None or np.shape(activity.mean) != (channels,):
        shape = None if activity is None else np.shape(activity.mean)
        raise ValueError(
            f"The {criterion!r} criterion needs the layer's output statistics for each of "
            f"its {channels} channels. Received: statistics of shape {shape}. "
            f"{data_advice('x, y' if criterion in LABEL_CRITERIA else 'x')}.")
    if criterion == "apoz":
        return 1.0 - np.asarray(activity.zero_fraction, np.float64)
    if criterion == "mean_activation":
        return np.asarray(activity.mean, np.float64)
    pooled = np.asarray(activity.pooled, np.float64)
    if len(pooled) < 2:
        raise ValueError(
            f"The {criterion!r} criterion compares a channel's outputs across examples, "
            "which needs at least 2 of them. Received: `data` with "
            f"{len(pooled)} example(s); pass more to kerasprune.CriterionData.")
    if criterion == "correlation":
        return _correlation(pooled)
    if criterion == "entropy":
        return np.array([_entropy(column) for column in pooled.T])
    if activity.labels is None:
        raise ValueError(
            "The 'lda' criterion needs the labels of the data sample: pass "
            "`data=kerasprune.CriterionData(x, y)` with the targets `y`.")
    return _lda(pooled, np.asarray(activity.labels))


def _correlation(pooled: np.ndarray) -> np.ndarray:
    std = pooled.std(axis=0)
    centered = (pooled - pooled.mean(axis=0)) / np.where(std > 0, std, 1.0)
    correlation = np.abs(centered.T @ centered) / max(pooled.shape[0], 1)
    return np.where(std > 0, 1.0 - _largest_over_stronger(correlation, std), 0.0)


def _entropy(values: np.ndarray) -> float:
    low, high = float(values.min()), float(values.max())
    if not high > low:
        return 0.0
    counts = np.histogram(values, bins=ENTROPY_BINS, range=(low, high))[0]
    p = counts[counts > 0] / values.size
    return float(-(p * np.log(p)).sum())


def _lda(pooled: np.ndarray, labels: np.ndarray) -> np.ndarray:
    mean = pooled.mean(axis=0)
    between = np.zeros(pooled.shape[1])
    within = np.zeros(pooled.shape[1])
    for label in np.unique(labels):
        rows = pooled[labels == label]
        class_mean = rows.mean(axis=0)
        between += rows.shape[0] * np.square(class_mean - mean)
        within += np.square(rows - class_mean).sum(axis=0)
    return np.divide(between, within, out=np.where(between > 0, 1e12, 0.0), where=within > 0)


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
