"""`one_shot_prune(model, sparsity)`: prune once, without training.

By any criterion, with the calibration data the criterion needs (`data=`): magnitude
(after training), SNIP (at initialization), OBD and Wanda through the engine's selection
(`kerasprune.core.weight_criteria`), SparseGPT through its own selector (layer by layer,
with weight updates), and the model's channel criteria (`Channels`: Taylor, APoZ, ...),
optionally followed by a least-squares reconstruction of the layers after the removed
channels.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.core.criterion_data import CriterionData, needed_data
from kerasprune.core.gradient_flow import synflow_targets
from kerasprune.core.mask_update import update, warn_if_masks_exceed
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.validation import (
    check_choice,
    check_model,
    check_samples,
    check_sparsity,
    is_bool,
)
from kerasprune.core.weight_criteria import CRITERIA
from kerasprune.core.wrapping import prune, strip
from kerasprune.oneshot.reconstruction import reconstruct as refit_consumers
from kerasprune.oneshot.sparsegpt_selector import criterion_selector


def one_shot_prune(model: keras.Model, sparsity: float, *, criterion: str | None = None,
                   data: "tuple | CriterionData | None" = None, reconstruct: bool = False,
                   **prune_kwargs) -> keras.Model:
    """Prune `model` once to `sparsity`, for users who retrain (or do not retrain) their own
    way.

    A plain model is copied with `kerasprune.prune(model, criterion=criterion,
    **prune_kwargs)` (the input stays untouched; the same defaults, `scope="layer"` among
    them) and the copy is pruned. A model that already holds `PruneWrapper` layers is
    pruned in place (masks only grow) and returned; its wrappers' own criterion, scope
    and options apply. The masks stay hard during later training.

    Args:
        model: a plain Keras model, or one returned by `kerasprune.prune`.
        sparsity: target sparsity of the pruned weights, in [0, 1).
        criterion: how weights are chosen (see `kerasprune.prune`): `"magnitude"` (the
            default), `"snip"` (needs loss gradients: `data=(x, y)` and a compiled loss),
            `"wanda"` (`|w| * ||x_j||`) and `"obd"` (`w^2 ||x_j||^2`) on calibration
            inputs `data=(x,)`, `"sparsegpt"` (OBS layer by layer on calibration
            inputs: the kept weights are updated to make up for the pruned ones; it,
            Wanda and OBD calibrate sequentially: each layer on the inputs that went
            through the layers pruned before it), or
            for pruning before training: `"grasp"` (`w * Hg`, needs `data=(x, y)`),
            `"synflow"` (data-free, run as the paper does: 100 rounds of pruning, each
            rescoring the weights left, on an exponential schedule to `sparsity`; see
            `kerasprune.core.gradient_flow`) and `"random"`. Any weight pattern:
            unstructured, `pattern=kerasprune.NM(2, 4)`, `block_shape=(4, 1)` (GraSP:
            unstructured only).
        data: `(x, y)`, `(x,)` or a `kerasprune.CriterionData`: the sample the criterion
            (or the model's patterns, e.g. `Channels("taylor")`) is computed on; `x` may
            be a dict of arrays (a KerasHub task's inputs).
        reconstruct: with a `Channels` pattern, refit the layers that consume the removed
            channels by least squares on `data` (`kerasprune.oneshot.reconstruction`), so
            that `kerasprune.shrink` without retraining loses much less.
        **prune_kwargs: `kerasprune.prune`'s options (`scope`, `layers`, `exclude`,
            `sparsity_overrides`, `block_shape`, `pattern`, ...).

    Returns:
        The pruned, pruning-ready model (strip it with `kerasprune.strip` to export). A
        copy pruned by a gradient criterion is compiled with `model`'s loss; compile it
        with your optimizer before training.

    Example:

    >>> import keras, numpy as np, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
    ...                           keras.layers.Dense(4)])
    >>> pruned = kerasprune.one_shot_prune(model, 0.75, scope="global")
    >>> kerasprune.sparsity_report(pruned).total
    0.75
    >>> x = np.random.default_rng(0).normal(size=(64, 8))
    >>> obs = kerasprune.one_shot_prune(model, 0.5, criterion="sparsegpt", data=(x,),
    ...                                 pattern=kerasprune.NM(2, 4))
    >>> kerasprune.sparsity_report(obs).total
    0.5
    """
    check_sparsity("sparsity", sparsity)
    check_model(model)
    check_choice("criterion", criterion, (None, *CRITERIA))
    if not is_bool(reconstruct):
        raise TypeError(
            f"`reconstruct` must be True or False. Received: reconstruct={reconstruct!r}")
    data = _as_criterion_data(data)
    if data is not None:
        check_samples(model, data.x if isinstance(data.x, (dict, list, tuple))
                      else np.asarray(data.x), "data")
    if not prune_wrappers(model):
        pruned, dense = _pruned_copy(model, criterion, prune_kwargs), model
    elif prune_kwargs or not _wrappers_hold(model, criterion):
        raise ValueError(
            "The model is already pruning-ready; its wrappers carry the pruning options and "
            "criteria (kerasprune.prune(model, criterion=...)). "
            f"Received extra options: {sorted(prune_kwargs) + (['criterion'] if criterion else [])}"
            + ("" if criterion is None else f" (criterion={criterion!r}; the wrappers hold "
               f"{sorted({w.criterion for w in prune_wrappers(model)})})")
        )
    else:
        warn_if_masks_exceed(model, sparsity, "one_shot_prune")
        pruned, dense = model, strip(model) if reconstruct else None
    needs = needed_data(pruned)
    if (needs or reconstruct) and data is None:
        who = [f"The model's criterion needs {' and '.join(needs)} on data"] if needs else []
        if reconstruct:
            who.append("reconstruct=True refits the next layers on the layer inputs of data")
        raise ValueError(f"{'; '.join(who)}: pass data=(x, y) (or data=(x,) when no loss "
                         "gradient is needed).")
    if reconstruct:
        _check_reconstruct(pruned)
    synflow = any(w.criterion == "synflow" for w in prune_wrappers(pruned))
    for target in synflow_targets(sparsity) if synflow else [sparsity]:
        update(pruned, criterion_selector(pruned, data), target, sparsity)
    if reconstruct:
        refit_consumers(pruned, dense, data.x, batch_size=data.batch_size)
    return pruned


def _pruned_copy(model, criterion, prune_kwargs) -> keras.Model:
    pruned = prune(model, criterion=criterion, **prune_kwargs)
    if "gradients" in needed_data(pruned):
        if getattr(model, "loss", None) is None:
            raise ValueError(
                f"Model '{model.name}' has no loss, which the criterion's gradients need: "
                "compile it first (model.compile(loss=...))."
            )
        pruned.compile(loss=model.loss)
    return pruned


def _check_reconstruct(pruned) -> None:
    patterns = {type(w.pattern).__name__ for w in prune_wrappers(pruned) if w.follows is None}
    if patterns != {"Channels"}:
        raise ValueError(
            "`reconstruct=True` refits the layers that consume removed channels: prune "
            "with pattern=kerasprune.Channels(...) (to update the weights kept by "
            "unstructured, block or N:M pruning, use criterion='sparsegpt'). "
            f"Received patterns: {sorted(patterns)}")


def _as_criterion_data(data) -> CriterionData | None:
    if data is None or isinstance(data, CriterionData):
        return data
    if isinstance(data, (tuple, list)) and len(data) in (1, 2):
        return CriterionData(*data)
    raise TypeError(
        "`data` must be (x, y), (x,) or a kerasprune.CriterionData. "
        f"Received: data of type {type(data).__name__}"
    )


def _wrappers_hold(model, criterion) -> bool:
    """True when `criterion` is None or what every wrapper of `model` already uses."""
    return criterion is None or all(w.criterion == criterion for w in prune_wrappers(model))
