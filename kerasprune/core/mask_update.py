"""`update_masks(model, sparsity)`: recompute every mask of a model by magnitude.

This is what the callbacks call. It gathers the model's `PruneWrapper` layers into
pruning sets (one per layer, or one global set), asks `kerasprune.core.selection` for new
masks and hands them to the wrappers, which apply them.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.selection import masks_for_set
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
) -> float:
    """Recompute every mask of `model` by magnitude for the target `sparsity`.

    Wrappers with `scope="global"` and no override share one threshold; every other
    wrapper is pruned on its own. Wrappers whose pattern selects over the whole model
    (`Channels` with coupled channel groups) are handed to it together. Masks only grow:
    what was pruned stays pruned.

    Args:
        model: a model holding `PruneWrapper` layers (see `kerasprune.prune`).
        sparsity: the model-wide target now, in [0, 1).
        final_sparsity: the target at the end of pruning, used to ramp per-layer absolute
            overrides along the schedule; defaults to `sparsity`.
        gradients: `{weight path: [gradient on batch 1, ...]}` for patterns whose
            criterion needs the loss gradient (`Channels("taylor")`); see
            `kerasprune.TaylorImportance`.

    Returns:
        The sparsity of all pruned weights together after the update.

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> pruned = kerasprune.prune(model)
    >>> round(kerasprune.update_masks(pruned, 0.5), 2)
    0.5
    """
    sparsity = check_sparsity("sparsity", sparsity)
    final = sparsity if final_sparsity is None else check_sparsity("final_sparsity", final_sparsity)
    wrappers = prune_wrappers(model)
    if not wrappers:
        raise ValueError(
            "The model has no PruneWrapper layers: call kerasprune.prune(model) first."
        )
    followers = [w for w in wrappers if w.follows is not None]
    wrappers = [w for w in wrappers if w.follows is None]
    joint = [w for w in wrappers if w.pattern.selects_over_model]
    if joint:
        masks = joint[0].pattern.masks_for_model(model, joint, sparsity, final, gradients)
        for wrapper, wrapper_masks in zip(joint, masks):
            wrapper.assign_masks(wrapper_masks)
    alone = [w for w in wrappers if not w.pattern.selects_over_model]
    shared = [w for w in alone if w.scope == "global" and w.sparsity_override is None
              and w.sparsity_scale is None]
    sets = [(shared, sparsity)] if shared else []
    sets += [([w], layer_target(w, sparsity, final)) for w in alone if w not in shared]
    for members, target in sets:
        for wrapper, masks in zip(members, masks_for_set(members, target, gradients)):
            wrapper.assign_masks(masks)
    _update_followers(followers, {w.layer.name: w for w in wrappers})
    return overall_sparsity(wrappers)


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
    for wrapper, target in targets.items():
        target = check_sparsity("sparsity", target)
        wrapper.assign_masks(masks_for_set([wrapper], target, gradients)[0])


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
