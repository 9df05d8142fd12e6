"""Structured mask patterns: whole output channels (`Channels`) and N:M sparsity (`NM`).

Both plug into `kerasprune.prune(model, pattern=...)`, so the GMP `PruningCallback`, the
IMP callbacks and `update_masks` prune whole channels or N:M groups with the same
schedules as unstructured pruning. Channels pruned this way are then physically removed
by `kerasprune.shrink`.
"""

from __future__ import annotations

import warnings

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.patterns import LaidOut, MaskPattern
from kerasprune.core.registry import named_variables, prunable_weight_names
from kerasprune.core.validation import check_choice, is_bool, is_int, is_number
from kerasprune.structured.criteria import (
    ACTIVATION_CRITERIA,
    CRITERIA,
    GRADIENT_CRITERIA,
    LABEL_CRITERIA,
    by_channel,
    channel_axis,
    channel_scores,
)
from kerasprune.structured.group_selection import select_groups, select_layers

NORMALIZATIONS = ("none", "size", "layer")
COMBINATIONS = ("mean", "sum", "max")
TARGETS = ("channels", "flops", "params", "latency")
#: The keys of a `tflite_export.LatencyTable` config (`latency_table` given as a dict).
LATENCY_TABLE_KEYS = ("path", "num_threads", "xnnpack", "runs", "warmup", "verbose")


