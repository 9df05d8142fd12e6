"""`update_masks(model, sparsity)`: recompute every mask of a model by magnitude.

This is what the callbacks call. It checks the request (`check_pruning_request`: targets,
NaN/Inf weights) before any mask changes, gathers the model's pruned weights into pruning
sets by scope (in layer scope each weight tensor on its own; one set per model-wide scope:
global, LAMP, ERK), shares the target with `kerasprune.core.allocation` (floors, ERK),
asks `kerasprune.core.selection` for the pruned groups and hands the masks to the
wrappers one at a time, which apply them.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import keras
import numpy as np

from kerasprune.core.allocation import erk_kept, floor_weights, lamp_scores
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.prune_wrapper import ALLOCATED_SCOPES
from kerasprune.core.selection import PruningSet
from kerasprune.core.validation import check_finite_weights, check_sparsity


def layer_target(wrapper, sparsity: float, final_sparsity: float) -> float:
    """The sparsity a wrapper should have when the model-wide target is `sparsity`.

    A wrapper with an absolute `sparsity_override` reaches it when the model reaches
    `final_sparsity`, and follows the schedule proportionally before that; a wrapper with
    a `sparsity_scale` gets that multiple of the model-wide target (`check_pruning_request`
    refuses a result of 1 or more).
    """
    if wrapper.sparsity_override is not None:
        if final_sparsity <= 0:
            return 0.0
        return wrapper.sparsity_override * sparsity / final_sparsity
    if wrapper.sparsity_scale is not None:
        return wrapper.sparsity_scale * sparsity
    return sparsity


def update_masks(
    model,
    sparsity: float,
    *,
    final_sparsity: float | None = None,
    gradients: Mapping[str, list] | None = None,
    activations: Mapping[str, object] | None = None,
    masks_only_grow: bool = True,
) -> float:
    """Recompute every mask of `model` by magnitude for the target `sparsity`.

    Wrappers are pruned in sets by their `scope`: in `"layer"` wrappers (and wrappers
    with an override) each weight tensor on its own (each kernel of an attention or
    recurrent layer too); all `"global"` wrappers with one magnitude threshold;
    all `"lamp"` wrappers with one threshold on LAMP-normalized scores; all `"erk"`
    wrappers with per-tensor sparsities from the Erdos-Renyi-Kernel rule. Each set reaches
    its target exactly (to the granularity of the pattern's groups), and in every set each
    tensor keeps at least its wrapper's `min_density` of its weights (see
    `kerasprune.prune`). A tensor that still ends fully pruned is named in a warning.
    Wrappers whose pattern selects over the whole model (`Channels` with coupled channel
    groups) are handed to it together.

    Args:
        model: a model holding `PruneWrapper` layers (see `kerasprune.prune`).
        sparsity: the model-wide target now, in [0, 1).
        final_sparsity: the target at the end of pruning, used to ramp per-layer absolute
            overrides along the schedule; defaults to `sparsity`.
        gradients: `{weight path: [gradient on batch 1, ...]}` for patterns whose
            criterion needs the loss gradient (`Channels("taylor")`); see
            `kerasprune.CriterionData`.
        activations: `{weight path: ChannelActivity}` for patterns whose criterion reads
            the layer's output (`Channels("apoz")`, `Channels("mean_activation")`).
        masks_only_grow: True (GMP, IMP): what was pruned stays pruned, so a lower
            target leaves the masks as they are. False: the masks are chosen afresh and
            may shrink; restored weights restart from zero (for regrowth methods).

    Returns:
        The sparsity of all pruned weights together after the update.

    Raises:
        ValueError, TypeError: before any mask changes, for what `check_pruning_request`
            refuses (bad targets, a layer taken to 100%, NaN/Inf weights, ...).

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> pruned = kerasprune.prune(model)
    >>> round(kerasprune.update_masks(pruned, 0.5), 2)
    0.5
    >>> round(kerasprune.update_masks(pruned, 0.25, masks_only_grow=False), 2)
    0.25
    """
    final = sparsity if final_sparsity is None else final_sparsity
    wrappers = check_pruning_request(model, sparsity, final)
    sparsity = float(sparsity)
    if not isinstance(masks_only_grow, bool):
        raise TypeError(
            "`masks_only_grow` must be True or False. "
            f"Received: masks_only_grow={masks_only_grow!r}"
        )
    if gradients is not None and not isinstance(gradients, Mapping):
        raise TypeError(
            "`gradients` must be a dict {weight path: [gradient per batch]} or None. "
            f"Received: gradients of type {type(gradients).__name__}"
        )
    followers = [w for w in wrappers if w.follows is not None]
    wrappers = [w for w in wrappers if w.follows is None]
    counts, empty = np.zeros(2, dtype=np.int64), []
    joint = [w for w in wrappers if w.pattern.selects_over_model]
    if joint:
        counts += _prune_over_model(model, joint, sparsity, float(final), gradients, activations)
    alone = [w for w in wrappers if not w.pattern.selects_over_model]
    for scope, members, target in _pruning_sets(alone, sparsity, float(final)):
        pruning_set = PruningSet(members, gradients, activations=activations,
                                 masks_only_grow=masks_only_grow,
                                 transform=lamp_scores if scope == "lamp" else None)
        counts += _prune(pruning_set, scope, target, empty)
    update_followers(followers, {w.layer.name: w for w in wrappers})
    if empty:
        warnings.warn(
            f"update_masks: these weights are fully pruned: {empty}; their layers' outputs "
            "no longer depend on their inputs. Lower the target, give those layers a "
            "`sparsity_overrides` entry, raise `min_density` in kerasprune.prune, or use "
            "scope='erk' or 'lamp'.",
            stacklevel=user_stacklevel(),
        )
    return float(counts[1] / counts[0]) if counts[0] else 0.0


def _pruning_sets(wrappers: list, sparsity: float, final: float) -> list[tuple[str, list, float]]:
    """`(scope, members, target)` for each set of wrappers pruned together."""
    sets, shared = [], set()
    for scope in ALLOCATED_SCOPES:
        members = [w for w in wrappers if w.scope == scope and w.sparsity_override is None
                   and w.sparsity_scale is None]
        shared.update(id(w) for w in members)
        sets += [(scope, members, sparsity)] if members else []
    sets += [("layer", [w], layer_target(w, sparsity, final))
             for w in wrappers if id(w) not in shared]
    return sets


def _prune_over_model(model, wrappers: list, sparsity: float, final: float, gradients,
                      activations) -> np.ndarray:
    """Assign the masks a model-wide pattern (coupled channel groups) chooses for
    `wrappers`; returns `[weights, pruned weights]` of their pruned tensors."""
    masks = wrappers[0].pattern.masks_for_model(model, wrappers, sparsity, final, gradients,
                                                activations)
    counts = np.zeros(2, dtype=np.int64)
    for wrapper, wrapper_masks in zip(wrappers, masks):
        wrapper.assign_masks(wrapper_masks)
        for mask in wrapper_masks:
            counts += [np.size(mask), np.size(mask) - np.count_nonzero(mask)]
    return counts


def _prune(pruning_set: PruningSet, scope: str, target: float, empty: list) -> np.ndarray:
    """Select and assign the masks of one set; returns `[weights, pruned weights]` and
    appends the names of the tensors left with no weight to `empty`."""
    pruned = _select(pruning_set, scope, target)
    pruning_set.release_scores()
    for wrapper, masks in pruning_set.masks(pruned):
        wrapper.assign_masks(masks)
    counts = pruning_set.weight_counts()
    kept = pruning_set.weight_counts(pruned)
    empty += [_tensor_name(*pruning_set.tensors[t]) for t in np.flatnonzero(kept == 0)]
    return np.array([counts.sum(), (counts - kept).sum()], dtype=np.int64)


def _select(pruning_set: PruningSet, scope: str, target: float) -> np.ndarray:
    if scope == "layer":
        return pruning_set.select_each([target] * len(pruning_set.tensors))
    counts = pruning_set.weight_counts()
    densities = np.array([w.min_density for w, _ in pruning_set.tensors], dtype=np.float64)
    floors = floor_weights(counts, target, densities)
    if scope != "erk":
        return pruning_set.select(target, floors)
    alive = pruning_set.weight_counts(pruning_set.already)
    shapes = [tuple(w.pruned_weights[i].shape) for w, i in pruning_set.tensors]
    budget = int(counts.sum()) - int(round(target * int(counts.sum())))
    kept = erk_kept(shapes, budget, np.minimum(floors, alive), alive)
    return pruning_set.select_each((counts - kept) / np.maximum(counts, 1))


def _tensor_name(wrapper, index: int) -> str:
    return f"{wrapper.layer.name}/{wrapper.pruned_weights[index].name}"


def check_pruning_request(model, sparsity: float, final_sparsity: float) -> list:
    """Check that `model` can be pruned to `sparsity` now; returns its wrappers.

    Refuses, before any mask changes: a `model` that is not a Keras layer or model, one
    without `PruneWrapper` layers or not built, targets out of [0, 1), a `final_sparsity`
    below `sparsity`, a layer whose `sparsity_scale` would take it to 100% or more, a
    normalization wrapper following a layer that is not pruned, and NaN/Inf weights. The
    callbacks call it before training with their final target.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(4, name="d1")]), sparsity_overrides={"d1": "2x"})
    >>> check_pruning_request(model, 0.6, 0.6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Layer 'd1' would be pruned to 100% or more: its `sparsity_scale` 2.0 ...
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            "`model` must be a keras.Model holding PruneWrapper layers. "
            f"Received: model={model!r} of type {type(model).__name__}"
        )
    sparsity = check_sparsity("sparsity", sparsity)
    final = check_sparsity("final_sparsity", final_sparsity)
    if final < sparsity:
        raise ValueError(
            "`final_sparsity` (the target at the end of pruning) must be >= `sparsity`. "
            f"Received: sparsity={sparsity}, final_sparsity={final}"
        )
    wrappers = prune_wrappers(model)
    if not wrappers:
        raise ValueError(
            f"Model '{model.name}' has no PruneWrapper layers: call kerasprune.prune(model) "
            "first."
        )
    unbuilt = [w.name for w in wrappers if not w.masks]
    if unbuilt:
        raise ValueError(
            f"PruneWrapper layers {unbuilt} are not built yet (they have no weights): call "
            "the model on data, or build it, before pruning."
        )
    for wrapper in wrappers:
        if wrapper.follows is None and layer_target(wrapper, sparsity, final) >= 1.0:
            raise ValueError(
                f"Layer '{wrapper.layer.name}' would be pruned to 100% or more: its "
                f"`sparsity_scale` {wrapper.sparsity_scale} (a '{wrapper.sparsity_scale}x' "
                f"entry of `sparsity_overrides`) times the model-wide sparsity {sparsity} is "
                f"{wrapper.sparsity_scale * sparsity:.4g}. Lower it so that the layer stays "
                "below 1 at the final target."
            )
    leaders = {w.layer.name for w in wrappers if w.follows is None}
    for follower in (w for w in wrappers if w.follows is not None):
        if follower.follows not in leaders:
            raise ValueError(
                f"Wrapper '{follower.name}' follows layer '{follower.follows}', which is not "
                f"pruned in this model. Pruned layers: {sorted(leaders)}"
            )
    check_finite_weights(w for w in wrappers if w.follows is None)
    return wrappers


