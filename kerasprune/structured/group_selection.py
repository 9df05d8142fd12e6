"""Group selection: which channel groups of a model to prune, through the one selection rule.

Every pruned layer scores its own channels (its pattern's criterion, normalization and
per-layer caps); a group's score combines its members' scores (`"sum"`, `"mean"` or
`"max"`, the pattern's `combine`), its size is its number of member channels, and
`kerasprune.core.selection.select_pruned` chooses the groups, exactly as it chooses the
channels of a single layer. In layer scope each set of coupled layers (a residual stream,
a conv and its depthwise conv, a lone conv) is pruned to the target on its own; in global
scope all groups compete. With `target="flops"` or `"params"` the fraction of groups is
found (by bisection, the choice being nested) so that the model's multiply-accumulates or
parameters are at most `1 - sparsity` of the dense model's. Each member's masks are then
written along its channel axes; pruned groups stay pruned.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

from kerasprune.core.caller import user_stacklevel
from kerasprune.core.mask_update import layer_target
from kerasprune.core.selection import select_pruned
from kerasprune.structured.channel_groups import ChannelGroups
from kerasprune.structured.channel_analysis import variables_by_name
from kerasprune.structured.criteria import by_channel, channel_axis

_COST_INDEX = {"flops": 0, "params": 1}


class LayersLeftWholeWarning(UserWarning):
    """Channel pruning left some pruned layers whole: no channel group of theirs is safe."""


def group_masks(
    model,
    wrappers: list,
    sparsity: float,
    final_sparsity: float | None = None,
    gradients: Mapping[str, list] | None = None,
    activations: Mapping[str, object] | None = None,
) -> list[list[np.ndarray]]:
    """New masks for `wrappers` (all of them channel-pruned in `model`), chosen by group.

    `gradients` and `activations` map weight paths to the data of data-driven criteria.
    Returns one list of masks per wrapper, in the order of `wrapper.pruned_weights`.
    """
    final = sparsity if final_sparsity is None else final_sparsity
    options = _shared_options(wrappers)
    groups = ChannelGroups(model)
    table = _GroupTable(groups, (gradients or {}, activations or {}), options["combine"])
    sets = _selection_sets(groups, table, sparsity, final)
    if options["target"] == "channels":
        pruned = table.select(sets)
    else:
        pruned = _select_for_cost(groups, table, sets, sparsity, options["target"])
    left_whole = {**groups.left_whole, **_unscored_layers(groups, table)}
    if left_whole:
        warnings.warn(
            "Channel pruning leaves these pruned layers whole (no channel of theirs can be "
            f"removed exactly): {left_whole}", LayersLeftWholeWarning,
            stacklevel=user_stacklevel())
    return _write_masks(groups, wrappers, pruned)


def per_layer_masks(wrappers: list, sparsity: float, final_sparsity: float | None = None,
                    gradients: Mapping[str, list] | None = None,
                    activations: Mapping[str, object] | None = None) -> list[list[np.ndarray]]:
    """Masks choosing each wrapper's channels on its own (no graph to couple them).

    The first pruned weight (the kernel) scores the channels; every pruned weight (the
    bias too) loses the same channels.
    """
    final = sparsity if final_sparsity is None else final_sparsity
    gradients, activations = gradients or {}, activations or {}
    result = []
    for wrapper in wrappers:
        kernel = wrapper.pruned_weights[0]
        axis = channel_axis(tuple(kernel.shape))
        scores = wrapper.pattern.protect(wrapper.pattern.scores_along(
            np.asarray(kernel), axis, gradients.get(kernel.path), activations.get(kernel.path)))
        old = [np.asarray(m) for m in wrapper.masks]
        already = ~by_channel(old[0], axis).any(axis=1)
        pruned = select_pruned(scores, np.ones(scores.size, dtype=np.int64), already,
                               layer_target(wrapper, sparsity, final))
        axes = [axis if m.ndim == old[0].ndim else 0 for m in old]
        result.append([m * expand_along(~pruned, m.shape, a).astype(m.dtype)
                       for m, a in zip(old, axes)])
    return result


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

    def select(self, sets: list[tuple[np.ndarray, float]]) -> np.ndarray:
        pruned = self.already.copy()
        for index, target in sets:
            pruned[index] = select_pruned(self.scores[index], self.sizes[index],
                                          self.already[index], target)
        return pruned


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


def _member_scores(member, gradients, activations):
    """A member's per-channel scores (None if it only follows) and which channels live."""
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
    scores = sum(
        wrapper.pattern.scores_along(np.asarray(variables[n]), slot.axes[n],
                                     gradients.get(variables[n].path),
                                     activations.get(variables[n].path))
        for n in scored)
    return wrapper.pattern.protect(scores), alive


def _selection_sets(groups, table, sparsity, final):
    """`[(group indices, target)]`: each set of coupled layers, or one global set."""
    layers_of: dict[int, list] = {}
    for member in groups.members:
        for c in np.unique(groups.component[member.groups[member.groups >= 0]]):
            layers_of.setdefault(int(c), []).append(member.wrapper)
    shared, sets = [], []
    for component, members in sorted(layers_of.items()):
        index = np.flatnonzero((groups.component == component) & table.scored)
        if all(w.scope == "global" and w.sparsity_override is None
               and w.sparsity_scale is None for w in members):
            shared.append(index)
        else:
            sets.append((index, min(layer_target(w, sparsity, final) for w in members)))
    if shared:
        sets.append((np.concatenate(shared), sparsity))
    return sets


def _select_for_cost(groups, table, sets, sparsity: float, target: str) -> np.ndarray:
    """The smallest fraction of groups whose removal brings the cost to `1 - sparsity`."""
    k = _COST_INDEX[target]
    dense = groups.cost(np.zeros(groups.count, dtype=bool))[k]
    goal = (1.0 - sparsity) * dense

    def choose(fraction: float) -> np.ndarray:
        return table.select([(index, fraction) for index, _ in sets])

    best = choose(1.0)
    reached = groups.cost(best)[k]
    if reached > goal:
        warnings.warn(
            f"Channels(target={target!r}): removing every prunable channel group leaves "
            f"{reached / dense:.3f} of the dense model's {target}, above the target "
            f"{1 - sparsity:.3f}.", stacklevel=user_stacklevel())
        return best
    low, high = 0.0, 1.0
    for _ in range(30):
        middle = (low + high) / 2
        candidate = choose(middle)
        if groups.cost(candidate)[k] <= goal:
            high, best = middle, candidate
        else:
            low = middle
    return best


def _write_masks(groups, wrappers, pruned) -> list[list[np.ndarray]]:
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
    return [masks[id(w)] for w in wrappers]
