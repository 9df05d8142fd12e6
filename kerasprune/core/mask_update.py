"""`update_masks(model, sparsity)`: recompute every mask of a model by magnitude.

This is what the callbacks call. It refuses NaN/Inf weights, gathers the model's
`PruneWrapper` layers into pruning sets by scope (one per layer, or one set per
model-wide scope: global, LAMP, ERK), shares the target with `kerasprune.core.allocation`
(floors, ERK), asks `kerasprune.core.selection` for the pruned groups and hands the masks
to the wrappers one at a time, which apply them.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import keras
import numpy as np

from kerasprune.core.allocation import erk_kept, floor_weights, lamp_scores
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.prune_wrapper import ALLOCATED_SCOPES
from kerasprune.core.selection import PruningSet
from kerasprune.core.validation import check_sparsity


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


def update_masks(
    model,
    sparsity: float,
    *,
    final_sparsity: float | None = None,
    gradients: Mapping[str, list] | None = None,
    masks_only_grow: bool = True,
) -> float:
    """Recompute every mask of `model` by magnitude for the target `sparsity`.

    Wrappers are pruned in sets by their `scope`: `"layer"` wrappers (and wrappers with an
    override) each on their own; all `"global"` wrappers with one magnitude threshold;
    all `"lamp"` wrappers with one threshold on LAMP-normalized scores; all `"erk"`
    wrappers with per-tensor sparsities from the Erdos-Renyi-Kernel rule. Each set reaches
    its target exactly (to the granularity of the pattern's groups), and in every set each
    tensor keeps at least its wrapper's `min_density` of its weights (see
    `kerasprune.prune`). A tensor that still ends fully pruned is named in a warning.

    Args:
        model: a model holding `PruneWrapper` layers (see `kerasprune.prune`).
        sparsity: the model-wide target now, in [0, 1).
        final_sparsity: the target at the end of pruning, used to ramp per-layer absolute
            overrides along the schedule; defaults to `sparsity`.
        gradients: `{weight path: [gradient on batch 1, ...]}` for patterns whose
            criterion needs the loss gradient (`Channels("taylor")`); see
            `kerasprune.TaylorImportance`.
        masks_only_grow: True (GMP, IMP): what was pruned stays pruned, so a lower
            target leaves the masks as they are. False: the masks are chosen afresh and
            may shrink; restored weights restart from zero (for regrowth methods).

    Returns:
        The sparsity of all pruned weights together after the update.

    Raises:
        ValueError: if a pruned weight holds NaN or infinite values (no mask is changed).

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> pruned = kerasprune.prune(model)
    >>> round(kerasprune.update_masks(pruned, 0.5), 2)
    0.5
    >>> round(kerasprune.update_masks(pruned, 0.25, masks_only_grow=False), 2)
    0.25
    """
    sparsity = check_sparsity("sparsity", sparsity)
    final = sparsity if final_sparsity is None else check_sparsity("final_sparsity", final_sparsity)
    if not isinstance(masks_only_grow, bool):
        raise TypeError(
            "`masks_only_grow` must be True or False. "
            f"Received: masks_only_grow={masks_only_grow!r}"
        )
    wrappers = prune_wrappers(model)
    if not wrappers:
        raise ValueError(
            "The model has no PruneWrapper layers: call kerasprune.prune(model) first."
        )
    followers = [w for w in wrappers if w.follows is not None]
    wrappers = [w for w in wrappers if w.follows is None]
    _check_finite(wrappers)
    total = zeros = 0
    empty = []
    for scope, members, target in _pruning_sets(wrappers, sparsity, final):
        transform = lamp_scores if scope == "lamp" else None
        pruning_set = PruningSet(members, gradients, masks_only_grow=masks_only_grow,
                                 transform=transform)
        pruned = _select(pruning_set, scope, target)
        for wrapper, masks in pruning_set.masks(pruned):
            wrapper.assign_masks(masks)
        counts = pruning_set.weight_counts()
        kept = pruning_set.weight_counts(pruned, flagged=False)
        total, zeros = total + int(counts.sum()), zeros + int((counts - kept).sum())
        empty += [_tensor_name(*pruning_set.tensors[t]) for t in np.flatnonzero(kept == 0)]
    _update_followers(followers, {w.layer.name: w for w in wrappers})
    if empty:
        warnings.warn(
            f"update_masks: these weights are fully pruned: {empty}; their layers' outputs "
            "no longer depend on their inputs. Lower the target, give those layers a "
            "`sparsity_overrides` entry, raise `min_density` in kerasprune.prune, or use "
            "scope='erk' or 'lamp'.",
            stacklevel=2,
        )
    return zeros / total if total else 0.0


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


def _select(pruning_set: PruningSet, scope: str, target: float) -> np.ndarray:
    counts = pruning_set.weight_counts()
    densities = np.array([w.min_density for w, _ in pruning_set.tensors], dtype=np.float64)
    floors = floor_weights(counts, target, densities)
    if scope != "erk":
        return pruning_set.select(target, floors)
    alive = pruning_set.weight_counts(pruning_set.already, flagged=False)
    shapes = [tuple(w.pruned_weights[i].shape) for w, i in pruning_set.tensors]
    budget = int(counts.sum()) - int(round(target * int(counts.sum())))
    kept = erk_kept(shapes, budget, np.minimum(floors, alive), alive)
    return pruning_set.select_each((counts - kept) / np.maximum(counts, 1))


def _check_finite(wrappers: list) -> None:
    """Refuse NaN or infinite pruned weights before any mask changes."""
    bad = [_tensor_name(w, i) for w in wrappers for i, v in enumerate(w.pruned_weights)
           if not bool(keras.ops.all(keras.ops.isfinite(v)))]
    if bad:
        raise ValueError(
            f"update_masks: {bad} hold NaN or infinite values, so their magnitudes cannot "
            "be ranked; no mask was changed. Such values come from a diverged training run: "
            "lower the learning rate or restore a checkpoint."
        )


def _tensor_name(wrapper, index: int) -> str:
    return f"{wrapper.layer.name}/{wrapper.pruned_weights[index].name}"


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
