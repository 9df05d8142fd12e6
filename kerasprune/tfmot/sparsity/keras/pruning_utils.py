"""TFMOT's m-by-n helpers: checking a mask's pattern, reading a pair of ints.

TFMOT's `sparsity_m_by_n=(m, n)` puts `m` zeros in every `n` consecutive weights along
the input-channel axis, the last axis of TFLite's layout: a Dense kernel `[in, out]`
becomes `[out, in]`, a Conv2D kernel `[h, w, in, out]` becomes `[out * h * w, in]`.
"""

from __future__ import annotations

import numpy as np


def convert_to_tuple_of_two_int(value, name: str) -> tuple[int, int]:
    """`value` as a tuple of 2 ints, or `ValueError` naming the argument `name`.

    Example:

    >>> convert_to_tuple_of_two_int([2, 4], "sparsity_m_by_n")
    (2, 4)
    """
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair
    ):
        raise ValueError(
            f"`{name}` must be a tuple or list of 2 integers. Received: {name}={value!r}"
        )
    return int(pair[0]), int(pair[1])


def rows_for_m_by_n(weights: np.ndarray) -> np.ndarray:
    """A rank-2 or rank-4 kernel as TFLite's rows: `[out, in]` or `[out * h * w, in]`.

    Example:

    >>> rows_for_m_by_n(np.zeros((3, 3, 8, 16))).shape
    (144, 8)
    """
    weights = np.asarray(weights)
    if weights.ndim == 2:
        return weights.T
    if weights.ndim == 4:
        return np.transpose(weights, (3, 0, 1, 2)).reshape(-1, weights.shape[2])
    raise ValueError(
        "m-by-n sparsity applies to rank-2 (Dense) and rank-4 (Conv2D) kernels. "
        f"Received: a weight of shape {weights.shape}"
    )


def is_pruned_m_by_n(weights, m_by_n=(2, 4), last_channel: str = "C_OUT") -> bool:
    """True when every `n` consecutive weights along the last TFLite axis hold `m` zeros.

    Args:
        weights: a kernel (array, tensor or variable).
        m_by_n: `(m, n)`: at least `m` zeros in every `n` consecutive values.
        last_channel: `"C_OUT"` (Keras layout, rearranged to TFLite's first) or `"C_IN"`
            (already in TFLite's layout).

    Example:

    >>> is_pruned_m_by_n(np.array([[1.0, 0.0, 0.0, 2.0]]).T)
    True
    """
    zeros, run = convert_to_tuple_of_two_int(m_by_n, "m_by_n")
    if zeros > run:
        raise ValueError(
            f"`m_by_n` = (m, n) needs m <= n. Received: m_by_n={m_by_n!r}"
        )
    weights = np.asarray(weights)
    if last_channel.endswith("C_IN"):
        rows = weights.reshape(-1, weights.shape[-1])
    elif last_channel.endswith("C_OUT"):
        rows = rows_for_m_by_n(weights)
    else:
        raise ValueError(
            f"`last_channel` must be 'C_IN' or 'C_OUT'. Received: last_channel={last_channel!r}"
        )
    kept = run - zeros
    for start in range(0, rows.shape[1], run):
        if (np.count_nonzero(rows[:, start:start + run], axis=1) > kept).any():
            return False
    return True
