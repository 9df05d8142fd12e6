"""Group selection: which channel groups of a model to prune, through the engine's scopes.

Every pruned layer scores its own channels (its pattern's criterion, normalization and
per-layer caps); a group's score combines its members' scores (`"sum"`, `"mean"` or
`"max"`, the pattern's `combine`) and its size is its number of member channels. The
units of selection are the sets of coupled layers (a residual stream, a conv and its
depthwise conv, a lone conv), or each layer when the model has no graph: they are grouped
by scope and selected exactly as weight tensors are (`kerasprune.core.scopes`): each to
its own target in layer scope, one threshold over all in global scope (LAMP-normalized in
`"lamp"`), per-unit targets from the Erdos-Renyi-Kernel rule in `"erk"`, each keeping at
least its `min_density`. With `target="flops"` or `"params"` the fraction is found (by
bisection, the choice being nested) so that the model's multiply-accumulates or
parameters are at most `1 - sparsity` of the dense model's; with `target="latency"`, so
that its latency predicted by the pattern's latency table
(`kerasprune.structured.latency_cost`) is, and each unit's scores are first divided by the
microseconds one of its groups saves, so that a global scope removes the groups of least
importance per microsecond (HALP's knapsack, greedily). A table can misprice layers (timed
alone, they miss what they do to each other), so a latency target also makes the proposal
ranked by importance alone; both are calibrated to the measured latency, and the one that
meets it removing less importance is kept (NetAdapt's choice among measured proposals).
Each member's masks are then written along its channel axes; pruned groups stay pruned.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from kerasprune.core.allocation import lamp_scores
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.model_walk import all_layers
from kerasprune.core.scopes import (
    ALLOCATED_SCOPES,
    layer_target,
    scope_sets,
    select_in_scope,
    short_parts,
)
from kerasprune.core.selection import PruningSet, warn_if_tied
from kerasprune.core.wrapping import strip
from kerasprune.structured.channel_analysis import variables_by_name
from kerasprune.structured.channel_groups import ChannelGroups
from kerasprune.structured.criteria import by_channel, channel_axis
from kerasprune.structured.latency_cost import (
    Calibration,
    LatencyCost,
    calibrated_selection,
    fingerprint,
)
from kerasprune.structured.surgery import shrink

_COST_INDEX = {"flops": 0, "params": 1}


class LayersLeftWholeWarning(UserWarning):
    """Channel pruning left some pruned layers whole: no channel group of theirs is safe."""


@dataclass
class Unit:
    """Channel groups selected as one part: a set of coupled layers, or one layer.

    `scores`, `sizes` and `already` are vectors over its groups; `members` its wrappers.
    Its scope is the members' common model-wide scope when none has an override, else
    `"layer"` with the lowest target of its members.
    """

    scores: np.ndarray
    sizes: np.ndarray
    already: np.ndarray
    members: list
    erk_factor: float
    index: np.ndarray | None = None  # a component's groups, in the model's group numbering

    def __post_init__(self):
        scopes = {w.scope for w in self.members}
        plain = all(w.sparsity_override is None and w.sparsity_scale is None
                    for w in self.members)
        shared = len(scopes) == 1 and plain and next(iter(scopes)) in ALLOCATED_SCOPES
        self.scope = next(iter(scopes)) if shared else "layer"
        self.sparsity_override = self.sparsity_scale = None
        self.min_density = min(w.min_density for w in self.members)

    def target(self, sparsity: float, final: float) -> float:
        return min(layer_target(w, sparsity, final) for w in self.members)


def select_groups(model, wrappers: list, sparsity: float, final: float,
                  selector) -> Iterator[tuple]:
    """Yield `(wrapper, masks)` for `wrappers` (all channel-pruned in `model`), chosen by
    coupled group, with the criterion data of `selector` (a `ToTarget`)."""
    options = _shared_options(wrappers)
    groups = ChannelGroups(model)
    data = (selector.gradients or {}, selector.activations or {},
            getattr(selector, "scores", None) or {})
    table = _GroupTable(groups, data, options["combine"])
    units = _component_units(groups, table)
    if options["target"] == "channels":
        pruned = _select_units(units, sparsity, final, missed=selector.missed)
    else:
        pruned = _select_for_cost(model, groups, wrappers, units, sparsity, final,
                                  options["target"], wrappers[0].pattern)
    left_whole = {**groups.left_whole, **_unscored_layers(groups, table)}
    if left_whole:
        warnings.warn(
            "Channel pruning leaves these pruned layers whole (no channel of theirs can be "
            f"removed exactly): {left_whole}", LayersLeftWholeWarning,
            stacklevel=user_stacklevel())
    by_group = np.zeros(groups.count, dtype=bool)
    for unit, chosen in zip(units, pruned):
        by_group[unit.index] = chosen
    yield from _member_masks(groups, wrappers, by_group)


def select_layers(wrappers: list, sparsity: float, final: float, selector) -> Iterator[tuple]:
    """Yield `(wrapper, masks)` choosing each wrapper's channels as one unit (no graph to
    couple them): the first pruned weight (the kernel) scores the channels; every pruned
    weight (the bias too) loses the same channels."""
    gradients, activations = selector.gradients or {}, selector.activations or {}
    learned = getattr(selector, "scores", None) or {}
    units, axes = [], []
    for wrapper in wrappers:
        kernel = wrapper.pruned_weights[0]
        axis = channel_axis(tuple(kernel.shape))
        if kernel.path in learned:
            scores = wrapper.pattern.protect_learned(
                wrapper.pattern.learned_along(learned[kernel.path], axis))
        else:
            scores = wrapper.pattern.protect(wrapper.pattern.scores_along(
                np.asarray(kernel), axis, gradients.get(kernel.path),
                activations.get(kernel.path)))
        already = ~by_channel(np.asarray(wrapper.masks[0]), axis).any(axis=1)
        units.append(Unit(scores, np.ones(scores.size, np.int64), already, [wrapper],
                          _erk_factor([tuple(kernel.shape)], scores.size)))
        axes.append(axis)
    for wrapper, axis, pruned in zip(wrappers, axes, _select_units(units, sparsity, final,
                                                                     missed=selector.missed)):
        old = [np.asarray(m) for m in wrapper.masks]
        yield wrapper, [m * expand_along(~pruned, m.shape, axis if m.ndim == old[0].ndim else 0
                                         ).astype(m.dtype) for m in old]


def _select_units(units: list[Unit], sparsity: float, final: float,
                  fraction: float | None = None, missed: list | None = None) -> list[np.ndarray]:
    """The pruned groups of each unit (a boolean vector per unit), every set of units
    selected in its scope; `fraction` replaces every set's target (cost targets). Sets
    short of their target are appended to `missed` (see `ToTarget.missed`)."""
    for unit in units:
        layers = ", ".join(sorted({f"'{w.layer.name}'" for w in unit.members}))
        warn_if_tied(unit.scores, unit.already, f"of the channels of {layers}",
                     repr(unit.members[0].pattern))
    result = {}
    for scope, members, target in scope_sets(units, sparsity, final, target_of=Unit.target):
        target = target if fraction is None else fraction
        transform = lamp_scores if scope == "lamp" else (lambda x: x)
        parts = PruningSet([transform(u.scores) for u in members], [u.sizes for u in members],
                           [u.already for u in members],
                           min_densities=[u.min_density for u in members],
                           erk_factors=[u.erk_factor for u in members])
        chosen = select_in_scope(parts, scope, target)
        short = short_parts(parts, chosen, scope, target) if missed is not None else []
        for part, reached in short:
            layers = {w.layer.name for u in (members if part < 0 else [members[part]])
                      for w in u.members}
            missed.append((f"the channels of {', '.join(sorted(layers))}", target, reached))
        for unit, unit_pruned in zip(members, chosen):
            result[id(unit)] = unit_pruned
    return [result[id(u)] for u in units]


def expand_along(keep: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """A 0/1 mask of `shape` holding `keep[j]` at index `j` of `axis`.

    Example:

    >>> expand_along(np.array([True, False]), (3, 2), -1).tolist()[0]
    [1.0, 0.0]
    """
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return np.broadcast_to(keep.reshape(view), shape).astype(np.float32)


def _shared_options(wrappers) -> dict[str, str]:
    options = {(w.pattern.combine, w.pattern.target) for w in wrappers}
    if len(options) > 1:
        raise ValueError(
            "Channel groups span layers, so every channel-pruned layer must use the same "
            f"`combine` and `target`. Received: {sorted(options)}"
        )
    combine, target = options.pop()
    if target != "channels" and any(
            w.sparsity_override is not None or w.sparsity_scale is not None for w in wrappers):
        raise ValueError(
            f"Channels(target={target!r}) prunes to a model-wide cost: per-layer "
            "`sparsity_overrides` apply to target='channels' only."
        )
    return {"combine": combine, "target": target}


class _GroupTable:
    """Scores, sizes and pruned state of every group (vectors over the groups)."""

    def __init__(self, groups: ChannelGroups, data: tuple, combine: str):
        n = groups.count
        total, maximum = np.zeros(n), np.full(n, -np.inf)
        self.sizes = np.zeros(n, dtype=np.int64)
        alive = np.zeros(n, dtype=bool)
        for member in groups.members:
            scores, channel_alive = _member_scores(member, *data)
            ok = member.groups >= 0
            if scores is None or not ok.any():
                continue
            g = member.groups[ok]
            np.add.at(total, g, scores[ok])
            np.maximum.at(maximum, g, scores[ok])
            np.add.at(self.sizes, g, 1)
            np.logical_or.at(alive, g, channel_alive[ok])
        counts = np.maximum(self.sizes, 1)
        self.scores = {"sum": total, "mean": total / counts, "max": maximum}[combine]
        self.scored = self.sizes > 0
        self.already = ~alive & self.scored


def _unscored_layers(groups: ChannelGroups, table: _GroupTable) -> dict[str, str]:
    """`{layer name: reason}` for pruned layers with safe groups that no weight scores:
    groups are chosen by their scores, so these are never pruned."""
    safe: dict[str, list[int]] = {}
    for member in groups.members:
        if member.wrapper is not None:
            safe.setdefault(member.slot.layer.name, []).extend(
                member.groups[member.groups >= 0].tolist())
    return {name: "no pruned weight scores its channel groups (its masked weights only follow)"
            for name, index in safe.items() if index and not table.scored[index].any()}


def _member_scores(member, gradients, activations, learned):
    """A member's per-channel scores (None if it only follows) and which channels live;
    weights with `learned` scores (`{path: score per weight}`) are scored by them."""
    wrapper, slot = member.wrapper, member.slot
    names = set(wrapper.weight_names or ())
    variables = variables_by_name(wrapper.layer)
    masked = [n for n in slot.axes if n in names]
    if not masked:
        return None, None
    mask = np.asarray(wrapper.masks[wrapper.weight_names.index(masked[0])])
    alive = by_channel(mask, slot.axes[masked[0]] % mask.ndim).any(axis=1)
    scored = [n for n in slot.scored if n in names]
    if not scored:
        return None, alive
    pattern, paths = wrapper.pattern, [variables[n].path for n in scored]
    if any(path in learned for path in paths):
        scores = sum(pattern.learned_along(learned[path], slot.axes[n])
                     for n, path in zip(scored, paths) if path in learned)
        return pattern.protect_learned(scores), alive
    scores = sum(
        pattern.scores_along(np.asarray(variables[n]), slot.axes[n],
                             gradients.get(variables[n].path),
                             activations.get(variables[n].path))
        for n in scored)
    return pattern.protect(scores), alive


def _component_units(groups: ChannelGroups, table: "_GroupTable") -> list[Unit]:
    """One unit per set of coupled layers that has scored groups."""
    members_of: dict[int, list] = {}
    shapes_of: dict[int, list] = {}
    for member in groups.members:
        for c in np.unique(groups.component[member.groups[member.groups >= 0]]):
            if all(w is not member.wrapper for w in members_of.get(int(c), [])):
                members_of.setdefault(int(c), []).append(member.wrapper)
            variables = variables_by_name(member.slot.layer)
            shapes_of.setdefault(int(c), []).extend(
                tuple(variables[n].shape) for n in member.slot.scored if n in variables)
    units = []
    for component, members in sorted(members_of.items()):
        index = np.flatnonzero((groups.component == component) & table.scored)
        if index.size:
            units.append(Unit(table.scores[index], table.sizes[index], table.already[index],
                              members, _erk_factor(shapes_of[component],
                                                   int(table.sizes[index].sum())), index))
    return units


def _erk_factor(shapes: list[tuple[int, ...]], channels: int) -> float:
    """A unit's ERK factor: its channel count times its kernels' ERK density
    (sum of their dims over their sizes, as for one weight tensor)."""
    size = sum(int(np.prod(s)) for s in shapes)
    return channels * sum(sum(s) for s in shapes) / size if size else float(channels)


def _select_for_cost(model, groups, wrappers, units, sparsity: float, final: float,
                     target: str, pattern) -> list:
    """The smallest fraction of groups whose removal brings the cost to `1 - sparsity`
    (for latency: the measured latency, through the calibrated table)."""
    if target != "latency":
        k = _COST_INDEX[target]
        return _bisected(units, sparsity, final, lambda g: groups.cost(g)[k], 1 - sparsity,
                         target, groups.count)
    table = pattern.latency_model()
    latency = LatencyCost(groups, table)
    dense = []  # the stripped model, made once: the table converts it once

    def shrunk(by_group: np.ndarray) -> tuple:
        dense[:] = dense or [strip(model)]
        return dense[0], _candidate(model, groups, wrappers, by_group)

    def chooser(ranked: list[Unit]):
        return lambda ratio: _by_group(ranked, _bisected(
            ranked, sparsity, final, latency, ratio, target, groups.count), groups.count)

    rankings = {"per microsecond": chooser(_priced(units, latency, groups)),
                "importance": chooser(units)}
    first = {name: choose(1 - sparsity) for name, choose in rankings.items()}
    if np.array_equal(*first.values()):  # layer scope: pricing a unit changes no choice
        rankings.pop("importance")
    candidates = []
    for name, choose in rankings.items():
        calibration = Calibration(f"{fingerprint(model)} {name}", latency, table)
        by_group = calibrated_selection(choose, latency, calibration, 1 - sparsity, shrunk)
        candidates.append((calibration.shortfall(1 - sparsity,
                                                 latency(by_group) / latency.dense),
                           _importance_removed(units, by_group), by_group))
    # NetAdapt's choice among proposals: the measured latency met, then the least lost.
    by_group = min(candidates, key=lambda c: c[:2])[2]
    return [by_group[u.index] for u in units]


def _importance_removed(units: list[Unit], by_group: np.ndarray) -> float:
    """The importance the groups `by_group` take away (what a global scope minimizes):
    the scores, LAMP-normalized in a `"lamp"` scope, of the groups not pruned already."""
    total = 0.0
    for unit in units:
        scores = lamp_scores(unit.scores) if unit.scope == "lamp" else unit.scores
        taken = by_group[unit.index] & ~unit.already & np.isfinite(scores)
        total += float(np.sum(scores[taken]))
    return total


def _bisected(units, sparsity: float, final: float, measure, ratio: float, target: str,
              count: int) -> list:
    """The smallest fraction of every unit's groups whose removal brings `measure` to at
    most `ratio` of its dense value (nested choices, so a bisection finds it)."""
    dense = measure(np.zeros(count, dtype=bool))
    goal = ratio * dense

    def cost(pruned: list) -> float:
        return measure(_by_group(units, pruned, count))

    def choose(fraction: float) -> list:
        return _select_units(units, sparsity, final, fraction)

    best = choose(1.0)
    reached = cost(best)
    if reached > goal:
        warnings.warn(
            f"Channels(target={target!r}): removing every prunable channel group leaves "
            f"{reached / dense:.3f} of the dense model's {target}, above the target "
            f"{ratio:.3f}.", stacklevel=user_stacklevel())
        return best
    low, high = 0.0, 1.0
    for _ in range(30):
        middle = (low + high) / 2
        candidate = choose(middle)
        if cost(candidate) <= goal:
            high, best = middle, candidate
        else:
            low = middle
    return best


def _by_group(units, pruned: list, count: int) -> np.ndarray:
    by_group = np.zeros(count, dtype=bool)
    for unit, chosen in zip(units, pruned):
        by_group[unit.index] = chosen
    return by_group


def _candidate(model, groups, wrappers, by_group: np.ndarray):
    """A shrunk copy of `model` with the groups `by_group` removed: what the latency
    calibration times (the model itself is not changed)."""
    plain = strip(model)
    layers = {layer.name: layer for layer in all_layers(plain)}
    for wrapper, masks in _member_masks(groups, wrappers, by_group):
        variables = variables_by_name(layers[wrapper.layer.name])
        for name, mask in zip(wrapper.weight_names, masks):
            variables[name].assign(np.asarray(variables[name]) * mask)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return shrink(plain)


def _priced(units: list[Unit], latency: LatencyCost, groups) -> list[Unit]:
    """The units with their scores divided by the microseconds one of their groups saves
    (at the current masks), so that a shared threshold weighs importance against time."""
    current = np.zeros(groups.count, dtype=bool)
    for unit in units:
        current[unit.index] = unit.already
    saved = latency.savings([u.index for u in units], current)
    floor = max(float(saved.max(initial=0.0)) * 1e-3, 1e-9)
    return [dataclasses.replace(u, scores=u.scores / max(float(s), floor))
            for u, s in zip(units, saved)]


def _member_masks(groups, wrappers, pruned) -> Iterator[tuple]:
    """`(wrapper, masks)` for every wrapper: its old masks times the kept channels of
    each of its slots."""
    masks = {id(w): [np.asarray(m) for m in w.masks] for w in wrappers}
    for member in groups.members:
        wrapper = member.wrapper
        keep = np.ones(member.groups.size, dtype=bool)
        ok = member.groups >= 0
        keep[ok] = ~pruned[member.groups[ok]]
        for name, axis in member.slot.axes.items():
            if name in (wrapper.weight_names or ()):
                i = wrapper.weight_names.index(name)
                old = masks[id(wrapper)][i]
                masks[id(wrapper)][i] = old * expand_along(keep, old.shape, axis).astype(
                    old.dtype)
    for wrapper in wrappers:
        yield wrapper, masks[id(wrapper)]