def update_layer_masks(targets: Mapping, *, gradients: Mapping[str, list] | None = None) -> None:
    """Recompute the masks of some wrappers, each pruned on its own to its own target.

    For policies where every layer follows its own schedule (`kerasprune.tfmot`); the
    other wrappers of the model are left as they are. Masks only grow.

    Args:
        targets: `{PruneWrapper: sparsity in [0, 1)}`.
        gradients: as for `update_masks`.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)),
    ...     keras.layers.Dense(4, name="a"), keras.layers.Dense(4, name="b")]))
    >>> a, b = kerasprune.prune_wrappers(model)
    >>> update_layer_masks({a: 0.75})
    >>> a.sparsity, b.sparsity
    (0.75, 0.0)
    """
    targets = {wrapper: check_sparsity("sparsity", t) for wrapper, t in targets.items()}
    check_finite_weights(targets)
    empty: list = []
    for wrapper, target in targets.items():
        _prune(PruningSet([wrapper], gradients), "layer", target, empty)


def update_followers(followers: list, leaders: dict) -> None:
    """Give each follower (a normalization after a channel-pruned layer) the output
    channels its leader keeps; `leaders` maps layer names to their wrappers."""
    for follower in followers:
        leader = leaders[follower.follows]  # checked by `check_pruning_request`
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
