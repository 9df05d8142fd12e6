"""One validator per concept: a sparsity, a count, a learning rate, a choice.

Every public entry point checks its arguments with these functions, before any state
changes, so the same mistake gets the same message everywhere: the argument's name, the
value received and what is allowed, in Keras' style (`... Received: name=value`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable


def is_number(value: Any) -> bool:
    """True for real numbers (Python or numpy scalars), False for bools and strings.

    Example:

    >>> import numpy as np
    >>> is_number(np.float32(0.5)), is_number(True), is_number("0.5")
    (True, False, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """True for integers (Python or numpy), False for bools.

    Example:

    >>> import numpy as np
    >>> is_int(np.int64(3)), is_int(3.0), is_int(False)
    (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_sparsity(name: str, value: Any, *, allow_zero: bool = True) -> float:
    """A sparsity in [0, 1) (or (0, 1) when `allow_zero=False`); returns it as a float.

    Example:

    >>> check_sparsity("target_sparsity", 0.9)
    0.9
    >>> check_sparsity("target_sparsity", 1.0)
    Traceback (most recent call last):
    ...
    ValueError: `target_sparsity` must be a float in [0, 1). Received: target_sparsity=1.0
    """
    low = "[0, 1)" if allow_zero else "(0, 1)"
    ok = is_number(value) and math.isfinite(value) and 0.0 <= value < 1.0
    if not ok or (not allow_zero and value == 0):
        raise ValueError(f"`{name}` must be a float in {low}. Received: {name}={value!r}")
    return float(value)


def check_int(name: str, value: Any, *, minimum: int = 0) -> int:
    """An int >= `minimum`; returns it as a Python int.

    Example:

    >>> check_int("cycles", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: `cycles` must be an int >= 1. Received: cycles=0
    """
    if not is_int(value) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_learning_rate(name: str, value: Any, *, optional: bool = False) -> float | None:
    """A finite learning rate > 0 (or None when `optional`).

    Example:

    >>> check_learning_rate("pruning_learning_rate", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: `pruning_learning_rate` must be a finite float > 0. Received: pruning_learning_rate=-1.0
    """
    if value is None and optional:
        return None
    if not (is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(
            f"`{name}` must be a finite float > 0{' or None' if optional else ''}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_positive(name: str, value: Any, *, optional: bool = False) -> float | None:
    """A finite float > 0 (or None when `optional`): a strength, a threshold.

    Example:

    >>> check_positive("penalty", 0)
    Traceback (most recent call last):
    ...
    ValueError: `penalty` must be a finite float > 0. Received: penalty=0
    """
    if value is None and optional:
        return None
    if not (is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(
            f"`{name}` must be a finite float > 0{' or None' if optional else ''}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable) -> Any:
    """One of `choices`.

    Example:

    >>> check_choice("scope", "model", ("layer", "global"))
    Traceback (most recent call last):
    ...
    ValueError: `scope` must be one of ('layer', 'global'). Received: scope='model'
    """
    choices = tuple(choices)
    if isinstance(value, (list, dict, set)) or value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")
    return value


def check_update_every(value: Any) -> str | int:
    """`"epoch"` or an int number of steps >= 1.

    Example:

    >>> check_update_every(100), check_update_every("epoch")
    (100, 'epoch')
    """
    if value == "epoch" and isinstance(value, str):
        return value
    if not is_int(value) or value < 1:
        raise ValueError(
            "`update_every` must be 'epoch' or an int number of steps >= 1. "
            f"Received: update_every={value!r}"
        )
    return int(value)
