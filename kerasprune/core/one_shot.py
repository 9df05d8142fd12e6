"""`one_shot_prune(model, sparsity)`: prune once, without training.

By magnitude (after training), or by SNIP's connection sensitivity `|g * w|` on a data
batch (at initialization, before training). Any other data-driven criterion of the
model's patterns (Taylor, APoZ) gets its data from `data=` as well.
"""

from __future__ import annotations

import keras

from kerasprune.core.criterion_data import CriterionData, needed_data
from kerasprune.core.mask_update import update_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.patterns import Unstructured
from kerasprune.core.validation import check_choice, check_model, check_sparsity
from kerasprune.core.wrapping import prune

CRITERIA = ("magnitude", "snip")


def one_shot_prune(model: keras.Model, sparsity: float, *, criterion: str | None = None,
                   data: "tuple | CriterionData | None" = None,
                   **prune_kwargs) -> keras.Model:
    """Prune `model` once to `sparsity`, for users who retrain (or train) their own way.

    A plain model is copied with `kerasprune.prune(model, **prune_kwargs)` (the input
    stays untouched; the same defaults, `scope="layer"` among them) and the copy is
    pruned. A model that already holds
    `PruneWrapper` layers is pruned in place (masks only grow) and returned; its wrappers'
    own scope and options apply. The masks stay hard during later training.

    Args:
        model: a plain Keras model, or one returned by `kerasprune.prune`.
        sparsity: target sparsity of the pruned weights, in [0, 1).
        criterion: `"magnitude"` (the default) or `"snip"`: each weight scored by
            `|g * w|`, with `g` the gradient of `model`'s compiled loss on `data`
            (SNIP, Lee et al. 2019, for pruning at initialization). A plain model only:
            its wrappers get the `Unstructured("snip")` pattern.
        data: `(x, y)` (or a `kerasprune.CriterionData`): the sample that SNIP and the
            other data-driven criteria of the model's patterns are computed on.
        **prune_kwargs: `kerasprune.prune`'s options (`scope`: `"global"` is one
            threshold, as in IMP and SNIP; `layers`, `exclude`, `sparsity_overrides`,
            `block_shape`, `pattern`, ...).

    Returns:
        The pruned, pruning-ready model (strip it with `kerasprune.strip` to export). A
        copy pruned by SNIP is compiled with `model`'s loss; compile it with your
        optimizer before training.

    Example:

    >>> import keras, numpy as np, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
    ...                           keras.layers.Dense(4)])
    >>> pruned = kerasprune.one_shot_prune(model, 0.75, scope="global")
    >>> kerasprune.sparsity_report(pruned).total
    0.75
    >>> model.compile(loss="mse")
    >>> x, y = np.ones((32, 8)), np.zeros((32, 4))
    >>> snip = kerasprune.one_shot_prune(model, 0.75, criterion="snip", data=(x, y))
    >>> kerasprune.sparsity_report(snip).total
    0.75
    """
    check_sparsity("sparsity", sparsity)
    check_model(model)
    check_choice("criterion", criterion, (None, *CRITERIA))
    data = _as_criterion_data(data)
    if not prune_wrappers(model):
        pruned = _pruned_copy(model, criterion, prune_kwargs)
    elif prune_kwargs or criterion == "snip":
        raise ValueError(
            "The model is already pruning-ready; its wrappers carry the pruning options and "
            "criteria (prune with pattern=kerasprune.Unstructured('snip') for SNIP). "
            f"Received extra options: {sorted(prune_kwargs) + (['criterion'] if criterion else [])}"
        )
    else:
        pruned = model
    needs = needed_data(pruned)
    if needs and data is None:
        raise ValueError(
            f"The model's criterion needs {' and '.join(needs)} on data: pass data=(x, y)."
        )
    update_masks(pruned, sparsity, **(data.for_update(pruned) if needs else {}))
    return pruned


def _pruned_copy(model, criterion, prune_kwargs) -> keras.Model:
    if criterion == "snip":
        if "pattern" in prune_kwargs or "block_shape" in prune_kwargs:
            raise ValueError(
                "criterion='snip' prunes single weights: give no `pattern` or `block_shape`."
            )
        prune_kwargs = {**prune_kwargs, "pattern": Unstructured("snip")}
    pruned = prune(model, **prune_kwargs)
    if "gradients" in needed_data(pruned):
        if getattr(model, "loss", None) is None:
            raise ValueError(
                f"Model '{model.name}' has no loss, which the criterion's gradients need: "
                "compile it first (model.compile(loss=...))."
            )
        pruned.compile(loss=model.loss)
    return pruned


def _as_criterion_data(data) -> CriterionData | None:
    if data is None or isinstance(data, CriterionData):
        return data
    if isinstance(data, (tuple, list)) and len(data) in (1, 2):
        return CriterionData(*data)
    raise TypeError(
        "`data` must be (x, y), (x,) or a kerasprune.CriterionData. "
        f"Received: data of type {type(data).__name__}"
    )