@keras.saving.register_keras_serializable(package="kerasprune")
class Channels(MaskPattern):
    """Prune whole output channels: conv filters, Dense units, depthwise channels, heads.

    With `groups=True` (the default) channels are chosen by channel group over the
    model's graph (see `kerasprune.channel_groups`): the convolutions whose outputs an
    `Add` joins lose the same channels, a depthwise conv loses the channels its input
    conv loses, and so on, so that `kerasprune.shrink` can remove every pruned channel.
    A channel's bias is masked with it. Each layer scores its own channels by
    `criterion`; a group's score is the `combine` of its members' scores. A pruned layer
    with no group that can be removed exactly (its channels reach a model output, an
    opaque layer, ...) is left whole, with a `LayersLeftWholeWarning` naming it.
    With `groups=False` each layer's channels are chosen on their own (subclassed models,
    which have no graph to follow, are always pruned that way).

    Args:
        criterion: from the weights: `"l1"`, `"l2"`, `"l0"` (nonzero count), `"fpgm"`
            (geometric median), `"cosine"` (collinear filters), `"random"`; from loss
            gradients (`data=CriterionData(x, y)` on the pruning callback): `"taylor"`,
            `"taylor2"` (second order); from the layer's outputs (`data=CriterionData(x)`):
            `"apoz"`, `"mean_activation"`, `"correlation"`, `"entropy"`, and `"lda"`
            (needs labels: `CriterionData(x, y)`). See
            `kerasprune.structured.criteria`.
        normalize: `"size"` divides each score by the channel's weight count (mean |w|
            for L1), `"layer"` divides the layer's scores by their L2 norm (Molchanov et
            al.), `"none"` keeps raw scores. Irrelevant in layer scope.
        min_channels: channels of each layer never pruned (the highest-scoring ones get an
            infinite score; see the report for the selection rule this relies on).
        max_fraction: at most this fraction of each layer's channels is pruned.
        groups: choose channels by coupled group over the model graph.
        combine: how a group's score combines its members' scores: `"mean"` (default:
            groups of many layers compete fairly with single layers), `"sum"` or `"max"`.
        target: what `sparsity` measures: `"channels"` (the fraction of channels pruned),
            `"flops"` or `"params"` (groups are pruned until the multiply-accumulates or
            parameters of the layers kerasprune follows are at most `1 - sparsity` of the
            dense model's), or `"latency"` (until the model's latency, predicted from
            `latency_table`, is at most `1 - sparsity` of the dense model's, groups
            ranked by importance per microsecond saved). Needs `groups=True`.
        seed: seed of the `"random"` criterion.
        latency_table: for `target="latency"`: a callable taking a list of
            `kerasprune.structured.latency_cost.LatencyRequest` (one layer alone, with
            some of its channels) and returning microseconds, one per request. Default:
            `tflite_export.latency_table.LatencyTable()`, measured once on this machine
            with LiteRT's interpreter and cached on disk. A table with `get_config`
            (such as `LatencyTable`) is saved with the pattern; any other callable is
            replaced by the default table when a saved model is loaded.

    Example:

    >>> import numpy as np
    >>> kernel = np.array([[1.0, 0.1, -3.0], [1.0, 0.1, 3.0]])
    >>> pattern = Channels("l1")
    >>> scores, sizes = pattern.group_scores(kernel)
    >>> sizes.tolist()
    [2, 2, 2]
    >>> pattern.expand(np.array([True, False, True]), kernel.shape).tolist()
    [[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]
    """

    def __init__(
        self,
        criterion: str = "l1",
        *,
        normalize: str = "size",
        min_channels: int = 1,
        max_fraction: float = 1.0,
        groups: bool = True,
        combine: str = "mean",
        target: str = "channels",
        seed: int = 0,
        latency_table=None,
    ):
        check_choice("criterion", criterion, CRITERIA)
        check_choice("normalize", normalize, NORMALIZATIONS)
        check_choice("combine", combine, COMBINATIONS)
        check_choice("target", target, TARGETS)
        if not is_int(min_channels) or min_channels < 0:
            raise ValueError(
                f"`min_channels` must be an int >= 0. Received: min_channels={min_channels!r}"
            )
        if not is_number(max_fraction) or not 0 < max_fraction <= 1:
            raise ValueError(
                f"`max_fraction` must be a number in (0, 1]. Received: max_fraction={max_fraction!r}"
            )
        if not is_bool(groups):
            raise TypeError(f"`groups` must be True or False. Received: groups={groups!r}")
        if target != "channels" and not groups:
            raise ValueError(
                f"`target={target!r}` needs groups=True (the cost is the model's). "
                f"Received: target={target!r}, groups=False"
            )
        if latency_table is not None and not (callable(latency_table)
                                              or isinstance(latency_table, dict)):
            raise TypeError(
                "`latency_table` must be a callable (requests -> microseconds), a table's "
                f"config, or None. Received: latency_table={latency_table!r}")
        if latency_table is not None and target != "latency":
            raise ValueError(
                "`latency_table` is read by target='latency' only; with "
                f"target={target!r} it would be ignored. Received: target={target!r}, "
                f"latency_table={latency_table!r}")
        unknown = sorted(set(latency_table) - set(LATENCY_TABLE_KEYS), key=str) if isinstance(
            latency_table, dict) else []
        if unknown:
            raise ValueError(
                f"`latency_table` as a config takes the keys {list(LATENCY_TABLE_KEYS)} of "
                f"tflite_export.LatencyTable. Received: unknown keys {unknown}")
        if not is_int(seed) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0. Received: seed={seed!r}")
        self.criterion = criterion
        self.normalize = normalize
        self.min_channels = min_channels
        self.max_fraction = float(max_fraction)
        self.groups = groups
        self.combine = combine
        self.target = target
        self.seed = seed
        self.latency_table = latency_table

    #: Structured: `prune` masks the BatchNormalization after a channel-pruned layer too.
    prunes_channels = True

    @property
    def needs_gradients(self) -> bool:
        return self.criterion in GRADIENT_CRITERIA

    @property
    def needs_activations(self) -> bool:
        return self.criterion in ACTIVATION_CRITERIA

    @property
    def needs_labels(self) -> bool:
        return self.criterion in LABEL_CRITERIA

    @property
    def selects_over_model(self) -> bool:
        return self.groups

    def weight_names(self, layer):
        names = prunable_weight_names(layer)
        if self.groups and names and "bias" in named_variables(layer):
            return list(names) + ["bias"]
        return None

    def select_over_model(self, model, wrappers, sparsity, final, selector):
        if _compat.functional_graph(model) is None:
            warnings.warn(
                f"Model '{model.name}' has no graph of layers (it is subclassed): its "
                "channels are chosen layer by layer, not by coupled group, and shrink "
                "cannot rebuild it.", stacklevel=user_stacklevel())
            return select_layers(wrappers, sparsity, final, selector)
        return select_groups(model, wrappers, sparsity, final, selector)

    def scores_along(self, weight, axis: int, gradients=None, activations=None) -> np.ndarray:
        """One normalized score per channel of `weight` along `axis`."""
        weight = np.asarray(weight)
        scores = channel_scores(weight, self.criterion, axis=axis, gradients=gradients,
                                activations=activations, seed=self.seed)
        return self._normalized(scores, weight)

    def learned_along(self, score, axis: int) -> np.ndarray:
        """One normalized score per channel from a learned score per weight (movement
        scores, gate probabilities): the sum over the channel, normalized as the
        criterion's scores are."""
        score = np.asarray(score, np.float64)
        return self._normalized(by_channel(score, axis).sum(axis=1), score)

    def protect_learned(self, scores: np.ndarray) -> np.ndarray:
        """`protect` for learned scores, which may be negative (`protect` leaves channels
        scored <= 0 unprotected): the same channels are protected, by rank."""
        scores = np.asarray(scores, np.float64)
        if not scores.size:
            return scores
        protected = np.isinf(self.protect(scores - scores.min() + 1.0))
        return np.where(protected, np.inf, scores)

    def learned_scores(self, score):
        score = np.asarray(score)
        axis = channel_axis(score.shape)
        sizes = np.full(score.shape[axis], score.size // score.shape[axis], dtype=np.int64)
        return self.protect_learned(self.learned_along(score, axis)), sizes

    def _normalized(self, scores: np.ndarray, weight: np.ndarray) -> np.ndarray:
        if self.normalize == "size":
            scores = scores / (weight.size // scores.size)
        elif self.normalize == "layer":
            norm = np.linalg.norm(scores)
            scores = scores / norm if norm > 0 else scores
        return scores

    def protect(self, scores: np.ndarray) -> np.ndarray:
        """`scores` with the channels the per-layer caps keep set to `+inf`."""
        kept = max(self.min_channels, scores.size - int(np.floor(self.max_fraction * scores.size)))
        if not kept:
            return scores
        protected = np.argsort(-scores, kind="stable")[:kept]
        scores = scores.astype(np.float64)
        scores[protected[scores[protected] > 0]] = np.inf
        return scores

    def group_scores(self, weight, gradients=None, activations=None):
        weight = np.asarray(weight)
        axis = channel_axis(weight.shape)
        sizes = np.full(weight.shape[axis], weight.size // weight.shape[axis], dtype=np.int64)
        return self.protect(self.scores_along(weight, axis, gradients, activations)), sizes

    def pruned_groups(self, mask):
        return ~channels_kept(mask)

    def expand(self, keep, shape):
        axis = channel_axis(tuple(shape))
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(keep.reshape(view), shape).astype(np.float32)

    def group_ids(self, shape):
        axis = channel_axis(tuple(shape))
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(np.arange(shape[axis]).reshape(view), shape).copy()

    def latency_model(self):
        """The latency table `target="latency"` predicts with (the default one, measured
        on this machine, made on first use)."""
        if self.latency_table is None or isinstance(self.latency_table, dict):
            from tflite_export.latency_table import LatencyTable

            self.latency_table = LatencyTable.from_config(self.latency_table or {})
        return self.latency_table

    def get_config(self):
        table = self.latency_table
        if table is not None and not isinstance(table, dict):
            table = table.get_config() if hasattr(table, "get_config") else None
        config = {"criterion": self.criterion, "normalize": self.normalize,
                  "min_channels": self.min_channels, "max_fraction": self.max_fraction,
                  "groups": self.groups, "combine": self.combine, "target": self.target,
                  "seed": self.seed}
        return config if table is None else {**config, "latency_table": table}

    def __repr__(self) -> str:
        return f"Channels({self.criterion!r})"


@keras.saving.register_keras_serializable(package="kerasprune")
class NM(LaidOut):
    """N:M sparsity: at most `n` nonzeros in every `m` consecutive weights of the input axis.

    Groups are runs of `m` consecutive entries along the input axis (the reduction axis:
    axis -2 of a Dense kernel `[in, out]`, the input channels of a conv kernel
    `[..., in, out]`, the hidden axis of an attention query kernel `[hidden, heads, dim]`,
    the pruned layer's own input axis, see `LaidOut`), the layout of 2:4 sparse tensor
    cores. Each weight is scored by its magnitude rank inside its run, so the selection
    prunes the smallest weight of every run first: at the target sparsity `1 - n/m`
    (0.5 for 2:4) every run keeps exactly `n` weights, and a gradual schedule passes
    through (m-1):m, (m-2):m, ... on the way. Targets above `1 - n/m` are not N:M.

    Args:
        n: weights kept per run, 1 <= n < m.
        m: run length; must divide the input axis of every pruned kernel.

    Example:

    >>> import numpy as np
    >>> w = np.array([[4.0], [-1.0], [3.0], [0.5]])
    >>> NM(2, 4).group_scores(w)[0].round(2).tolist()
    [3.5, 1.12, 2.38, 0.06]
    """

    pools_weights = True

    def __init__(self, n: int = 2, m: int = 4):
        if not (is_int(n) and is_int(m)) or not 1 <= n < m:
            raise ValueError(f"Expected ints with 1 <= n < m. Received: n={n!r}, m={m!r}")
        self.n, self.m = int(n), int(m)

    @property
    def sparsity(self) -> float:
        """The sparsity at which every run has exactly `n` nonzeros."""
        return 1.0 - self.n / self.m

    def check_shape(self, shape):
        laid = self.laid_shape(shape)
        if len(shape) < 2 or laid[-2] % self.m:
            axis = len(shape) - 2 if self.axes is None else self.axes[-2]
            raise ValueError(
                f"NM({self.n}, {self.m}) needs a kernel whose input axis ({axis}) is a "
                f"multiple of {self.m}. Received: shape={tuple(shape)}"
            )

    def _runs(self, array: np.ndarray) -> np.ndarray:
        """`array` (in the weight's layout) as `(runs, m)`, runs along the input axis."""
        self.check_shape(array.shape)
        moved = np.moveaxis(self.laid(array), -2, -1)
        return moved.reshape(-1, self.m)

    def group_scores(self, weight, gradients=None, activations=None):
        magnitude = np.abs(self._runs(np.asarray(weight, dtype=np.float64)))
        rank = np.argsort(np.argsort(magnitude, axis=1, kind="stable"), axis=1)
        peak = magnitude.max(axis=1, keepdims=True)
        # The rank dominates; the magnitude in [0, 1) orders runs at the same rank.
        fraction = np.divide(magnitude, peak * 2, out=np.zeros_like(magnitude), where=peak > 0)
        scores = rank + fraction
        return self._unruns(scores, np.shape(weight)).ravel(), np.ones(scores.size, np.int64)

    def _unruns(self, runs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The inverse of `_runs`, for a weight of `shape` (its own layout)."""
        laid = self.laid_shape(shape)
        moved_shape = laid[:-2] + (laid[-1], laid[-2])
        return self.unlaid(np.moveaxis(runs.reshape(moved_shape), -1, -2))

    def pruned_groups(self, mask):
        return np.asarray(mask).ravel() == 0

    def learned_scores(self, score):
        # Ranked inside the runs as magnitudes are: shifted to be positive, same order.
        score = np.asarray(score, np.float64)
        return self.group_scores(score - score.min() + 1.0 if score.size else score)

    def expand(self, keep, shape):
        return keep.reshape(shape).astype(np.float32)

    def group_ids(self, shape):
        """The runs of `m` consecutive inputs: a penalty pushes whole runs to zero."""
        runs = np.repeat(np.arange(int(np.prod(shape)) // self.m), self.m).reshape(-1, self.m)
        self._runs(np.zeros(shape))  # the same shape check as the selection
        return self._unruns(runs, tuple(shape))

    def get_config(self):
        return {"n": self.n, "m": self.m}

    def __repr__(self) -> str:
        return f"NM({self.n}, {self.m})"


def channels_kept(mask: np.ndarray) -> np.ndarray:
    """Boolean vector over output channels: True where the mask keeps any weight.

    Example:

    >>> channels_kept(np.array([[1.0, 0.0], [1.0, 0.0]])).tolist()
    [True, False]
    """
    mask = np.asarray(mask)
    return by_channel(mask, channel_axis(mask.shape)).any(axis=1)
