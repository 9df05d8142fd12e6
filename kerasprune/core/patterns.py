"""Mask patterns: how the weights of one tensor are grouped before pruning.

A pattern turns a weight tensor into one score per group (and the number of weights
in each group), and turns a keep/prune decision per group back into a 0/1 mask of the
weight's shape. The selection of which groups to prune (layer or global scope, exact
counts, ties) lives in `kerasprune.core.selection` and is the same for every pattern.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import keras

from kerasprune.core import weight_criteria
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.deprecation import REMOVED_IN
from kerasprune.core.validation import (
    check_choice, check_shape, class_name_of, from_class_config)


POOLINGS = ("mean", "max")


class MaskPattern:
    """Base class of mask patterns.

    Subclasses implement `group_scores` and `expand`. Scores are importance values:
    the groups with the lowest scores are pruned first.

    Example:

    >>> import numpy as np
    >>> scores, sizes = Unstructured().group_scores(np.array([[1.0, -3.0]]))
    >>> scores.tolist(), sizes.tolist()
    ([1.0, 3.0], [1, 1])
    """

    #: True for criteria that need the loss gradients of the weight (Taylor, SNIP).
    needs_gradients = False
    #: True for criteria that need the layer's output on data (APoZ, mean activation).
    needs_activations = False
    #: True for criteria that need the sample's labels (LDA).
    needs_labels = False

    def group_scores(
        self,
        weight: np.ndarray,
        gradients: list[np.ndarray] | None = None,
        activations=None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return `(scores, sizes)`: one score and one weight count per group (1-D).

        `gradients` holds the loss gradient of `weight` on each of a few batches (used by
        patterns with `needs_gradients`); `activations` the `ChannelActivity` of the
        layer's output (used by patterns with `needs_activations`).
        """
        raise NotImplementedError

    def expand(self, keep: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Map a boolean keep-vector over groups to a 0/1 float mask of `shape`."""
        raise NotImplementedError

    #: True for patterns that group single weights, so that any weight criterion
    #: (`kerasprune.prune(model, criterion=...)`) can be pooled into their groups.
    pools_weights = False

    def pool(self, saliency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(scores, sizes)` of the groups from a non-negative saliency per weight (a
        weight criterion's), pooled as the pattern pools magnitudes."""
        return self.group_scores(saliency)

    def learned_scores(self, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(scores, sizes)` of the groups from a learned score per weight (any real
        number, higher = keep: movement scores, gate probabilities): each group's mean, so
        groups of different sizes compare fairly."""
        ids = self.group_ids(np.shape(score)).ravel()
        sizes = np.bincount(ids)
        return np.bincount(ids, weights=np.ravel(score).astype(np.float64)) / sizes, sizes

    def group_ids(self, shape: tuple[int, ...]) -> np.ndarray:
        """Int array of `shape`: the index of the group each weight belongs to.

        These are the groups a group-lasso penalty acts on (`kerasprune.GroupLasso`).
        """
        raise NotImplementedError(f"{type(self).__name__} does not define group_ids.")

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise `ValueError` if a weight of `shape` cannot be grouped by this pattern.

        Called when a `PruneWrapper` is built, so a mismatch shows before training.
        """

    def pruned_groups(self, mask: np.ndarray) -> np.ndarray:
        """Boolean vector over groups: True where `mask` keeps none of the group's weights.

        The default reads it off `group_scores(mask)`, right for magnitude scores;
        patterns whose scores are not magnitudes override it.
        """
        return self.group_scores(mask)[0] == 0

    #: True for patterns whose groups span layers (channels coupled through the model
    #: graph): `ToTarget` hands all their wrappers to `select_over_model` at once.
    selects_over_model = False

    def select_over_model(self, model, wrappers: list, sparsity: float, final: float,
                          selector):
        """Yield `(wrapper, masks)` for `wrappers` of `model`, chosen together for the
        model-wide target `sparsity` (`final`: the target at the end of pruning), with the
        criterion data and options of `selector` (a `ToTarget`)."""
        raise NotImplementedError

    def weight_names(self, layer) -> list[str] | None:
        """The weights of `layer` this pattern masks; None for its prunable kernels."""
        return None

    def along(self, axes: tuple[int, ...]) -> "MaskPattern":
        """This pattern for a weight whose axes, read in the order `axes`, are laid out
        `[..., in, out]` (`kerasprune.core.linear_views.pattern_axes`). Patterns whose
        groups do not depend on which axis is the input return themselves."""
        return self

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "MaskPattern":
        return cls(**config)


UNSTRUCTURED_CRITERIA = ("magnitude", "snip")


@keras.saving.register_keras_serializable(package="kerasprune")
class Unstructured(MaskPattern):
    """Every weight is its own group, scored by its criterion (the magnitude `|w|`).

    The weight criterion is chosen with `kerasprune.prune(model, criterion=...)`
    (magnitude, SNIP, OBD, Wanda; see `kerasprune.core.weight_criteria`), for this and
    every other weight pattern.

    Args:
        criterion: `"magnitude"`. `"snip"` is deprecated (it will be removed in
            kerasprune 0.4): use `kerasprune.prune(model, criterion="snip")` or
            `one_shot_prune(model, s, criterion="snip", data=(x, y))`.

    Example:

    >>> import numpy as np
    >>> Unstructured().expand(np.array([True, False]), (1, 2)).tolist()
    [[1.0, 0.0]]
    """

    pools_weights = True

    def __init__(self, criterion: str = "magnitude"):
        check_choice("criterion", criterion, UNSTRUCTURED_CRITERIA)
        if criterion == "snip":
            warnings.warn(
                "Unstructured('snip') is deprecated and will be removed in kerasprune "
                f"{REMOVED_IN}: use kerasprune.prune(model, criterion='snip') (any weight "
                "pattern) or one_shot_prune(model, s, criterion='snip', data=(x, y)).",
                DeprecationWarning, stacklevel=user_stacklevel())
        self.criterion = criterion

    @property
    def needs_gradients(self) -> bool:
        return self.criterion == "snip"

    def group_scores(self, weight, gradients=None, activations=None):
        weight = np.asarray(weight)
        if self.criterion == "snip":
            if not gradients or any(np.shape(g) != weight.shape for g in gradients):
                raise ValueError(
                    "The 'snip' criterion needs the loss gradients of the weight (each of "
                    f"shape {weight.shape}) on one or more batches. "
                    f"{weight_criteria.data_advice('x, y')}.")
            scores = np.abs(weight * np.sum(gradients, axis=0)).ravel()
        else:
            scores = np.abs(weight).ravel()
        # Every group is one weight: a read-only view of a single 1, not an array per weight.
        return scores, np.broadcast_to(np.int64(1), scores.shape)

    def pool(self, saliency):
        scores = np.asarray(saliency).ravel()
        return scores, np.broadcast_to(np.int64(1), scores.shape)

    def learned_scores(self, score):
        return self.pool(score)

    def pruned_groups(self, mask):
        return np.asarray(mask).ravel() == 0

    def expand(self, keep, shape):
        return keep.reshape(shape).astype(np.float32)

    def group_ids(self, shape):
        return np.arange(int(np.prod(shape))).reshape(shape)

    def get_config(self):
        return {"criterion": self.criterion}

    def __repr__(self) -> str:
        if self.criterion == "magnitude":
            return "Unstructured()"
        return f"Unstructured({self.criterion!r})"


class LaidOut(MaskPattern):
    """A pattern whose groups lie along a weight's input and output axes: taken as its
    last two axes, `[..., in, out]` (a Dense or convolution kernel), unless `along(axes)`
    gave the weight's own layout (an attention query kernel `[hidden, heads, dim]`, whose
    input axis is the first, is read as `[heads, hidden, dim]`).

    Example:

    >>> query = Blocks((4, 1)).along((1, 0, 2))   # [hidden, heads, dim]: 4 hidden entries
    >>> ids = query.group_ids((8, 2, 3))
    >>> ids[:, 0, 0].tolist()
    [0, 0, 0, 0, 3, 3, 3, 3]
    """

    #: The weight's axes in the order the pattern reads them (None: as they are).
    axes: tuple[int, ...] | None = None

    def along(self, axes):
        axes = tuple(int(a) for a in axes)
        if axes == tuple(range(len(axes))):
            return self
        laid = copy.copy(self)
        laid.axes = axes
        return laid

    def laid(self, array: np.ndarray) -> np.ndarray:
        """`array` (in the weight's layout) in the pattern's `[..., in, out]` layout."""
        return array if self.axes is None else np.transpose(array, self.axes)

    def unlaid(self, array: np.ndarray) -> np.ndarray:
        """The inverse of `laid`."""
        return array if self.axes is None else np.transpose(array, np.argsort(self.axes))

    def laid_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A weight's shape in the pattern's layout."""
        return tuple(shape) if self.axes is None else tuple(shape[a] for a in self.axes)


@keras.saving.register_keras_serializable(package="kerasprune")
class Blocks(LaidOut):
    """Blocks over the last axes of a weight, scored by the mean (or max) magnitude in it.

    `block_shape=(4, 1)` on a Dense kernel `[in, out]` groups 4 consecutive input rows
    of one output column: the layout TFLite's sparse FULLY_CONNECTED kernel runs
    (a 1x4 block in TFLite's `[out, in]` order). On a conv kernel `[h, w, in, out]` the
    block covers the `(in, out)` axes; on a pruned layer's kernel whose input axis is not
    the second last (an attention query `[hidden, heads, dim]`), the layer's own input and
    last output axes (`LaidOut`). Edge blocks of a dimension that the block does not
    divide are smaller; their size is counted exactly.

    Args:
        block_shape: tuple of positive ints, at most as many as the weight has axes.
        pooling: `"mean"` (default) or `"max"`: how a block's magnitudes become its score.

    Example:

    >>> import numpy as np
    >>> w = np.arange(8, dtype="float32").reshape(4, 2)
    >>> Blocks((2, 1)).group_scores(w)[0].tolist()
    [1.0, 2.0, 5.0, 6.0]
    """

    pools_weights = True

    def __init__(self, block_shape: tuple[int, ...], pooling: str = "mean"):
        self.block_shape = check_shape("block_shape", block_shape, "(4, 1)")
        check_choice("pooling", pooling, POOLINGS)
        self.pooling = pooling

    def _full_block(self, ndim: int) -> tuple[int, ...]:
        if len(self.block_shape) > ndim:
            raise ValueError(
                f"block_shape={self.block_shape} has more axes than a weight of rank {ndim}."
            )
        return (1,) * (ndim - len(self.block_shape)) + self.block_shape

    def _blocked(self, array: np.ndarray) -> np.ndarray:
        """Pad `array` to whole blocks and reshape to (groups, block elements)."""
        block = self._full_block(array.ndim)
        pads = [(0, -n % b) for n, b in zip(array.shape, block)]
        padded = np.pad(array, pads)
        split = []
        for n, b in zip(padded.shape, block):
            split += [n // b, b]
        tiled = padded.reshape(split)
        ndim = array.ndim
        order = list(range(0, 2 * ndim, 2)) + list(range(1, 2 * ndim, 2))
        return tiled.transpose(order).reshape(-1, int(np.prod(block)))

    def check_shape(self, shape):
        self._full_block(len(shape))

    def group_scores(self, weight, gradients=None, activations=None):
        weight = self.laid(np.asarray(weight))
        sizes = self._blocked(np.ones(weight.shape, dtype=np.int64)).sum(axis=1)
        magnitudes = np.abs(self._blocked(weight))
        if self.pooling == "max":
            return magnitudes.max(axis=1), sizes
        # Mean magnitude, so a smaller edge block competes fairly with whole blocks.
        return magnitudes.sum(axis=1) / sizes, sizes

    def expand(self, keep, shape):
        return self.unlaid(self._tile(keep, self.laid_shape(shape))).astype(np.float32)

    def group_ids(self, shape):
        shape = self.laid_shape(shape)
        block = self._full_block(len(shape))
        return self.unlaid(self._tile(
            np.arange(int(np.prod([-(-n // b) for n, b in zip(shape, block)]))), shape))

    def _tile(self, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """One value per block, repeated over the block's entries of `shape`."""
        block = self._full_block(len(shape))
        grid = [-(-n // b) for n, b in zip(shape, block)]
        tiled = values.reshape(grid)
        for axis, b in enumerate(block):
            tiled = np.repeat(tiled, b, axis=axis)
        return tiled[tuple(slice(0, n) for n in shape)]

    def get_config(self):
        return {"block_shape": list(self.block_shape), "pooling": self.pooling}

    def __repr__(self) -> str:
        pooling = "" if self.pooling == "mean" else f", pooling={self.pooling!r}"
        return f"Blocks({self.block_shape}{pooling})"


def _kerasprune_patterns() -> dict[str, type]:
    """`{class name: class}` of the patterns kerasprune registers with Keras."""
    return {
        name.partition(">")[2]: cls for name, cls in keras.saving.get_custom_objects().items()
        if name.startswith("kerasprune>") and isinstance(cls, type)
        and issubclass(cls, MaskPattern)
    }


def get(pattern: "MaskPattern | dict | None") -> MaskPattern:
    """Return a pattern from an instance, a serialized config or None (unstructured).

    Example:

    >>> get(None)
    Unstructured()
    """
    if pattern is None:
        return Unstructured()
    if isinstance(pattern, MaskPattern):
        return pattern
    if isinstance(pattern, dict):
        kinds = _kerasprune_patterns()
        if class_name_of(pattern) in kinds:  # also without Keras' registered name
            return from_class_config("pattern", pattern, kinds)
        return keras.saving.deserialize_keras_object(pattern)
    raise TypeError(
        "`pattern` must be a kerasprune.patterns.MaskPattern instance or None. "
        f"Received: pattern={pattern!r} of type {type(pattern).__name__}"
    )
