"""The one selection rule: which groups of weights of a pruning set to prune.

`select_pruned` is used everywhere: exactly `round(s * n)` weights pruned per set (to the
granularity of the groups), ties broken by position (the earlier group is pruned first),
already-pruned groups always stay pruned, groups scored `+inf` are never pruned, and a
linear-time k-th value selection (`kerasprune.core.order_statistics`) instead of a sort.

`PruningSet` applies it to the weight tensors of one or more wrappers pruned together
(one layer, or every global-scope layer). It keeps the memory of a mask update small: the
scores of the whole set are held once, in their own precision (float32 for float32
weights), with one byte per group for what is already pruned; everything else is the
size of one layer. A per-tensor floor (`min_density`) keeps the highest-scoring groups
of a tensor that the set's threshold would otherwise take below it.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from kerasprune.core.order_statistics import kth_smallest

_CHUNK = 1 << 18  # groups per chunk of a marking pass (stays in the cache)


def select_pruned(
    scores: np.ndarray, sizes: np.ndarray | int, already: np.ndarray, sparsity: float
) -> np.ndarray:
    """Return a boolean vector over groups: True where the group is pruned.

    Groups scored `+inf` are never pruned (a pattern's way to protect them), even if the
    target then cannot be met. NaN scores are refused.

    Args:
        scores: importance per group (lowest pruned first), 1-D.
        sizes: number of weights in each group, 1-D, or one int when every group has
            that many weights.
        already: groups pruned before; they stay pruned whatever their score.
        sparsity: fraction of all weights (sum of `sizes`) to prune, in [0, 1].

    Example:

    >>> import numpy as np
    >>> select_pruned(np.array([3., 1., 1., 2.]), np.ones(4, int),
    ...               np.zeros(4, bool), 0.5).tolist()
    [False, True, True, False]
    """
    scores, already = np.asarray(scores), np.asarray(already, dtype=bool)
    highest = np.max(scores) if scores.size else 0.0  # one pass: NaN propagates
    if np.isnan(highest):
        raise ValueError("`scores` must not contain NaN: every group needs a comparable score.")
    size = uniform_size(sizes)
    if size is not None:
        total, done = size * scores.size, size * int(np.count_nonzero(already))
    else:
        sizes = np.asarray(sizes)
        total, done = int(sizes.sum()), int(sizes[already].sum())
    left = int(round(sparsity * total)) - done
    pruned = already.copy()
    if left <= 0 or done == total:
        return pruned
    if size is not None:
        groups, rest = divmod(left, size)  # the closest count; fewer groups on a tie
        _prune_lowest_equal_size(scores, pruned, groups + (2 * rest > size), highest == np.inf)
    else:
        # Groups of unequal size are few (blocks, channels): an index per group is cheap.
        alive = np.flatnonzero(~already)
        pruned[alive[_lowest_by_weight_count(scores[alive], sizes[alive], left)]] = True
    return pruned


def uniform_size(sizes: np.ndarray | int) -> int | None:
    """The common group size when every group has the same number of weights, else None."""
    if np.ndim(sizes) == 0:
        return int(sizes)
    sizes = np.asarray(sizes)
    if sizes.size == 0:
        return 1
    if sizes.strides == (0,) or np.all(sizes == sizes[0]):
        return int(sizes[0])
    return None


def _prune_lowest_equal_size(scores: np.ndarray, pruned: np.ndarray, k: int,
                             has_inf: bool) -> None:
    """Mark the `k` lowest-scoring groups not yet in `pruned` (ties: earliest first)."""
    alive = ~pruned if pruned.any() else None  # None: nothing pruned yet (a first update)
    n_alive = scores.size if alive is None else int(np.count_nonzero(alive))
    if 4 * n_alive < scores.size:  # most groups already pruned: select among the others only
        where = np.flatnonzero(alive)
        del alive
        chosen = np.zeros(where.size, dtype=bool)
        _prune_lowest_equal_size(scores[where], chosen, k, has_inf)
        pruned[where[chosen]] = True
        return
    if has_inf:
        infinite = scores == np.inf
        k = min(k, n_alive - int(np.count_nonzero(infinite if alive is None else infinite & alive)))
        del infinite
    if k <= 0:
        return
    if k >= n_alive:
        pruned[:] = True
        return
    threshold, below = kth_smallest(scores, alive, k)
    del alive
    ties = k - below  # the first `ties` alive groups scoring `threshold`, in set order
    for start in range(0, scores.size, _CHUNK):
        values, marks = scores[start : start + _CHUNK], pruned[start : start + _CHUNK]
        tied = np.flatnonzero((values == threshold) & ~marks)[:ties] if ties else []
        marks |= values < threshold
        marks[tied] = True
        ties -= len(tied)


def _lowest_by_weight_count(scores: np.ndarray, sizes: np.ndarray, target: int) -> np.ndarray:
    # Groups of unequal size (edge blocks, channels of different fan-in): take the
    # lowest groups in order until the weight count is closest to the target.
    order = np.argsort(scores, kind="stable")
    order = order[scores[order] < np.inf]
    counts = np.concatenate([[0], np.cumsum(sizes[order])])
    n_groups = int(np.argmin(np.abs(counts - target)))
    pruned = np.zeros(scores.size, dtype=bool)
    pruned[order[:n_groups]] = True
    return pruned


class PruningSet:
    """The pruned weight tensors of some wrappers, scored once to be pruned together.

    Args:
        wrappers: the `PruneWrapper` layers of the set (followers excluded).
        gradients: `{weight path: [gradient, ...]}` for patterns that need them.
        activations: `{weight path: output statistics}` for patterns that need them.
        masks_only_grow: True to keep every already-pruned group pruned; False lets a
            selection restore groups (their weights restart from zero).
        transform: optional `f(scores) -> scores` applied to each tensor's group scores
            (LAMP's normalization).

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)]))
    >>> pruning_set = PruningSet(kerasprune.prune_wrappers(model))
    >>> pruning_set.weight_counts().tolist()
    [20]
    """

    def __init__(self, wrappers: Sequence, gradients: Mapping[str, list] | None = None, *,
                 activations: Mapping[str, object] | None = None,
                 masks_only_grow: bool = True, transform=None):
        gradients, activations = gradients or {}, activations or {}
        self.tensors = [(w, i) for w in wrappers for i in range(len(w.pruned_weights))]
        # A tensor has at most as many groups as weights: room for every score at once.
        capacity = sum(int(np.prod(w.pruned_weights[i].shape)) for w, i in self.tensors)
        scores, already, sizes, counts = _Filler(capacity), _Filler(capacity), [], [0]
        for wrapper, i in self.tensors:
            weight, pattern = wrapper.pruned_weights[i], wrapper.pattern
            s, n = pattern.group_scores(np.asarray(weight), gradients.get(weight.path),
                                        activations.get(weight.path))
            s = _as_float(s)
            if np.isnan(s).any():
                raise ValueError(
                    f"The {pattern!r} pattern scored groups of '{weight.path}' as NaN "
                    "(NaN gradients?); the masks were not changed."
                )
            scores.append(s if transform is None else transform(s))
            size = uniform_size(n)
            sizes.append(np.asarray(n) if size is None else size)
            counts.append(s.size)
            already.append(pattern.pruned_groups(np.asarray(wrapper.masks[i]))
                           if masks_only_grow else np.zeros(s.size, dtype=bool))
        self.offsets = np.cumsum(counts)
        self.scores, self.already = scores.filled(), already.filled()
        self.group_sizes = sizes  # per tensor: an int, or one int per group
        common = {s for s in sizes if isinstance(s, int)}
        if len(common) == 1 and all(isinstance(s, int) for s in sizes):
            self.sizes: np.ndarray | int = common.pop()
        else:
            self.sizes = np.concatenate([
                np.full(self.count(t), s, np.int64) if isinstance(s, int) else s
                for t, s in enumerate(sizes)
            ]) if sizes else 1

    def count(self, t: int) -> int:
        """Number of groups of tensor `t`."""
        return int(self.offsets[t + 1] - self.offsets[t])

    def part(self, array: np.ndarray, t: int) -> np.ndarray:
        """The slice of a per-group array that belongs to tensor `t`."""
        return array[self.offsets[t] : self.offsets[t + 1]]

    def weight_counts(self, groups: np.ndarray | None = None, *, flagged: bool = True
                      ) -> np.ndarray:
        """Per tensor, the weights of the groups flagged in `groups` (default: all), or of
        the groups not flagged with `flagged=False`."""
        counts = []
        for t, size in enumerate(self.group_sizes):
            flags = None if groups is None else self.part(groups, t)
            if flags is None:
                count = size * self.count(t) if isinstance(size, int) else int(size.sum())
            elif isinstance(size, int):
                marked = int(np.count_nonzero(flags))
                count = size * (marked if flagged else self.count(t) - marked)
            else:
                count = int(size[flags if flagged else ~flags].sum())
            counts.append(count)
        return np.array(counts, dtype=np.int64)

    def select(self, sparsity: float, floors: np.ndarray | None = None) -> np.ndarray:
        """Groups to prune for `sparsity` over the set, each tensor keeping its floor.

        `floors[t]` is the number of weights tensor `t` keeps at least. A tensor the
        threshold would take below it gets its highest-scoring alive groups scored `+inf`
        (never pruned) and the selection runs again; the others then give more.
        """
        pruned = select_pruned(self.scores, self.sizes, self.already, sparsity)
        short = (np.zeros(len(self.tensors), dtype=bool) if floors is None
                 else self.weight_counts(pruned, flagged=False) < floors)
        if not short.any():
            return pruned
        # Protecting only raises the threshold: what this selection pruned stays pruned
        # (but the groups protected), so the next ones run over the rest only: the kept
        # groups and the protected ones, a small part of the set.
        total = int(self.weight_counts().sum())
        target = int(round(sparsity * total))
        rest, protected = ~pruned, np.zeros_like(short)
        while short.any():
            for t in np.flatnonzero(short):
                rest[self._protect(int(t), int(floors[t]))] = True
            where = np.flatnonzero(rest)
            protected |= short
            sizes = self.sizes if isinstance(self.sizes, int) else self.sizes[where]
            inside = int(sizes * where.size if isinstance(sizes, int) else sizes.sum())
            left = target - (total - inside)  # weights to prune among the rest
            chosen = select_pruned(self.scores[where], sizes, np.zeros(where.size, bool),
                                   max(left, 0) / max(inside, 1))
            bounds = np.searchsorted(where, self.offsets)  # each tensor's part of `where`
            kept = np.array([_weights(sizes, ~chosen, bounds[t], bounds[t + 1])
                             for t in range(len(self.tensors))])
            short = ~protected & (kept < floors)
        pruned[where] = chosen
        return pruned

    def select_each(self, sparsities: Sequence[float]) -> np.ndarray:
        """Groups to prune with each tensor pruned alone to its own sparsity."""
        pruned = np.empty(self.already.size, dtype=bool)
        for t, sparsity in enumerate(sparsities):
            self.part(pruned, t)[:] = select_pruned(
                self.part(self.scores, t), self.group_sizes[t], self.part(self.already, t),
                sparsity,
            )
        return pruned

    def _protect(self, t: int, floor: int) -> np.ndarray:
        """Score `+inf` the highest alive groups of tensor `t` holding `floor` weights;
        return their positions in the set."""
        scores, alive = self.part(self.scores, t), ~self.part(self.already, t)
        size, n_alive = self.group_sizes[t], int(np.count_nonzero(alive))
        if n_alive == 0 or floor <= 0:
            return np.zeros(0, dtype=np.int64)
        if not isinstance(size, int):
            order = np.flatnonzero(alive)[np.argsort(-scores[alive], kind="stable")]
            top = order[: int(np.searchsorted(np.cumsum(size[order]), floor)) + 1]
        else:
            keep = min(n_alive, math.ceil(floor / size))
            value, _ = kth_smallest(scores, alive, n_alive - keep + 1)
            above = np.flatnonzero(alive & (scores > value))
            tied = np.flatnonzero(alive & (scores == value))  # the later ties are kept
            top = np.concatenate([above, tied[tied.size - (keep - above.size) :]])
        scores[top] = np.inf
        return top + self.offsets[t]

    def masks(self, pruned: np.ndarray):
        """Yield `(wrapper, masks)` for the selection `pruned`, one wrapper at a time."""
        by_wrapper: dict[int, list] = {}
        for t, (wrapper, i) in enumerate(self.tensors):
            keep = ~self.part(pruned, t)
            weight = wrapper.pruned_weights[i]
            mask = wrapper.pattern.expand(keep, tuple(weight.shape))
            by_wrapper.setdefault(id(wrapper), []).append(mask)
            if i == len(wrapper.pruned_weights) - 1:
                yield wrapper, by_wrapper.pop(id(wrapper))


def _weights(sizes: np.ndarray | int, flags: np.ndarray, start: int, stop: int) -> int:
    """Weights of the flagged groups among groups `start:stop`."""
    if isinstance(sizes, int):
        return sizes * int(np.count_nonzero(flags[start:stop]))
    return int(sizes[start:stop][flags[start:stop]].sum())


class _Filler:
    """A 1-D array filled part by part in one allocation of `capacity` items: its pages
    become resident only as they are written, and no part is ever held twice."""

    def __init__(self, capacity: int):
        self.capacity, self.used, self.array = max(capacity, 1), 0, None

    def append(self, part: np.ndarray) -> None:
        dtype = part.dtype if self.array is None else np.result_type(self.array, part)
        if self.array is None or dtype != self.array.dtype or self.used + part.size > self.capacity:
            self.capacity = max(self.capacity, self.used + part.size)
            grown = np.empty(self.capacity, dtype=dtype)
            if self.array is not None:
                grown[: self.used] = self.array[: self.used]
            self.array = grown
        self.array[self.used : self.used + part.size] = part
        self.used += part.size

    def filled(self) -> np.ndarray:
        return np.zeros(0) if self.array is None else self.array[: self.used]


def _as_float(scores) -> np.ndarray:
    """Scores as float32 or float64 (float16/bfloat16 widened exactly, ints to float64)."""
    scores = np.asarray(scores).ravel()
    if scores.dtype in (np.float32, np.float64):
        return scores
    wide = np.float32 if scores.dtype.kind == "f" or "float" in scores.dtype.name else np.float64
    return scores.astype(wide)


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
    `wrapper.pruned_weights`. (`update_masks` assigns them one wrapper at a time instead,
    so the masks of a whole model are never held at once.)
    """
    pruning_set = PruningSet(wrappers, gradients, activations=activations)
    masks = dict((id(w), m) for w, m in pruning_set.masks(pruning_set.select(sparsity)))
    return [masks[id(w)] for w in wrappers]
