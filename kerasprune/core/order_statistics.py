"""The k-th smallest of the alive entries of large score vectors, without copying them.

A copy-and-partition (`np.partition`) of a model's scores holds another 4 bytes per weight,
walks 100 MB arrays several times at random, and slows down badly when most values tie
(zeros that are not yet masked, e.g. restored weights). `kth_smallest` instead narrows an
interval `(lo, hi)` that must hold the answer: two pivots taken from a random sample just
below and above the target rank, then counts over the arrays chunk by chunk (each chunk
stays in the cache) of the alive values up to the lower pivot and below the upper one.
Usually the answer lies between them and the interval keeps only those values, about 2%,
and the search repeats. Otherwise one more count tells whether a pivot is the answer (any
mass of ties ends the search then, without being copied) or bounds the interval. Once few
candidates are left they are copied and partitioned.

`kth_smallest_of_parts` answers the same question over several vectors taken together (the
weight tensors of a global-scope set) without concatenating them.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np

_CHUNK = 1 << 18  # entries per chunk of a counting pass
_DIRECT = 1 << 20  # candidates few enough to copy and partition (4 MB of float32)
_SAMPLE = 1 << 16  # random sample size for the pivots: one count leaves ~2% of the entries

Part = tuple[np.ndarray, "np.ndarray | None"]  # (scores, alive); alive None: all of them


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
    return kth_smallest_of_parts([(scores, alive)], k)


def kth_smallest_of_parts(parts: Sequence[Part], k: int) -> tuple[float, int]:
    """`kth_smallest` over the alive entries of all `parts` taken together.

    Args:
        parts: `(scores, alive)` pairs as for `kth_smallest`.
        k: rank, 1 <= k <= number of alive entries of all parts.

    Example:

    >>> import numpy as np
    >>> kth_smallest_of_parts([(np.array([4.0, 1.0]), None),
    ...                        (np.array([2.0, 3.0]), np.array([True, False]))], 3)
    (np.float64(4.0), 2)
    """
    lo = hi = None  # the answer lies strictly between lo and hi (None: unbounded)
    below_lo = 0  # alive entries <= lo
    inside = sum(s.size if a is None else int(np.count_nonzero(a)) for s, a in parts)
    while True:
        rank = k - below_lo
        sample = _sample(parts, lo, hi) if inside > _DIRECT else None
        if sample is None or sample.size < 2:
            return _partition_inside(parts, lo, hi, rank, below_lo)
        margin = 3.0 / math.sqrt(sample.size) + 1.0 / sample.size
        fraction = rank / inside
        p1 = sample[min(sample.size - 1, max(0, math.floor((fraction - margin) * sample.size)))]
        p2 = sample[min(sample.size - 1, max(0, math.ceil((fraction + margin) * sample.size)))]
        at_most_p1, below_p2 = _counts(parts, lo, hi, [(p1, np.less_equal), (p2, np.less)])
        if at_most_p1 < rank <= below_p2:  # the usual case: strictly between the pivots
            lo, hi, inside = p1, p2, below_p2 - at_most_p1
            below_lo += at_most_p1
        elif rank <= at_most_p1:  # p1 or below: one more count tells which
            (below_p1,) = [below_p2] if p1 == p2 else _counts(parts, lo, hi, [(p1, np.less)])
            if rank > below_p1:
                return p1, below_lo + below_p1
            hi, inside = p1, below_p1
        else:  # p2 or above
            (at_most_p2,) = _counts(parts, lo, hi, [(p2, np.less_equal)])
            if rank <= at_most_p2:
                return p2, below_lo + below_p2
            lo, inside = p2, inside - at_most_p2
            below_lo += at_most_p2


def _chunks(parts: Sequence[Part]) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """`(values, alive)` of every part, chunk by chunk, in order."""
    for scores, alive in parts:
        for start in range(0, scores.size, _CHUNK):
            yield (scores[start : start + _CHUNK],
                   None if alive is None else alive[start : start + _CHUNK])


def _inside(values: np.ndarray, alive: np.ndarray | None, lo, hi) -> np.ndarray | None:
    """Alive entries of `values` in `(lo, hi)`; None when that is all of them."""
    mask = None if alive is None else alive.copy()
    for bound, keep in ((lo, np.greater), (hi, np.less)):
        if bound is not None:
            mask = keep(values, bound) if mask is None else mask & keep(values, bound)
    return mask


def _counts(parts, lo, hi, tests) -> list[int]:
    """Among the alive entries in `(lo, hi)`: how many pass each `(pivot, compare)`."""
    counts = [0] * len(tests)
    for values, alive in _chunks(parts):
        mask = _inside(values, alive, lo, hi)
        for i, (pivot, compare) in enumerate(tests):
            passed = compare(values, pivot)
            if mask is not None:
                passed &= mask
            counts[i] += int(np.count_nonzero(passed))
    return counts


def _sample(parts, lo, hi) -> np.ndarray:
    """Sorted alive scores in `(lo, hi)` at random positions of all the parts.

    Random, not strided: a stride can alias with periodic scores (every 10th score
    non-zero, every 30th sampled: a sample holding none of the zeros, and a search
    that copies them all). The seed is fixed, so a search always takes the same path.
    """
    sizes = [s.size for s, _ in parts]
    total = sum(sizes)
    positions = np.sort(np.random.default_rng(0).integers(0, total, min(total, _SAMPLE)))
    ends = np.cumsum(sizes)
    bounds = np.searchsorted(positions, ends)
    taken = []
    for (scores, alive), end, size, first, last in zip(parts, ends, sizes,
                                                      [0, *bounds[:-1]], bounds):
        at = positions[first:last] - (end - size)
        values = scores[at]
        mask = _inside(values, None if alive is None else alive[at], lo, hi)
        taken.append(values if mask is None else values[mask])
    return np.sort(np.concatenate(taken))


def _partition_inside(parts, lo, hi, rank: int, below_lo: int) -> tuple[float, int]:
    taken = []
    for values, alive in _chunks(parts):
        mask = _inside(values, alive, lo, hi)
        taken.append(values if mask is None else values[mask])
    candidates = np.concatenate(taken)  # a copy, even of a single chunk
    candidates.partition(rank - 1)
    value = candidates[rank - 1]
    return value, below_lo + int(np.count_nonzero(candidates[: rank - 1] < value))
