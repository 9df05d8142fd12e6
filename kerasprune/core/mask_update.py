"""The one place masks are written: `update(model, selector)` and `update_masks`.

A pruning policy supplies a `kerasprune.core.selectors.Selector` (which groups to prune:
magnitude to a target in each scope, a threshold, drop-and-regrow, per-layer targets,
channel groups); this module checks the request before any mask changes
(`check_pruning_request`: targets, NaN/Inf weights), writes the masks the selector yields
one wrapper at a time (`write_masks`, which also zeroes the weights they prune and gives
each normalization follower its leader's channels) and returns a `MaskRecord`: what the
callbacks log. `update_masks(model, sparsity)` is the common call: magnitude to a target.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Mapping

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.mask_constraint import apply_mask
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.scopes import layer_target
from kerasprune.core.selectors import Selector, ToTarget
from kerasprune.core.validation import (
    check_finite_weights,
    check_known_keys,
    check_sparsity,
    is_bool,
    is_number,
)


@dataclass(frozen=True)
class MaskRecord:
    """What one mask update did.

    Attributes:
        sparsity: the fraction of zeros in every pruned weight of the model after it
            (normalization followers not counted).
        layers: the names of the layers whose masks were written.
        empty: `layer/weight` of the written weights left with no weight at all.
        selector: the selector that chose the masks.
    """

    sparsity: float
    layers: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()
    selector: Selector | None = None


def update(model, selector: Selector, sparsity: float = 0.0,
           final_sparsity: float | None = None) -> MaskRecord:
    """Write the masks `selector` chooses for `model`'s pruned layers; return the record.

    Everything `check_pruning_request` refuses is refused before any mask changes.

    Args:
        model: a model holding `PruneWrapper` layers.
        selector: a `kerasprune.core.selectors.Selector`.
        sparsity: the model-wide target now, in [0, 1).
        final_sparsity: the target at the end of pruning (per-layer overrides ramp
            toward it); defaults to `sparsity`.

    Example:

    >>> import keras, kerasprune
    >>> from kerasprune.core.selectors import ToTarget
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)),
    ...                                            keras.layers.Dense(4, name="d")]))
    >>> record = update(model, ToTarget(), 0.5)
    >>> record.sparsity, record.layers
    (0.5, ('d',))
    """
    final = sparsity if final_sparsity is None else final_sparsity
    wrappers = check_pruning_request(model, sparsity, final)
    leaders = [w for w in wrappers if w.follows is None]
    record = write_masks(selector.select(model, leaders, float(sparsity), float(final)),
                         wrappers=wrappers, selector=selector)
    mask_moving_averages(model)
    missed = getattr(selector, "missed", None)
    if missed:
        warnings.warn(
            "These targets were not reached: " + "; ".join(
                f"{what}: {reached:.4f} of {target:.4f}" for what, target, reached in missed)
            + ". Their patterns protect the rest from pruning (Channels' `min_channels` or "
            "`max_fraction`, or groups a pattern scores +inf): lower those, or the target.",
            stacklevel=user_stacklevel())
    return record


def write_masks(choices: Iterable | Mapping, *, wrappers: list | None = None,
                selector: Selector | None = None) -> MaskRecord:
    """Write new masks (and zero the weights they prune), one wrapper at a time.

    Args:
        choices: `(wrapper, masks)` or `(wrapper, masks, values)` items, or a dict
            `{wrapper: masks}`: one mask per pruned weight of the wrapper, in the order
            of `wrapper.pruned_weights`; `values` (optional) are new values for those
            weights, set before the masks apply.
        wrappers: every `PruneWrapper` of the model: the normalization followers of the
            written layers get their leader's channels, and the record's sparsity counts
            them all. Default: the written wrappers.
        selector: recorded in the `MaskRecord`.
    """
    items = choices.items() if isinstance(choices, Mapping) else choices
    written, empty, nonzeros = [], [], {}
    for wrapper, masks, *values in items:
        _assign(wrapper, masks, values[0] if values else None)
        written.append(wrapper)
        for weight, mask in zip(wrapper.pruned_weights, masks):
            nonzeros[id(weight)] = int(np.count_nonzero(mask))
            if not nonzeros[id(weight)]:
                empty.append(f"{wrapper.layer.name}/{weight.name}")
    wrappers = written if wrappers is None else wrappers
    leaders = {w.layer.name: w for w in written}
    for follower in wrappers:
        if follower.follows in leaders:
            _assign(follower, _follower_masks(follower, leaders[follower.follows]), None)
    if empty:
        warnings.warn(
            f"These weights are now fully pruned: {empty}; their layers' outputs no longer "
            "depend on their inputs. Lower the target, give those layers a "
            "`sparsity_overrides` entry, raise `min_density` in kerasprune.prune, or use "
            "scope='erk' or 'lamp'.",
            stacklevel=user_stacklevel(),
        )
    return MaskRecord(sparsity=overall_sparsity(wrappers, nonzeros),
                      layers=tuple(w.layer.name for w in written), empty=tuple(empty),
                      selector=selector)


def _assign(wrapper, masks, values) -> None:
    """The one assignment of mask variables: checked shapes, then the weights re-masked."""
    if len(masks) != len(wrapper.masks):
        raise ValueError(
            f"Expected {len(wrapper.masks)} masks for layer '{wrapper.layer.name}'. "
            f"Received: {len(masks)} masks"
        )
    for weight, mask, value in zip(wrapper.pruned_weights, wrapper.masks, masks):
        if tuple(np.shape(value)) != tuple(mask.shape):
            raise ValueError(
                f"Mask for '{weight.path}' must have shape {tuple(mask.shape)}. "
                f"Received: shape {tuple(np.shape(value))}"
            )
    for weight, new in zip(wrapper.pruned_weights, values or ()):
        weight.assign(np.asarray(new).astype(weight.dtype))
    for mask, value in zip(wrapper.masks, masks):
        mask.assign(np.asarray(value).astype(mask.dtype))
    wrapper.apply_masks()


def mask_moving_averages(model) -> None:
    """Zero the pruned weights in the moving averages `model`'s optimizer keeps
    (`use_ema=True`): Keras writes those averages into the model when fit ends and in
    `keras.callbacks.SwapEMAWeights`, and it averages the weights before the masks apply,
    so the averages hold the masks only when masked here."""
    averages = _compat.moving_averages(getattr(model, "optimizer", None))
    if not averages:
        return
    for wrapper in prune_wrappers(model):
        for weight, mask in zip(wrapper.pruned_weights, wrapper.masks):
            average = averages.get(id(weight))
            if average is not None:
                average.assign(apply_mask(average, mask))


def reset_moving_averages(model, variables) -> None:
    """Set the moving averages `model`'s optimizer keeps (`use_ema=True`) of `variables` to
    their current values: after a rewind, averages of the weights before it would be
    written back into the model when fit ends."""
    averages = _compat.moving_averages(getattr(model, "optimizer", None))
    for variable in variables:
        average = averages.get(id(variable))
        if average is not None:
            average.assign(variable)


def _follower_masks(follower, leader) -> list[np.ndarray]:
    """A follower's masks (a normalization after a channel-pruned layer): the output
    channels its leader keeps."""
    kept = ~leader.pattern.pruned_groups(np.asarray(leader.masks[-1]))
    return [np.broadcast_to(kept, m.shape).astype(np.asarray(m).dtype) for m in follower.masks]


def update_masks(
    model,
    sparsity: float,
    *,
    final_sparsity: float | None = None,
    gradients: Mapping[str, list] | None = None,
    activations: Mapping[str, object] | None = None,
    input_norms: Mapping[str, np.ndarray] | None = None,
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
        gradients: `{weight path: [gradient on batch 1, ...]}` for criteria that need
            the loss gradient (`Channels("taylor")`, SNIP, OBD); see
            `kerasprune.CriterionData`.
        activations: `{weight path: ChannelActivity}` for patterns whose criterion reads
            the layer's output (`Channels("apoz")`, `Channels("mean_activation")`).
        input_norms: `{weight path: squared norm of each input feature}` for the Wanda
            criterion (`CriterionData.input_norms`). `**kerasprune.CriterionData(x,
            y).for_update(model)` gives whichever of these three the model's criteria need.
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
    if not is_bool(masks_only_grow):
        raise TypeError(
            "`masks_only_grow` must be True or False. "
            f"Received: masks_only_grow={masks_only_grow!r}"
        )
    if gradients is not None and not isinstance(gradients, Mapping):
        raise TypeError(
            "`gradients` must be a dict {weight path: [gradient per batch]} or None. "
            f"Received: gradients of type {type(gradients).__name__}"
        )
    _check_data_keys(model, gradients=gradients, activations=activations,
                     input_norms=input_norms)
    selector = ToTarget(gradients=gradients, activations=activations, input_norms=input_norms,
                        masks_only_grow=masks_only_grow)
    if masks_only_grow:
        final = sparsity if final_sparsity is None else final_sparsity
        check_pruning_request(model, sparsity, final)  # a refused target is not warned about
        warn_if_masks_exceed(model, sparsity, "update_masks")
    return update(model, selector, sparsity, final_sparsity).sparsity


def _check_data_keys(model, **mappings) -> None:
    """Refuse criterion data keyed by anything but the model's weight paths (a key that
    matches no weight would be ignored)."""
    if not isinstance(model, keras.layers.Layer):
        return  # check_pruning_request refuses it, naming the argument
    paths = [v.path for v in model.weights]
    pruned = [w.path for wrapper in prune_wrappers(model) for w in wrapper.pruned_weights]
    for name, mapping in mappings.items():
        if isinstance(mapping, Mapping):
            check_known_keys(name, mapping, paths, "weight paths", shown=pruned)


def warn_if_masks_exceed(model, sparsity, caller: str) -> None:
    """Warn when `model`'s masks already prune more than the `sparsity` asked of `caller`:
    masks only grow, so the result is not the sparsity asked."""
    if not is_number(sparsity) or not isinstance(model, keras.layers.Layer):
        return  # check_pruning_request refuses it, naming the argument
    reached = overall_sparsity(prune_wrappers(model))
    if reached > float(sparsity) + 1e-3:
        warnings.warn(
            f"{caller}: the model's masks already prune {reached:.4f} of its weights, more "
            f"than the sparsity={float(sparsity):g} asked: masks only grow, so it stays at "
            f"{reached:.4f}. Raise the sparsity, or let masks shrink with "
            "update_masks(model, sparsity, masks_only_grow=False).",
            stacklevel=user_stacklevel())


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
    unbuilt = [w.name for w in wrappers if not w.masks and not w.built]
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


def overall_sparsity(wrappers: list, nonzeros: Mapping[int, int] | None = None) -> float:
    """Fraction of zeros in the masks of all `wrappers` together (followers not counted).

    `nonzeros` gives the nonzero count of some masks already counted, by `id` of their
    weight, so that they are not read again.
    """
    nonzeros = nonzeros or {}
    total = zeros = 0
    for wrapper in wrappers:
        if wrapper.follows is not None:
            continue
        for weight, mask in zip(wrapper.pruned_weights, wrapper.masks):
            size = int(np.prod(mask.shape))
            kept = nonzeros.get(id(weight))
            total += size
            zeros += size - (int(np.count_nonzero(np.asarray(mask))) if kept is None else kept)
    return zeros / total if total else 0.0
