"""The k-th smallest of the alive entries of a large score vector, without copying it.

A copy-and-partition (`np.partition`) of a model's scores holds another 4 bytes per weight,
walks 100 MB arrays several times at random, and slows down badly when most values tie
(zeros that are not yet masked, e.g. restored weights). `kth_smallest` instead narrows an
interval `(lo, hi)` that must hold the answer: two pivots taken from a strided sample just
below and above the target rank, then counts over the array chunk by chunk (each chunk
stays in the cache) of the alive values below and equal to each pivot. A pivot that is the
answer (any mass of ties) ends the search at once; otherwise the interval keeps only the
values between the pivots, usually a fraction of a percent, and the search repeats. Once
few candidates are left they are copied and partitioned.
"""

from __future__ import annotations

import math

import numpy as np

_CHUNK = 1 << 18  # entries per chunk of a counting pass
_DIRECT = 1 << 18  # candidates few enough to copy and partition
_SAMPLE = 1 << 14  # strided sample size for the pivots


def kth_smallest(scores: np.ndarray, alive: np.ndarray | None, k: int) -> tuple[float, int]:
    """`(t, below)`: the `k`-th smallest (1-based) of `scores[alive]`, and how many
    alive scores are smaller than `t`.

    Args:
        scores: 1-D scores, no NaN.
        alive: boolean vector of the same length: the entries to select among
            (None: all of them).
        k: rank, 1 <= k <= number of alive entries.

    Example:

    >>> import numpy as np
    >>> kth_smallest(np.array([5.0, 1.0, 3.0, 3.0]), np.array([True, True, True, False]), 2)
    (np.float64(3.0), 1)
    """
    lo = hi = None  # the answer lies strictly between lo and hi (None: unbounded)
    below_lo = 0  # alive entries <= lo
    inside = scores.size if alive is None else int(np.count_nonzero(alive))  # in (lo, hi)
    while True:
        rank = k - below_lo
        sample = _sample(scores, alive, lo, hi) if inside > _DIRECT else None
        if sample is None or sample.size < 2:
            return _partition_inside(scores, alive, lo, hi, rank, below_lo)
        margin = 3.0 / math.sqrt(sample.size) + 1.0 / sample.size
        fraction = rank / inside
        p1 = sample[min(sample.size - 1, max(0, math.floor((fraction - margin) * sample.size)))]
        p2 = sample[min(sample.size - 1, max(0, math.ceil((fraction + margin) * sample.size)))]
        (lt1, eq1), (lt2, eq2) = _counts(scores, alive, lo, hi, [p1, p2])
        if rank <= lt1:
            hi, inside = p1, lt1
        elif rank <= lt1 + eq1:
            return p1, below_lo + lt1
        elif rank <= lt2:
            lo, hi, inside = p1, p2, lt2 - lt1 - eq1
            below_lo += lt1 + eq1
        elif rank <= lt2 + eq2:
            return p2, below_lo + lt2
        else:
            lo, inside = p2, inside - lt2 - eq2
            below_lo += lt2 + eq2


def _inside(values: np.ndarray, alive: np.ndarray | None, lo, hi) -> np.ndarray | None:
    """Alive entries of `values` in `(lo, hi)`; None when that is all of them."""
    mask = None if alive is None else alive.copy()
    for bound, keep in ((lo, np.greater), (hi, np.less)):
        if bound is not None:
            mask = keep(values, bound) if mask is None else mask & keep(values, bound)
    return mask


def _part(alive: np.ndarray | None, start: int) -> np.ndarray | None:
    return None if alive is None else alive[start : start + _CHUNK]


def _counts(scores, alive, lo, hi, pivots) -> list[tuple[int, int]]:
    """Among the alive entries in `(lo, hi)`: `(< p, == p)` for each pivot `p`."""
    counts = [[0, 0] for _ in pivots]
    for start in range(0, scores.size, _CHUNK):
        values = scores[start : start + _CHUNK]
        mask = _inside(values, _part(alive, start), lo, hi)
        for count, pivot in zip(counts, pivots):
            below, equal = values < pivot, values == pivot
            if mask is not None:
                below &= mask
                equal &= mask
            count[0] += int(np.count_nonzero(below))
            count[1] += int(np.count_nonzero(equal))
    return [tuple(c) for c in counts]


def _sample(scores, alive, lo, hi) -> np.ndarray:
    """Sorted alive scores in `(lo, hi)` at evenly spaced positions."""
    step = max(1, scores.size // _SAMPLE)
    values = scores[::step]
    mask = _inside(values, None if alive is None else alive[::step], lo, hi)
    return np.sort(values if mask is None else values[mask])


def _partition_inside(scores, alive, lo, hi, rank: int, below_lo: int) -> tuple[float, int]:
    parts = []
    for start in range(0, scores.size, _CHUNK):
        values = scores[start : start + _CHUNK]
        mask = _inside(values, _part(alive, start), lo, hi)
        parts.append(values.copy() if mask is None else values[mask])
    candidates = np.concatenate(parts) if parts else scores[:0].copy()
    candidates.partition(rank - 1)
    value = candidates[rank - 1]
    return value, below_lo + int(np.count_nonzero(candidates[: rank - 1] < value))
