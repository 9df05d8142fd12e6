"""Scopes: which pruning units share a target, and how a shared target is met.

A *unit* is what one scope decision is about: a weight tensor's wrapper when weights are
pruned, a set of coupled layers when channel groups are (`kerasprune.structured`). A unit
has a `scope` (`"layer"`, `"global"`, `"lamp"`, `"erk"`) and may carry a per-layer
`sparsity_override` or `sparsity_scale`. `scope_sets` groups the units once: every unit
of a model-wide scope without an override joins that scope's set, the others are pruned
alone to their own target (`layer_target`). `select_in_scope` then chooses the pruned
groups of one set: each part to its own target in layer scope, one threshold over the
set's (LAMP-normalized) scores in global and LAMP scope, and per-part targets from the
Erdos-Renyi-Kernel rule in ERK scope; in every scope each part keeps at least its floor
(`kerasprune.core.allocation.floor_weights`).

Weights and channels go through the same two functions, so every scope means the same
for both.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from kerasprune.core.allocation import erk_kept, floor_weights
from kerasprune.core.selection import PruningSet

#: The scopes that share the model-wide target among their units.
ALLOCATED_SCOPES = ("global", "erk", "lamp")


def layer_target(unit, sparsity: float, final_sparsity: float) -> float:
    """The sparsity a unit should have when the model-wide target is `sparsity`.

    A unit with an absolute `sparsity_override` reaches it when the model reaches
    `final_sparsity`, and follows the schedule proportionally before that; a unit with
    a `sparsity_scale` gets that multiple of the model-wide target (`check_pruning_request`
    refuses a result of 1 or more).

    Example:

    >>> from types import SimpleNamespace as Unit
    >>> layer_target(Unit(sparsity_override=0.5, sparsity_scale=None), 0.45, 0.9)
    0.25
    >>> layer_target(Unit(sparsity_override=None, sparsity_scale=0.5), 0.8, 0.8)
    0.4
    """
    if unit.sparsity_override is not None:
        if final_sparsity <= 0:
            return 0.0
        return unit.sparsity_override * sparsity / final_sparsity
    if unit.sparsity_scale is not None:
        return unit.sparsity_scale * sparsity
    return sparsity


def scope_sets(units: Sequence, sparsity: float, final: float, *,
               target_of=layer_target) -> list[tuple[str, list, float]]:
    """`(scope, units, target)` for each set of units pruned together; a unit pruned
    alone gets `target_of(unit, sparsity, final)`.

    Example:

    >>> from types import SimpleNamespace as Unit
    >>> a = Unit(scope="global", sparsity_override=None, sparsity_scale=None)
    >>> b = Unit(scope="global", sparsity_override=0.5, sparsity_scale=None)
    >>> [(scope, len(members), target) for scope, members, target in
    ...  scope_sets([a, b], 0.45, 0.9)]
    [('global', 1, 0.45), ('layer', 1, 0.25)]
    """
    sets, shared = [], set()
    for scope in ALLOCATED_SCOPES:
        members = [u for u in units if u.scope == scope and u.sparsity_override is None
                   and u.sparsity_scale is None]
        shared.update(id(u) for u in members)
        sets += [(scope, members, sparsity)] if members else []
    sets += [("layer", [u], target_of(u, sparsity, final))
             for u in units if id(u) not in shared]
    return sets


def select_in_scope(pruning_set: PruningSet, scope: str, target: float) -> list[np.ndarray]:
    """The groups to prune (one boolean vector per part) of a set pruned in `scope`.

    A LAMP set holds LAMP-normalized scores already (`PruningSet(transform=...)`), so it
    is selected as a global one.
    """
    counts = pruning_set.weight_counts()
    if scope == "layer":
        floors = np.concatenate([floor_weights(counts[t : t + 1], target,
                                               pruning_set.min_densities[t : t + 1])
                                 for t in range(counts.size)] or [np.zeros(0, np.int64)])
        return pruning_set.select_each([target] * counts.size, floors)
    floors = floor_weights(counts, target, pruning_set.min_densities)
    if scope != "erk":
        return pruning_set.select(target, floors)
    alive = pruning_set.weight_counts(pruning_set.already)
    budget = int(counts.sum()) - int(round(target * int(counts.sum())))
    kept = erk_kept(pruning_set.erk_factors, budget, np.minimum(floors, alive), alive)
    return pruning_set.select_each((counts - kept) / np.maximum(counts, 1))


def short_parts(pruning_set: PruningSet, pruned: list[np.ndarray], scope: str,
                target: float) -> list[tuple[int, float]]:
    """`(part, sparsity reached)` of the parts (in layer scope) or of the whole set (as
    part -1) that fell short of `target` by more than one group: groups their patterns
    protect (scored `+inf`) could not go."""
    counts = pruning_set.weight_counts()
    kept = pruning_set.weight_counts(pruned)
    largest = np.array([int(np.max(n, initial=1)) for n in pruning_set.group_sizes],
                       dtype=np.int64)
    if scope == "layer":
        return [(t, 1.0 - kept[t] / counts[t]) for t in range(counts.size)
                if counts[t] and 1.0 - kept[t] / counts[t] < target - largest[t] / counts[t]]
    total = int(counts.sum())
    reached = 1.0 - int(kept.sum()) / total if total else target
    return [(-1, reached)] if total and reached < target - int(largest.max()) / total else []
