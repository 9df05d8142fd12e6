"""`SparseGPTSelector`: SparseGPT layer by layer, with sequential calibration.

The engine's `Selector` for wrappers pruned by `criterion="sparsegpt"`: the pruned layers
are visited in the order the model calls them; each one's `X^T X` is accumulated over the
calibration batches run through the layers already pruned (`Calibration`), SparseGPT
chooses its masks and updates its remaining weights, and the selector yields
`(wrapper, masks, values)`. The mask writer consumes the generator lazily, so a layer's
masks and values are written before the next layer's inputs are computed. The target is
shared among tensors as the wrappers' scope says (each tensor to the target in layer
scope; in a global, LAMP or ERK scope, each tensor prunes as many weights as a magnitude
selection in that scope would), and SparseGPT chooses which weights in each tensor.

`criterion_selector(model, data)` is the selector a model's criteria call for.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from kerasprune.core.allocation import lamp_scores
from kerasprune.core.criterion_data import CriterionData, needed_data, update_data
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.scopes import scope_sets, select_in_scope
from kerasprune.core.selection import WeightSet
from kerasprune.core.selectors import Selector, ToTarget
from kerasprune.core.validation import check_int, check_positive
from kerasprune.oneshot.calibration import Calibration
from kerasprune.oneshot.sequential_norms import SequentialNorms
from kerasprune.oneshot.sparsegpt import MaskChoice, inverse_factor, sparsegpt
from kerasprune.oneshot.statistics import check_views, weight_grams


class SparseGPTSelector(Selector):
    """Masks and updated weights from SparseGPT, one layer at a time on calibration data.

    Args:
        x: calibration inputs (an array or a dict of arrays); 128 sequences or a few
            hundred images are typical.
        batch_size: examples per forward pass (one batch of activations is held).
        blocksize: input features per lazy OBS block (and per adaptive mask choice).
        dampening: added to the diagonal of each `X^T X`, times its mean.
        masks_only_grow: True: weights pruned before stay pruned and count toward the
            target.

    Example:

    >>> import keras, kerasprune
    >>> from kerasprune.core.mask_update import update
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)),
    ...     keras.layers.Dense(8, name="a"), keras.layers.Dense(4, name="b")]),
    ...     criterion="sparsegpt")
    >>> x = np.random.default_rng(0).normal(size=(64, 8))
    >>> update(model, SparseGPTSelector(x), 0.5).sparsity
    0.5
    """

    def __init__(self, x, *, batch_size: int = 32, blocksize: int = 128,
                 dampening: float = 0.01, masks_only_grow: bool = True):
        self.x = x
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.blocksize = check_int("blocksize", blocksize, minimum=1)
        self.dampening = check_positive("dampening", dampening)
        self.masks_only_grow = masks_only_grow

    def select(self, model, wrappers, sparsity, final) -> Iterator[tuple]:
        views = {id(w): check_views(w) for w in wrappers}  # refused before any change
        targets = tensor_targets(wrappers, sparsity, final, self.masks_only_grow)
        calibration = Calibration(model, self.x, batch_size=self.batch_size)
        for wrapper in calibration.pruning_order(wrappers):
            yield self._layer(wrapper, views[id(wrapper)], weight_grams(calibration, wrapper),
                              targets)

    def _layer(self, wrapper, views, grams, targets) -> tuple:
        masks, values = [], []
        factors = {}  # weights that read the same inputs share one Gram matrix and factor
        for i, (weight, view, gram) in enumerate(zip(wrapper.pruned_weights, views, grams)):
            if id(gram) not in factors:  # the Gram matrix is not needed after: no copy
                factors[id(gram)] = inverse_factor(gram, self.dampening, overwrite=True)
            old, kernel = np.asarray(wrapper.masks[i]), np.asarray(weight)
            choice = MaskChoice(wrapper.weight_pattern(i), view, targets[(id(wrapper), i)],
                                old if self.masks_only_grow else None)
            matrix, pruned = sparsegpt(view.matrix(kernel), factors[id(gram)], choice,
                                       blocksize=self.blocksize)
            masks.append(view.kernel(~pruned).astype(old.dtype))
            values.append(view.kernel(matrix).astype(kernel.dtype))
        return wrapper, masks, values


def tensor_targets(wrappers: list, sparsity: float, final: float,
                   masks_only_grow: bool = True) -> dict[tuple[int, int], float]:
    """`{(id(wrapper), weight index): fraction to prune}`: the share of the target each
    tensor gets in its wrapper's scope (with its floor), as a magnitude selection in that
    scope would prune it."""
    shares = {}
    for scope, members, target in scope_sets(wrappers, sparsity, final):
        weight_set = WeightSet(members, criterion="magnitude", masks_only_grow=masks_only_grow,
                               transform=lamp_scores if scope == "lamp" else None)
        pruned = select_in_scope(weight_set, scope, target)
        totals, kept = weight_set.weight_counts(), weight_set.weight_counts(pruned)
        for (wrapper, i), total, left in zip(weight_set.tensors, totals, kept):
            shares[(id(wrapper), i)] = (int(total) - int(left)) / max(int(total), 1)
    return shares


def criterion_selector(model, data: CriterionData | None, *,
                       masks_only_grow: bool = True) -> Selector:
    """The selector for `model`'s wrappers and their criteria, with the data of `data`:
    a `SparseGPTSelector` on `data.x` when they are pruned by `"sparsegpt"`, a
    `SequentialNorms` when input norms are all they need (Wanda, OBD: sequential
    calibration, as SparseGPT's), else `ToTarget` with what their criteria need (computed
    in one pass: gradients, or channel patterns that select over the whole model).

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]))
    >>> type(criterion_selector(model, None)).__name__
    'ToTarget'
    """
    leaders = [w for w in prune_wrappers(model) if w.follows is None]
    by_sparsegpt = {w.criterion == "sparsegpt" for w in leaders}
    if by_sparsegpt == {True}:
        if data is None:
            raise ValueError("The 'sparsegpt' criterion prunes from calibration data: pass "
                             "`data=kerasprune.CriterionData(x)`.")
        return SparseGPTSelector(data.x, batch_size=data.batch_size,
                                 masks_only_grow=masks_only_grow)
    if True in by_sparsegpt:
        raise ValueError(
            "Either every pruned layer of a model is pruned by 'sparsegpt' or none is. "
            f"Received: {sorted({w.layer.name: w.criterion for w in leaders}.items())}")
    if (data is not None and needed_data(model) == ["input_norms"]
            and not any(w.pattern.selects_over_model for w in leaders)):
        return SequentialNorms(data.x, batch_size=data.batch_size,
                               masks_only_grow=masks_only_grow)
    return ToTarget(**update_data(model, data), masks_only_grow=masks_only_grow)
