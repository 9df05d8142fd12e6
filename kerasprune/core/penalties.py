"""The penalties `kerasprune.prune(model, penalty=...)` attaches to every pruned weight.

Penalty-based pruning trains with a penalty that drives weights (or whole groups) toward
zero, then removes what fell below a threshold (`PenaltyPruningCallback`). A penalty is
given as:

- a float: `GroupLasso(strength)` over the pattern's groups (L1 for single weights);
- `ElasticNet(strength, l1_ratio)`: L1 plus L2 (Zou & Hastie 2005),
  `strength * (l1_ratio * sum |w| + (1 - l1_ratio) / 2 * sum w^2)`: the L2 part keeps
  correlated weights together instead of picking one of them;
- `SparseGroupLasso(strength, l1_ratio)`: group lasso plus L1 inside the groups (Simon et
  al. 2013), `strength * ((1 - l1_ratio) * sum_g sqrt(|g|) ||w_g|| + l1_ratio * sum |w|)`:
  whole groups go to zero, and single weights inside the groups that stay;
- `kerasprune.core.l0_gates.L0Gates(strength)`: hard-concrete gates per channel with an
  expected-L0 penalty (Louizos et al. 2018), not a weight regularizer: the wrapper holds
  the gates, `kerasprune.callbacks.l0_pruning_callback.L0PruningCallback` ends them.

Every penalty kind has `get_config` and takes the wrapper's pattern (`for_pattern`).
"""

from __future__ import annotations

import keras

from kerasprune.core import patterns as patterns_lib
from kerasprune.core.group_lasso import GroupLasso
from kerasprune.core.l0_gates import L0Gates
from kerasprune.core.validation import (
    check_positive, class_name_of, from_class_config, is_number)

#: The penalty kinds `prune(model, penalty=...)` takes besides a float.
KINDS = ("GroupLasso", "ElasticNet", "SparseGroupLasso", "L0Gates")


def _check_ratio(l1_ratio) -> float:
    if not (is_number(l1_ratio) and 0.0 <= l1_ratio <= 1.0):
        raise ValueError(f"`l1_ratio` must be a float in [0, 1]. Received: l1_ratio={l1_ratio!r}")
    return float(l1_ratio)


@keras.saving.register_keras_serializable(package="kerasprune")
class ElasticNet(keras.regularizers.Regularizer):
    """Elastic net: `strength * (l1_ratio * sum |w| + (1 - l1_ratio) / 2 * sum w^2)`.

    Zou & Hastie (2005), "Regularization and variable selection via the elastic net";
    sklearn's weighting of the two parts. It ignores the pattern (its groups are weights).

    Args:
        strength: the penalty's factor (> 0).
        l1_ratio: the L1 part's share, in [0, 1] (1: L1 alone, 0: L2 alone).

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> w = np.array([[3.0, 0.0], [4.0, -1.0]], "float32")
    >>> round(float(ElasticNet(0.1, l1_ratio=0.5)(w)), 4)  # 0.1 * (0.5 * 8 + 0.25 * 26)
    1.05
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
    ...                          penalty=ElasticNet(1e-3))
    >>> kerasprune.prune_wrappers(model)[0].penalized
    True
    """

    def __init__(self, strength: float, l1_ratio: float = 0.5):
        self.strength = check_positive("strength", strength)
        self.l1_ratio = _check_ratio(l1_ratio)

    def __call__(self, x):
        l1 = keras.ops.sum(keras.ops.abs(x))
        l2 = keras.ops.sum(keras.ops.square(x))
        return self.strength * (self.l1_ratio * l1 + (1.0 - self.l1_ratio) / 2 * l2)

    def for_pattern(self, pattern) -> "ElasticNet":
        """The same penalty (its groups are single weights whatever the pattern)."""
        return self

    def get_config(self) -> dict:
        return {"strength": self.strength, "l1_ratio": self.l1_ratio}


