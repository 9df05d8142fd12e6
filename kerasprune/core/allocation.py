"""How a model-wide target is shared among weight tensors: floors, ERK and LAMP.

- Floor (`min_density`): in every scope each pruned tensor keeps at least a fraction of its
  weights (at least one weight), unless the set's target itself leaves it less: a tensor is
  never asked to keep more than its uniform share `n - ceil(s * n)`, so the floors never
  make the set's exact target unreachable.
- ERK (Erdos-Renyi-Kernel, Evci et al. 2020, "Rigging the Lottery"): a tensor's density is
  proportional to (sum of its dims) / (product of its dims), so it keeps a number of
  weights proportional to the sum of its dims. Tensors whose density would exceed 1 stay
  dense and the rest is re-solved, so the set's total is exact.
- LAMP (Lee et al. 2021, "Layer-adaptive sparsity for the magnitude-based pruning"): each
  score `w_u^2` is divided by the sum of the squared scores of its tensor that are not
  smaller (`sum_{v >= u} w_v^2`, in ascending order); one global threshold then runs on
  these normalized scores. Every tensor's largest weight scores 1, so no tensor empties.
"""

from __future__ import annotations

import numpy as np

def floor_weights(counts: np.ndarray, sparsity: float, min_densities: np.ndarray) -> np.ndarray:
    """Weights each tensor keeps at least when its set is pruned to `sparsity`.

    `ceil(min_density * n)` (one weight at least when `min_density > 0` and the set can
    afford it), capped at the tensor's uniform share `n - ceil(sparsity * n)`.

    Example:

    >>> import numpy as np
    >>> floor_weights(np.array([1000, 10]), 0.9, np.array([0.01, 0.01])).tolist()
    [10, 1]
    """
    counts = np.asarray(counts, dtype=np.int64)
    share = counts - np.ceil(sparsity * counts).astype(np.int64)
    wanted = np.ceil(np.asarray(min_densities) * counts - 1e-9).astype(np.int64)
    floors = np.minimum(wanted, np.maximum(share, np.asarray(min_densities) > 0))
    budget = int(counts.sum()) - int(round(sparsity * int(counts.sum())))
    return floors if floors.sum() <= budget else np.minimum(wanted, share)


def erk_kept(factors, budget: int, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Weights each part keeps under ERK so that they keep `budget` in total.

    Part `t` keeps `clip(eps * factors[t], lower[t], upper[t])`, with `eps` solved so the
    total is `budget` (then rounded to integers by largest remainders). A weight tensor's
    factor is the sum of its dims (`erk_factor`): its density is proportional to the sum
    of its dims over their product. `upper` is the part's size (density capped at 1) or
    its alive weights when masks only grow.

    Example:

    >>> import numpy as np
    >>> shapes = [(100, 10), (10, 10)]
    >>> erk_kept([erk_factor(s) for s in shapes], 300, np.zeros(2, int),
    ...          np.array([1000, 100])).tolist()
    [254, 46]
    """
    lower = np.asarray(lower, np.int64)
    upper = np.maximum(np.asarray(upper, np.int64), lower)
    if budget <= lower.sum():
        return lower
    if budget >= upper.sum():
        return upper
    weights = np.asarray(factors, dtype=np.float64)
    kept = _solve_eps(weights, budget, lower, upper)
    whole = np.floor(kept).astype(np.int64)
    order = np.argsort(-(kept - whole), kind="stable")
    for t in order:  # largest remainders first
        if whole.sum() >= budget:
            break
        if whole[t] < upper[t]:
            whole[t] += 1
    return whole


def erk_factor(shape: tuple[int, ...]) -> float:
    """The ERK factor of a weight tensor: the sum of its dims."""
    return float(sum(shape))


def _solve_eps(weights: np.ndarray, budget: int, lower: np.ndarray,
               upper: np.ndarray) -> np.ndarray:
    low, high = 0.0, float(np.max(upper / np.maximum(weights, 1e-300)))
    for _ in range(200):  # bisection: the total is monotone in eps
        eps = (low + high) / 2
        if np.clip(eps * weights, lower, upper).sum() < budget:
            low = eps
        else:
            high = eps
    return np.clip(high * weights, lower, upper)


def lamp_scores(scores: np.ndarray) -> np.ndarray:
    """LAMP scores of one tensor's group scores (magnitudes), as float32.

    Groups scored `+inf` (protected by a pattern) stay `+inf`; equal magnitudes are
    ordered by position, the earlier one scoring lower.

    Example:

    >>> import numpy as np
    >>> [round(float(s), 3) for s in lamp_scores(np.array([1.0, 2.0, 2.0]))]
    [0.111, 0.5, 1.0]
    """
    scores = np.asarray(scores)
    result = np.full(scores.shape, np.inf, dtype=np.float32)
    finite = np.flatnonzero(scores < np.inf)
    squared = np.square(scores[finite], dtype=np.float64)
    order = np.argsort(squared, kind="stable")
    ascending = squared[order]
    suffix = np.cumsum(ascending[::-1])[::-1]
    normalized = ascending / np.where(suffix > 0, suffix, 1.0)  # all-zero tail: 0 / 1
    result[finite[order]] = normalized
    return result
