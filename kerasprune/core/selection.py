"""The one selection rule: which groups of weights of a pruning set to prune.

`select_pruned` is used everywhere: exactly `round(s * n)` weights pruned per set (to the
granularity of the groups), ties broken by position (the earlier group is pruned first),
already-pruned groups always stay pruned, groups scored `+inf` are never pruned, and a
linear-time k-th value selection (`kerasprune.core.order_statistics`) instead of a sort.

`PruningSet` applies it to parts pruned together: weight tensors (`WeightSet`, the
tensors of one or more wrappers) or sets of coupled channels. It keeps the memory of a mask
update small: the scores of the whole set are held once, part by part as they were computed
(never joined into one vector: `select_pruned_parts` selects over the parts as if they were), in
their own precision (float32 for float32 weights), with one byte per group for what is
already pruned; everything else is the size of one layer. A per-tensor floor
(`min_density`) keeps the highest-scoring groups of a tensor that the set's threshold would
otherwise take below it.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np

from kerasprune.core.allocation import erk_factor
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.linear_views import output_axes
from kerasprune.core.order_statistics import kth_smallest, kth_smallest_of_parts
from kerasprune.core.weight_criteria import WEIGHT_CRITERIA, saliency

_CHUNK = 1 << 18  # groups per chunk of a marking pass (stays in the cache)


def select_pruned(
    scores: np.ndarray, sizes: np.ndarray | int, already: np.ndarray | None, sparsity: float
) -> np.ndarray:
    """Return a boolean vector over groups: True where the group is pruned.

    Groups scored `+inf` are never pruned (a pattern's way to protect them), even if the
    target then cannot be met. NaN scores are refused.

    Args:
        scores: importance per group (lowest pruned first), 1-D.
        sizes: number of weights in each group, 1-D, or one int when every group has
            that many weights.
        already: groups pruned before; they stay pruned whatever their score (None: none).
        sparsity: fraction of all weights (sum of `sizes`) to prune, in [0, 1].

    Example:

    >>> import numpy as np
    >>> select_pruned(np.array([3., 1., 1., 2.]), np.ones(4, int),
    ...               np.zeros(4, bool), 0.5).tolist()
    [False, True, True, False]
    """
    return select_pruned_parts([scores], [sizes], [already], sparsity)[0]


def select_pruned_parts(
    scores: Sequence[np.ndarray], sizes: Sequence[np.ndarray | int],
    already: Sequence[np.ndarray | None], sparsity: float,
) -> list[np.ndarray]:
    """`select_pruned` over several vectors of groups taken as one, in order, without
    joining them: the result is their selection split back into one vector per part.

    Args:
        scores: per part, its groups' scores (1-D).
        sizes: per part, its group sizes (1-D) or one int for all its groups.
        already: per part, its groups pruned before (None: none of them).
        sparsity: fraction of the weights of all parts together to prune, in [0, 1].

    Example:

    >>> import numpy as np
    >>> [p.tolist() for p in select_pruned_parts(
    ...     [np.array([3., 1.]), np.array([1., 2.])], [1, 1], [None, None], 0.5)]
    [[False, True], [True, False]]
    """
    scores = [np.asarray(s) for s in scores]
    if not scores:
        return []
    pruned = [np.zeros(s.size, dtype=bool) if a is None else np.array(a, dtype=bool)
              for s, a in zip(scores, already)]
    highests = [np.max(s) for s in scores if s.size]
    highest = np.max(highests) if highests else 0.0  # one pass per part: NaN propagates
    if np.isnan(highest):
        raise ValueError("`scores` must not contain NaN: every group needs a comparable score.")
    size = _common_size(scores, sizes)
    if size is None:
        return _select_unequal(scores, sizes, pruned, sparsity)
    total = size * sum(s.size for s in scores)
    done = size * sum(int(np.count_nonzero(a)) for a in already if a is not None)
    left = int(round(sparsity * total)) - done
    if left > 0:  # then some groups are alive: the target is at most every weight
        groups, rest = divmod(left, size)  # the closest count; fewer groups on a tie
        _prune_lowest_equal_size(scores, pruned, groups + (2 * rest > size), highest == np.inf)
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


def _common_size(scores: list, sizes: Sequence) -> int | None:
    """The group size shared by every group of every part, else None."""
    common = {uniform_size(n) for s, n in zip(scores, sizes) if s.size}
    if not common:
        return 1
    return common.pop() if len(common) == 1 else None


def _select_unequal(scores: list, sizes: Sequence, pruned: list, sparsity: float) -> list:
    """Groups of unequal size (blocks, channels) are few: the parts are joined."""
    counts = [s.size for s in scores]
    sizes = np.concatenate([np.broadcast_to(np.asarray(n, np.int64), c)
                            for n, c in zip(sizes, counts)])
    already = np.concatenate(pruned)
    total, done = int(sizes.sum()), int(sizes[already].sum())
    left = int(round(sparsity * total)) - done
    if left > 0:  # then some groups are alive: the target is at most every weight
        alive = np.flatnonzero(~already)
        joined = np.concatenate(scores)[alive]
        already[alive[_lowest_by_weight_count(joined, sizes[alive], left)]] = True
    return np.split(already, np.cumsum(counts)[:-1])


def _prune_lowest_equal_size(scores: list, pruned: list, k: int, has_inf: bool) -> None:
    """Mark the `k` lowest-scoring groups not yet in `pruned` (ties: earliest first, in
    the order of the parts)."""
    alive = [~p if p.any() else None for p in pruned]  # None: nothing pruned yet
    n_alive = sum(p.size if a is None else int(np.count_nonzero(a)) for p, a in zip(pruned, alive))
    if 4 * n_alive < sum(p.size for p in pruned):  # mostly pruned: select among the others only
        where = [np.arange(p.size) if a is None else np.flatnonzero(a)
                 for p, a in zip(pruned, alive)]
        del alive
        chosen = [np.zeros(w.size, dtype=bool) for w in where]
        _prune_lowest_equal_size([s[w] for s, w in zip(scores, where)], chosen, k, has_inf)
        for p, w, c in zip(pruned, where, chosen):
            p[w[c]] = True
        return
    if has_inf:
        k = min(k, n_alive - sum(_count_infinite(s, a) for s, a in zip(scores, alive)))
    if k <= 0:
        return
    if k >= n_alive:
        for p in pruned:
            p[:] = True
        return
    threshold, below = kth_smallest_of_parts(list(zip(scores, alive)), k)
    del alive
    ties = k - below  # the first `ties` alive groups scoring `threshold`, in set order
    for part, marked in zip(scores, pruned):
        for start in range(0, part.size, _CHUNK):
            values, marks = part[start : start + _CHUNK], marked[start : start + _CHUNK]
            tied = np.flatnonzero((values == threshold) & ~marks)[:ties] if ties else []
            marks |= values < threshold
            marks[tied] = True
            ties -= len(tied)


def _count_infinite(scores: np.ndarray, alive: np.ndarray | None) -> int:
    infinite = scores == np.inf
    return int(np.count_nonzero(infinite if alive is None else infinite & alive))


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


def select_with_floors(
    scores: Sequence[np.ndarray], sizes: Sequence[np.ndarray | int],
    already: Sequence[np.ndarray | None], sparsity: float, floors: np.ndarray | None = None,
) -> list[np.ndarray]:
    """`select_pruned_parts`, with each part `t` keeping at least `floors[t]` weights.

    A part the set's threshold would take below its floor gets its highest-scoring alive
    groups scored `+inf` (never pruned) and the selection runs again; the others then
    give more, and any of them now below its floor is protected in turn.

    Example:

    >>> import numpy as np
    >>> small, large = np.array([0.1, 0.2, 0.3]), np.array([5.0, 6.0, 7.0])
    >>> [p.tolist() for p in select_with_floors([small, large], [1, 1], [None, None],
    ...                                         0.5, np.array([1, 0]))]
    [[True, True, False], [True, False, False]]
    """
    pruned = select_pruned_parts(scores, sizes, already, sparsity)
    sizes = [_as_sizes(n) for n in sizes]
    short = (np.zeros(len(pruned), dtype=bool) if floors is None
             else _kept(sizes, pruned, [s.size for s in scores]) < floors)
    if short.any():
        _protect_and_reselect(scores, sizes, already, sparsity, floors, pruned, short)
    return pruned


def _protect_and_reselect(scores: Sequence[np.ndarray], sizes: list, already: Sequence,
                          sparsity: float, floors: np.ndarray, pruned: list,
                          short: np.ndarray) -> None:
    """Update `pruned` so that each part keeps its floor, the `short` ones first."""
    # Protecting only raises the threshold: what this selection pruned stays pruned
    # (but the groups protected), so the next ones run over the rest only: the kept
    # groups and the protected ones, a small part of the set.
    total = int(_kept(sizes, [None] * len(sizes), [s.size for s in scores]).sum())
    target = int(round(sparsity * total))
    where = [None if low else np.flatnonzero(~p) for p, low in zip(pruned, short)]
    rest = [None if w is None else s[w] for s, w in zip(scores, where)]
    protected = np.zeros_like(short)
    while short.any():
        for t in np.flatnonzero(short):
            top = _top(scores[t], sizes[t], already[t], int(floors[t]))
            where[t], rest[t] = _rest_with(scores[t], sizes[t], pruned[t], where[t], top)
        protected |= short
        rest_sizes = [n if isinstance(n, int) else n[w] for n, w in zip(sizes, where)]
        counts = [w.size for w in where]
        inside = int(_kept(rest_sizes, [None] * len(where), counts).sum())
        left = target - (total - inside)  # weights to prune among the rest
        chosen = select_pruned_parts(rest, rest_sizes, [None] * len(rest),
                                     max(left, 0) / max(inside, 1))
        short = ~protected & (_kept(rest_sizes, chosen, counts) < floors)
    for marks, w, c in zip(pruned, where, chosen):
        marks[w] = c


def _top(scores: np.ndarray, size, already: np.ndarray | None, floor: int) -> np.ndarray:
    """Positions of the highest alive groups of a tensor holding `floor` weights."""
    alive = None if already is None or not already.any() else ~already
    n_alive = scores.size if alive is None else int(np.count_nonzero(alive))
    if n_alive == 0 or floor <= 0:
        return np.zeros(0, dtype=np.int64)
    if not isinstance(size, int):
        alive = np.ones(scores.size, dtype=bool) if alive is None else alive
        order = np.flatnonzero(alive)[np.argsort(-scores[alive], kind="stable")]
        return order[: int(np.searchsorted(np.cumsum(size[order]), floor)) + 1]
    keep = min(n_alive, math.ceil(floor / size))
    value, _ = kth_smallest(scores, alive, n_alive - keep + 1)
    high = scores >= value
    candidates = np.flatnonzero(high if alive is None else high & alive)
    values = scores[candidates]
    above, tied = candidates[values > value], candidates[values == value]
    return np.concatenate([above, tied[tied.size - (keep - above.size) :]])  # later ties


def _rest_with(scores: np.ndarray, size, pruned: np.ndarray, where: np.ndarray | None,
               top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(where, rest)`: the positions and scores of a tensor's rest (the groups the first
    selection `pruned` kept, `where` if known) with the protected groups `top` in it,
    scored `+inf`."""
    if not isinstance(size, int):
        inside = ~pruned
        inside[top] = True
        where = np.flatnonzero(inside)
    elif where is None:
        # Equal groups: the kept groups and `top` are both the highest of one order
        # (score, then position), so one holds the other. Short at the first selection,
        # the tensor kept fewer than `top`; later, more (and `where` is known).
        where = np.sort(top)
    rest = scores[where]
    rest[np.searchsorted(where, top)] = np.inf
    return where, rest


def _as_sizes(sizes: np.ndarray | int) -> np.ndarray | int:
    """Group sizes as one int when they are all equal, else as an array."""
    size = uniform_size(sizes)
    return np.asarray(sizes) if size is None else size


def _kept(sizes: Sequence, pruned: Sequence[np.ndarray | None], counts: Sequence[int]
          ) -> np.ndarray:
    """Per part, the weights of its groups not flagged in `pruned` (None: none flagged);
    `sizes`: an int or one per group, `counts`: the number of groups, per part."""
    kept = []
    for size, flags, count in zip(sizes, pruned, counts):
        if flags is None:
            kept.append(size * count if isinstance(size, int) else int(size.sum()))
        elif isinstance(size, int):
            kept.append(size * (count - int(np.count_nonzero(flags))))
        else:
            kept.append(int(size[~flags].sum()))
    return np.array(kept, dtype=np.int64)


class TiedScoresWarning(UserWarning):
    """Every group a layer could lose scored the same, so which ones go is arbitrary."""


def warn_if_tied(scores: np.ndarray, already: np.ndarray | None, what: str,
                 criterion: str) -> None:
    """Warn when the live groups of `scores` that no cap protects (finite scores) number
    two or more and all score the same: the criterion cannot tell them apart (a
    data-driven criterion whose statistic is constant on this layer, a constant kernel).

    Example:

    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_tied(np.array([1.0, 1.0, np.inf]), None, "of layer 'a'", "'apoz'")
    >>> "layer 'a'" in str(caught[0].message)
    True
    """
    open_groups = np.isfinite(scores) if already is None else np.isfinite(scores) & ~already
    live = scores[open_groups]
    if live.size < 2 or not np.all(live == live[0]):
        return
    warnings.warn(
        # No count or value in the text: one warning per layer, not one per pruning step.
        f"The groups {what} that could be pruned all score the same under {criterion}: "
        "it cannot tell them apart, so the ones pruned are arbitrary. "
        "Use a criterion that suits this layer (data-driven criteria need outputs that "
        "vary: 'apoz' and 'mean_activation' read ReLU outputs), or exclude it.",
        TiedScoresWarning, stacklevel=user_stacklevel())


class PruningSet:
    """Parts pruned together: each part a vector of groups with their scores and sizes.

    A part is one weight tensor (`WeightSet`) or one set of coupled channels
    (`kerasprune.structured`); `kerasprune.core.scopes.select_in_scope` selects over the
    parts of a set as its scope says.

    Args:
        scores: per part, its groups' scores (1-D, float).
        group_sizes: per part, one int (every group that size) or one int per group.
        already: per part, its groups pruned before (None: none).
        min_densities: per part, the fraction of its weights kept at least.
        erk_factors: per part, its ERK factor (`kerasprune.core.allocation.erk_kept`).

    Example:

    >>> import numpy as np
    >>> parts = PruningSet([np.array([3.0, 1.0]), np.array([2.0])], [1, 2], [None, None],
    ...                    min_densities=[0.0, 0.0], erk_factors=[2.0, 3.0])
    >>> parts.weight_counts().tolist(), [p.tolist() for p in parts.select(0.5)]
    ([2, 2], [[False, True], [False]])
    """

    def __init__(self, scores: list, group_sizes: list, already: list, *,
                 min_densities: Sequence[float], erk_factors: Sequence[float]):
        self.scores = list(scores)
        self.group_sizes = [_as_sizes(n) for n in group_sizes]
        self.already = [a if a is not None and a.any() else None for a in already]
        self.min_densities = np.asarray(min_densities, dtype=np.float64)
        self.erk_factors = np.asarray(erk_factors, dtype=np.float64)
        self.group_counts = [s.size for s in self.scores]  # per part: its number of groups

    def release_scores(self) -> None:
        """Free the scores once the selection is made: the masks are then built in the
        memory they leave (4 bytes per weight of a global set) instead of in more."""
        self.scores = []

    def weight_counts(self, groups: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
        """Per part, the weights outside the groups flagged in `groups` (one boolean
        vector per part, or None where none is flagged); all its weights by default."""
        if groups is None:
            groups = [None] * len(self.group_counts)
        return _kept(self.group_sizes, groups, self.group_counts)

    def select(self, sparsity: float, floors: np.ndarray | None = None) -> list[np.ndarray]:
        """Groups to prune (one boolean vector per part) for `sparsity` over the set,
        part `t` keeping at least `floors[t]` weights (see `select_with_floors`)."""
        return select_with_floors(self.scores, self.group_sizes, self.already, sparsity, floors)

    def select_each(self, sparsities: Sequence[float],
                    floors: np.ndarray | None = None) -> list[np.ndarray]:
        """Groups to prune (one boolean vector per part) with each part pruned alone
        to its own sparsity, part `t` keeping at least `floors[t]` weights."""
        if floors is None:
            return [select_pruned(s, n, a, sparsity) for s, n, a, sparsity
                    in zip(self.scores, self.group_sizes, self.already, sparsities)]
        return [select_with_floors([s], [n], [a], sparsity, floors[t : t + 1])[0]
                for t, (s, n, a, sparsity) in enumerate(
                    zip(self.scores, self.group_sizes, self.already, sparsities))]


class WeightSet(PruningSet):
    """The pruned weight tensors of some wrappers, scored once to be pruned together.

    Args:
        wrappers: the `PruneWrapper` layers of the set (followers excluded).
        gradients: `{weight path: [gradient, ...]}` for criteria that need them.
        activations: `{weight path: output statistics}` for patterns that need them.
        input_norms: `{weight path: squared norm of each input feature}` for Wanda.
        masks_only_grow: True to keep every already-pruned group pruned; False lets a
            selection restore groups (their weights restart from zero).
        transform: optional `f(scores) -> scores` applied to each tensor's group scores
            (LAMP's normalization).
        criterion: a weight criterion that replaces the wrappers' own (None: theirs).
        scores: `{weight path: learned score per weight}` that replace the criterion of
            those weights (pooled by `MaskPattern.learned_scores`).

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)]))
    >>> weight_set = WeightSet(kerasprune.prune_wrappers(model))
    >>> weight_set.weight_counts().tolist()
    [20]
    """

    def __init__(self, wrappers: Sequence, gradients: Mapping[str, list] | None = None, *,
                 activations: Mapping[str, object] | None = None,
                 input_norms: Mapping[str, np.ndarray] | None = None,
                 masks_only_grow: bool = True, transform=None, criterion: str | None = None,
                 scores: Mapping[str, np.ndarray] | None = None):
        data = (gradients or {}, activations or {}, input_norms or {})
        self.tensors = [(w, i) for w in wrappers for i in range(len(w.pruned_weights))]
        learned, scores, sizes, already = scores, [], [], []
        for wrapper, i in self.tensors:
            weight, pattern = wrapper.pruned_weights[i], wrapper.weight_pattern(i)
            if learned and weight.path in learned:
                s, n = pattern.learned_scores(np.asarray(learned[weight.path]))
            else:
                s, n = group_scores(wrapper, weight, *(d.get(weight.path) for d in data),
                                    criterion=criterion)
            s = _as_float(s)
            # None when nothing is pruned yet: a first update holds no byte per weight
            old = (pattern.pruned_groups(np.asarray(wrapper.masks[i]))
                   if masks_only_grow else None)
            if not (learned and weight.path in learned):
                warn_if_tied(s, old, f"of layer '{wrapper.layer.name}' ({weight.name})",
                             _criterion_name(criterion or wrapper.criterion, pattern))
            if wrapper.scope == "output":
                s = output_ranks(s, tuple(weight.shape), output_axes(wrapper, i))
            if np.isnan(s).any():
                raise ValueError(
                    f"The {pattern!r} pattern scored groups of '{weight.path}' as NaN "
                    "(NaN gradients?); the masks were not changed."
                )
            scores.append(s if transform is None else transform(s))
            sizes.append(n)
            already.append(old)
        super().__init__(
            scores, sizes, already,
            min_densities=[w.min_density for w, _ in self.tensors],
            erk_factors=[erk_factor(tuple(w.pruned_weights[i].shape)) for w, i in self.tensors],
        )

    def masks(self, pruned: Sequence[np.ndarray]):
        """Yield `(wrapper, masks)` for the selection `pruned`, one wrapper at a time."""
        by_wrapper: dict[int, list] = {}
        for t, (wrapper, i) in enumerate(self.tensors):
            keep = ~pruned[t]
            weight = wrapper.pruned_weights[i]
            mask = wrapper.weight_pattern(i).expand(keep, tuple(weight.shape))
            by_wrapper.setdefault(id(wrapper), []).append(mask)
            if i == len(wrapper.pruned_weights) - 1:
                yield wrapper, by_wrapper.pop(id(wrapper))


def group_scores(wrapper, weight, gradients=None, activations=None, input_norms=None, *,
                 criterion: str | None = None):
    """`(scores, sizes)` of the groups of one pruned `weight` of `wrapper`: its pattern's
    own scores for the magnitude criterion (and channel criteria), else the weight
    criterion (`criterion`, or the wrapper's) pooled into the pattern's groups."""
    index = next(i for i, w in enumerate(wrapper.pruned_weights) if w is weight)
    criterion, pattern = criterion or wrapper.criterion, wrapper.weight_pattern(index)
    if criterion == "magnitude":
        return pattern.group_scores(np.asarray(weight), gradients, activations)
    if criterion not in WEIGHT_CRITERIA:
        raise ValueError(
            f"Layer '{wrapper.layer.name}' is pruned by {criterion!r}, which chooses masks "
            "and updates weights layer by layer on calibration data, not by a score per "
            "weight: prune it with kerasprune.one_shot_prune(model, sparsity, data=...) or "
            "a pruning callback given `data=kerasprune.CriterionData(x)`.")
    return pattern.pool(saliency(criterion, np.asarray(weight), gradients, input_norms,
                                 seed=wrapper.seed, name=f"{wrapper.layer.name}/{index}"))


def _criterion_name(criterion: str, pattern) -> str:
    """How a warning names the criterion: a channel pattern scores by its own."""
    own = criterion == "magnitude" and getattr(pattern, "prunes_channels", False)
    return f"{pattern!r}" if own else f"criterion {criterion!r}"


def output_ranks(scores: np.ndarray, shape: tuple[int, ...],
                 out_axes: tuple[int, ...]) -> np.ndarray:
    """Each weight's rank among the weights of its output unit, as a fraction in [0, 1)
    (flat, in `shape`'s order): selected to a target in layer scope, the same lowest
    fraction of every output unit goes (Wanda's per-output comparison, Sun et al. 2023).

    Example:

    >>> kernel = np.array([[3.0, 1.0], [5.0, 2.0]])   # [inputs, outputs]
    >>> output_ranks(kernel.ravel(), kernel.shape, (1,)).tolist()
    [0.0, 0.0, 0.5, 0.5]
    """
    front = tuple(range(len(out_axes)))
    rows = np.moveaxis(scores.reshape(shape), out_axes, front)
    flat = rows.reshape(math.prod(rows.shape[: len(out_axes)]), -1)
    ranks = np.argsort(np.argsort(flat, axis=1, kind="stable"), axis=1, kind="stable")
    fractions = (ranks / flat.shape[1]).reshape(rows.shape)
    return np.moveaxis(fractions, front, out_axes).ravel()


def _as_float(scores) -> np.ndarray:
    """Scores as float32 or float64 (float16/bfloat16 widened exactly, ints to float64)."""
    scores = np.asarray(scores).ravel()
    if scores.dtype in (np.float32, np.float64):
        return scores
    wide = np.float32 if "float" in scores.dtype.name else np.float64  # bfloat16 too
    return scores.astype(wide)