@keras.saving.register_keras_serializable(package="kerasprune")
class SparseGroupLasso(keras.regularizers.Regularizer):
    """Sparse group lasso: group lasso over the pattern's groups plus L1 inside them.

    `strength * ((1 - l1_ratio) * sum_g sqrt(|g|) ||w_g||_2 + l1_ratio * sum |w|)`, Simon,
    Friedman, Hastie & Tibshirani (2013), "A sparse-group lasso". The group part is
    `kerasprune.GroupLasso`'s (the same `sqrt(|g|)` weighting).

    Args:
        strength: the penalty's factor (> 0).
        l1_ratio: the L1 part's share, in [0, 1] (0: group lasso alone, 1: L1 alone).
        pattern: the `MaskPattern` whose groups are penalized (default: the pruned
            wrapper's, given by `prune`; unstructured when used alone).

    Example:

    >>> import numpy as np, kerasprune
    >>> w = np.array([[3.0, 0.0], [4.0, -1.0]], "float32")
    >>> penalty = SparseGroupLasso(0.1, l1_ratio=0.5, pattern=kerasprune.Channels())
    >>> round(float(penalty(w)), 4)  # 0.1 * (0.5 * sqrt(2) * (5 + 1) + 0.5 * 8)
    0.8243
    """

    def __init__(self, strength: float, l1_ratio: float = 0.5,
                 pattern: "patterns_lib.MaskPattern | dict | None" = None):
        self.strength = check_positive("strength", strength)
        self.l1_ratio = _check_ratio(l1_ratio)
        self.pattern = None if pattern is None else patterns_lib.get(pattern)
        self._groups = GroupLasso(1.0, self.pattern)

    def __call__(self, x):
        l1 = keras.ops.sum(keras.ops.abs(x))
        return self.strength * ((1.0 - self.l1_ratio) * self._groups(x) + self.l1_ratio * l1)

    def for_pattern(self, pattern) -> "SparseGroupLasso":
        """This penalty over `pattern`'s groups (its own pattern if it has one)."""
        if self.pattern is not None:
            return self
        return SparseGroupLasso(self.strength, self.l1_ratio, pattern)

    def get_config(self) -> dict:
        pattern = None if self.pattern is None else keras.saving.serialize_keras_object(
            self.pattern)
        return {"strength": self.strength, "l1_ratio": self.l1_ratio, "pattern": pattern}


def check_penalty(penalty):
    """None, a float > 0 (group lasso's strength) or a penalty kind, or a kind's config
    `{"class_name": "ElasticNet", "config": {"strength": 1e-4}}` (a recipe's spelling).

    Example:

    >>> check_penalty("l1")
    Traceback (most recent call last):
    ...
    ValueError: `penalty` must be None, a float > 0 (the strength of a group lasso) or one of GroupLasso, ElasticNet, SparseGroupLasso, L0Gates. Received: penalty='l1'
    """
    if penalty is None or isinstance(penalty, (GroupLasso, ElasticNet, SparseGroupLasso,
                                               L0Gates)):
        return penalty
    if class_name_of(penalty) in KINDS:
        return from_class_config("penalty", penalty, dict(zip(
            KINDS, (GroupLasso, ElasticNet, SparseGroupLasso, L0Gates))))
    if is_number(penalty):
        return check_positive("penalty", penalty)
    raise ValueError(
        "`penalty` must be None, a float > 0 (the strength of a group lasso) or one of "
        f"{', '.join(KINDS)}. Received: penalty={penalty!r}")


def weight_penalty(penalty, pattern):
    """The regularizer a wrapper adds to each pruned weight for `penalty` (checked), or
    None (no penalty, or gates, which are not a weight regularizer)."""
    if penalty is None or isinstance(penalty, L0Gates):
        return None
    if isinstance(penalty, float):
        return GroupLasso(penalty, pattern)
    if isinstance(penalty, GroupLasso):
        return penalty
    return penalty.for_pattern(pattern)


def penalty_config(penalty):
    """What a wrapper's config keeps: the float, or the penalty kind's serialized form."""
    if penalty is None or isinstance(penalty, float):
        return penalty
    return keras.saving.serialize_keras_object(penalty)

