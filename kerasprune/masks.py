"""Magnitude masks: pick the lowest-scoring groups of weights and prune them.

`select_pruned` is the one selection rule used everywhere: exactly `round(s * n)` weights
pruned per set (to the granularity of the groups), ties broken by position (the earlier
group is pruned first), already-pruned groups always stay pruned, and a k-th value
selection (`np.partition`, linear time) instead of a full sort.

`update_masks(model, sparsity)` is what callbacks call: it gathers the model's
`PruneWrapper` layers into pruning sets (one per layer, or one global set), computes new
masks and hands them to the wrappers, which apply them.
"""

from __future__ import annotations

import numpy as np

from kerasprune.model_walk import prune_wrappers


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


def masks_for_set(wrappers: list, sparsity: float) -> list[list[np.ndarray]]:
    """New masks for the pruned weights of `wrappers`, pruned together as one set.

    Returns one list of masks per wrapper, in the order of `wrapper.pruned_weights`.
    """
    entries = []  # (wrapper index, weight, old mask, pattern)
    for i, wrapper in enumerate(wrappers):
        for weight, mask in zip(wrapper.pruned_weights, wrapper.masks):
            entries.append((i, np.asarray(weight), np.asarray(mask), wrapper.pattern))
    scores, sizes, already = [], [], []
    for _, weight, mask, pattern in entries:
        s, n = pattern.group_scores(weight)
        scores.append(s)
        sizes.append(n)
        already.append(pattern.pruned_groups(mask))
    pruned = select_pruned(
        np.concatenate(scores), np.concatenate(sizes), np.concatenate(already), sparsity
    )
    result: list[list[np.ndarray]] = [[] for _ in wrappers]
    offset = 0
    for (i, weight, _, pattern), s in zip(entries, scores):
        keep = ~pruned[offset : offset + s.size]
        offset += s.size
        result[i].append(pattern.expand(keep, weight.shape).astype(weight.dtype))
    return result


def layer_target(wrapper, sparsity: float, final_sparsity: float) -> float:
    """The sparsity a wrapper should have when the model-wide target is `sparsity`.

    A wrapper with an absolute `sparsity_override` reaches it when the model reaches
    `final_sparsity`, and follows the schedule proportionally before that; a wrapper with
    a `sparsity_scale` gets that fraction of the model-wide target.
    """
    if wrapper.sparsity_override is not None:
        if final_sparsity <= 0:
            return 0.0
        return min(1.0, wrapper.sparsity_override * sparsity / final_sparsity)
    if wrapper.sparsity_scale is not None:
        return min(1.0, wrapper.sparsity_scale * sparsity)
    return sparsity


def update_masks(model, sparsity: float, *, final_sparsity: float | None = None) -> float:
    """Recompute every mask of `model` by magnitude for the target `sparsity`.

    Wrappers with `scope="global"` and no override share one threshold; every other
    wrapper is pruned on its own. Masks only grow: what was pruned stays pruned.

    Args:
        model: a model holding `PruneWrapper` layers (see `kerasprune.prune`).
        sparsity: the model-wide target now, in [0, 1).
        final_sparsity: the target at the end of pruning, used to ramp per-layer absolute
            overrides along the schedule; defaults to `sparsity`.

    Returns:
        The sparsity of all pruned weights together after the update.

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> pruned = kerasprune.prune(model)
    >>> round(kerasprune.update_masks(pruned, 0.5), 2)
    0.5
    """
    if not 0.0 <= float(sparsity) < 1.0:
        raise ValueError(f"`sparsity` must be in [0, 1). Received: sparsity={sparsity}")
    final = float(sparsity if final_sparsity is None else final_sparsity)
    wrappers = prune_wrappers(model)
    if not wrappers:
        raise ValueError(
            "The model has no PruneWrapper layers: call kerasprune.prune(model) first."
        )
    followers = [w for w in wrappers if w.follows is not None]
    wrappers = [w for w in wrappers if w.follows is None]
    shared = [w for w in wrappers if w.scope == "global" and w.sparsity_override is None
              and w.sparsity_scale is None]
    sets = [(shared, sparsity)] if shared else []
    sets += [([w], layer_target(w, sparsity, final)) for w in wrappers if w not in shared]
    for members, target in sets:
        for wrapper, masks in zip(members, masks_for_set(members, target)):
            wrapper.assign_masks(masks)
    _update_followers(followers, {w.layer.name: w for w in wrappers})
    return overall_sparsity(wrappers)


def _update_followers(followers: list, leaders: dict) -> None:
    """Give each follower the output channels its leader keeps."""
    for follower in followers:
        leader = leaders.get(follower.follows)
        if leader is None:
            raise ValueError(
                f"Wrapper '{follower.name}' follows layer '{follower.follows}', which is not "
                f"pruned in this model. Pruned layers: {sorted(leaders)}"
            )
        kept = ~leader.pattern.pruned_groups(np.asarray(leader.masks[-1]))
        follower.assign_masks([
            np.broadcast_to(kept, m.shape).astype(np.asarray(m).dtype) for m in follower.masks
        ])


def overall_sparsity(wrappers: list) -> float:
    """Fraction of zeros in the masks of all `wrappers` together (followers not counted)."""
    total = zeros = 0
    for wrapper in wrappers:
        if wrapper.follows is not None:
            continue
        for mask in wrapper.masks:
            m = np.asarray(mask)
            total += m.size
            zeros += int(m.size - np.count_nonzero(m))
    return zeros / total if total else 0.0
