"""The one selection rule: which groups of weights of a pruning set to prune.

`select_pruned` is used everywhere: exactly `round(s * n)` weights pruned per set (to the
granularity of the groups), ties broken by position (the earlier group is pruned first),
already-pruned groups always stay pruned, and a k-th value selection (`np.partition`,
linear time) instead of a full sort. `masks_for_set` applies it to the weights of one or
more wrappers pruned together (one layer, or every global-scope layer).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def select_pruned(
    scores: np.ndarray, sizes: np.ndarray, already: np.ndarray, sparsity: float
) -> np.ndarray:
    """Return a boolean vector over groups: True where the group is pruned.

    Groups scored `+inf` are never pruned (a pattern's way to protect them), even if the
    target then cannot be met.

    Args:
        scores: importance per group (lowest pruned first), 1-D.
        sizes: number of weights in each group, 1-D.
        already: groups pruned before; they stay pruned whatever their score.
        sparsity: fraction of all weights (sum of `sizes`) to prune, in [0, 1].

    Example:

    >>> import numpy as np
    >>> select_pruned(np.array([3., 1., 1., 2.]), np.ones(4, int),
    ...               np.zeros(4, bool), 0.5).tolist()
    [False, True, True, False]
    """
    target = int(round(sparsity * int(sizes.sum())))
    # Select among the groups still alive only: selection over an array where most values
    # tie (the already-pruned ones) is many times slower.
    alive = np.flatnonzero(~already)
    left = target - int(sizes[already].sum())
    alive_scores, alive_sizes = scores[alive].astype(np.float64), sizes[alive]
    pruned = already.copy()
    if alive.size == 0 or left <= 0:
        return pruned
    if np.all(alive_sizes == alive_sizes[0]):
        chosen = _lowest_equal_size(alive_scores, int(round(left / alive_sizes[0])))
    else:
        chosen = _lowest_by_weight_count(alive_scores, alive_sizes, left)
    pruned[alive[chosen]] = True
    return pruned


def _lowest_equal_size(scores: np.ndarray, k: int) -> np.ndarray:
    pruned = np.zeros(scores.size, dtype=bool)
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return pruned
    if k >= scores.size:
        return ~pruned
    threshold = np.partition(scores, k - 1)[k - 1]
    pruned = scores < threshold
    ties = np.flatnonzero(scores == threshold)[: k - int(pruned.sum())]
    pruned[ties] = True
    return pruned


def _lowest_by_weight_count(scores: np.ndarray, sizes: np.ndarray, target: int) -> np.ndarray:
    # Groups of unequal size (edge blocks, channels of different fan-in): take the
    # lowest groups in order until the weight count is closest to the target.
    order = np.argsort(scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    counts = np.concatenate([[0], np.cumsum(sizes[order])])
    n_groups = int(np.argmin(np.abs(counts - target)))
    pruned = np.zeros(scores.size, dtype=bool)
    pruned[order[:n_groups]] = True
    return pruned


def masks_for_set(
    wrappers: list,
    sparsity: float,
    gradients: Mapping[str, list] | None = None,
    activations: Mapping[str, object] | None = None,
) -> list[list[np.ndarray]]:
    """New masks for the pruned weights of `wrappers`, pruned together as one set.

    `gradients` maps a weight's path to its loss gradients on a few batches, and
    `activations` to its layer's output statistics, for patterns that need them (Taylor,
    SNIP; APoZ, mean activation). Returns one list of masks per wrapper, in the order of
    `wrapper.pruned_weights`.
    """
    gradients, activations = gradients or {}, activations or {}
    entries = []  # (wrapper index, weight, old mask, pattern, gradients, activations)
    for i, wrapper in enumerate(wrappers):
        for weight, mask in zip(wrapper.pruned_weights, wrapper.masks):
            entries.append((i, np.asarray(weight), np.asarray(mask), wrapper.pattern,
                            gradients.get(weight.path), activations.get(weight.path)))
    scores, sizes, already = [], [], []
    for _, weight, mask, pattern, grads, acts in entries:
        s, n = pattern.group_scores(weight, grads, acts)
        scores.append(s)
        sizes.append(n)
        already.append(pattern.pruned_groups(mask))
    pruned = select_pruned(
        np.concatenate(scores), np.concatenate(sizes), np.concatenate(already), sparsity
    )
    result: list[list[np.ndarray]] = [[] for _ in wrappers]
    offset = 0
    for (i, weight, _, pattern, _, _), s in zip(entries, scores):
        keep = ~pruned[offset : offset + s.size]
        offset += s.size
        result[i].append(pattern.expand(keep, weight.shape).astype(weight.dtype))
    return result


