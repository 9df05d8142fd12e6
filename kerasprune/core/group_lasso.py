"""`GroupLasso`: the group-lasso penalty over a mask pattern's groups, as a Keras regularizer.

Penalty-based pruning trains with a penalty that drives whole groups of weights toward
zero, then removes the groups whose norm has fallen below a threshold. The groups are
the pattern's: single weights for `Unstructured` (the penalty is then L1), blocks for
`Blocks`, output channels for `Channels`, runs of `m` inputs for `NM`. The penalty is

    strength * sum over groups g of sqrt(|g|) * ||w_g||_2

(Yuan & Lin's weighting by the square root of the group size), so a group's cost per
weight matches L1's and one `strength` means the same for every pattern. `group_rms`
gives the norm the removal threshold is compared with: `||w_g||_2 / sqrt(|g|)`, in the
units of a weight's magnitude.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.core import patterns as patterns_lib
from kerasprune.core.validation import check_positive

_EPSILON = 1e-12  # keeps the norm's gradient finite at zero


@keras.saving.register_keras_serializable(package="kerasprune")
class GroupLasso(keras.regularizers.Regularizer):
    """Group-lasso penalty over the groups of `pattern` (L1 for unstructured weights).

    Usually attached by `kerasprune.prune(model, penalty=strength)`, which gives every
    pruned weight the penalty over its own pattern's groups; usable as any layer's
    `kernel_regularizer` too.

    Args:
        strength: the penalty's factor (> 0).
        pattern: a `kerasprune.MaskPattern` whose groups are penalized (default:
            unstructured, i.e. L1).

    Example:

    >>> import numpy as np, kerasprune
    >>> w = np.array([[3.0, 0.0], [4.0, -1.0]], "float32")
    >>> round(float(GroupLasso(0.1)(w)), 4)  # L1: 0.1 * (3 + 4 + 1)
    0.8
    >>> round(float(GroupLasso(0.1, kerasprune.Channels())(w)), 4)  # 0.1 * sqrt(2) * (5 + 1)
    0.8485
    """

    def __init__(self, strength: float, pattern: "patterns_lib.MaskPattern | dict | None" = None):
        self.strength = check_positive("strength", strength)
        self.pattern = patterns_lib.get(pattern)
        self._groups: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, x):
        ids, sizes = self._groups_of(tuple(x.shape))
        if np.all(sizes == 1):
            return self.strength * keras.ops.sum(keras.ops.abs(x))
        squares = keras.ops.segment_sum(
            keras.ops.reshape(keras.ops.square(x), (-1,)), ids.ravel(), num_segments=sizes.size
        )
        norms = keras.ops.sqrt(squares + _EPSILON)
        return self.strength * keras.ops.sum(np.sqrt(sizes).astype("float32") * norms)

    def _groups_of(self, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
        if shape not in self._groups:
            ids = self.pattern.group_ids(shape).astype("int32")
            self._groups[shape] = (ids, np.bincount(ids.ravel()))
        return self._groups[shape]

    def get_config(self) -> dict:
        return {"strength": self.strength,
                "pattern": keras.saving.serialize_keras_object(self.pattern)}


def group_rms(pattern, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(rms per group, group id per weight)`: each group's norm over sqrt(its size).

    Example:

    >>> import kerasprune
    >>> rms, ids = group_rms(kerasprune.Channels(), np.array([[3.0, 0.0], [4.0, 0.0]]))
    >>> rms.round(3).tolist(), ids.tolist()
    ([3.536, 0.0], [[0, 1], [0, 1]])
    """
    weight = np.asarray(weight, dtype=np.float64)
    ids = pattern.group_ids(weight.shape)
    squares = np.bincount(ids.ravel(), weights=np.square(weight).ravel())
    sizes = np.bincount(ids.ravel())
    return np.sqrt(squares / sizes), ids


class AddedPenalty:
    """A variable's regularizer plus a penalty, the way `MaskConstraint` adds a mask.

    `inner` is the regularizer the variable had (the layer's own, or None), restored when
    the wrapper removes its penalty.
    """

    def __init__(self, penalty: GroupLasso, inner=None):
        self.penalty = penalty
        self.inner = inner

    def __call__(self, x):
        value = self.penalty(x)
        return value if self.inner is None else value + self.inner(x)
