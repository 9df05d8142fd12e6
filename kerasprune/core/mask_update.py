"""`update_masks(model, sparsity)`: recompute every mask of a model by magnitude.

This is what the callbacks call. It gathers the model's `PruneWrapper` layers into
pruning sets (one per layer, or one global set), asks `kerasprune.core.selection` for new
masks and hands them to the wrappers, which apply them.
"""

from __future__ import annotations

from typing import Mapping

import keras
import numpy as np

from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.selection import masks_for_set
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
) -> float:
    """Recompute every mask of `model` by magnitude for the target `sparsity`.

    Wrappers with `scope="global"` and no override share one threshold; every other
    wrapper is pruned on its own. Masks only grow: what was pruned stays pruned.

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
    """
    final = sparsity if final_sparsity is None else final_sparsity
    wrappers = check_pruning_request(model, sparsity, final)
    if gradients is not None and not isinstance(gradients, Mapping):
        raise TypeError(
            "`gradients` must be a dict {weight path: [gradient per batch]} or None. "
            f"Received: gradients of type {type(gradients).__name__}"
        )
    followers = [w for w in wrappers if w.follows is not None]
    wrappers = [w for w in wrappers if w.follows is None]
    shared = [w for w in wrappers if w.scope == "global" and w.sparsity_override is None
              and w.sparsity_scale is None]
    sets = [(shared, sparsity)] if shared else []
    sets += [([w], layer_target(w, sparsity, final)) for w in wrappers if w not in shared]
    for members, target in sets:
        new_masks = masks_for_set(members, target, gradients, activations)
        for wrapper, masks in zip(members, new_masks):
            wrapper.assign_masks(masks)
    update_followers(followers, {w.layer.name: w for w in wrappers})
    return overall_sparsity(wrappers)


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
    for wrapper, target in targets.items():
        wrapper.assign_masks(masks_for_set([wrapper], target, gradients)[0])


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
