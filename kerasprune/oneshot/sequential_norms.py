"""`SequentialNorms`: Wanda and OBD with sequential calibration.

The engine's `Selector` for wrappers whose weight criteria read the norms of their input
features (`"wanda"`, `"obd"`): the sets of wrappers pruned together (each wrapper alone
in layer and output scope; one set per shared scope) are visited in the order the model
calls them, and each set's norms are taken over calibration batches run through the
sets pruned before it (`Calibration`, as SparseGPT's statistics are), so a block is
pruned on the inputs the already-pruned blocks before it give. The selection itself is
`ToTarget`'s; the mask writer consumes the generator lazily, so a set's masks are written
before the next set's inputs are computed. A shared (global, LAMP, ERK) set is scored at
once, on inputs through the sets before its last member.
"""

from __future__ import annotations

from typing import Iterator

from kerasprune.core.criterion_data import input_norms_of, norm_layers
from kerasprune.core.scopes import scope_sets
from kerasprune.core.selectors import Selector, ToTarget
from kerasprune.core.validation import check_int
from kerasprune.core.weight_criteria import NEEDS
from kerasprune.oneshot.calibration import Calibration


class SequentialNorms(Selector):
    """Masks by weight criteria on input norms, set by set on calibration data.

    Args:
        x: calibration inputs (an array or a dict of arrays).
        batch_size: examples per forward pass (one batch of activations is held).
        masks_only_grow: True: weights pruned before stay pruned and count toward the
            target.

    Attributes:
        missed: after `select`, the targets not reached (as `ToTarget.missed`).

    Example:

    >>> import keras, numpy as np, kerasprune
    >>> from kerasprune.core.mask_update import update
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)),
    ...     keras.layers.Dense(8, name="a"), keras.layers.Dense(4, name="b")]),
    ...     criterion="wanda")
    >>> x = np.random.default_rng(0).normal(size=(64, 8))
    >>> update(model, SequentialNorms(x), 0.5).sparsity
    0.5
    """

    def __init__(self, x, *, batch_size: int = 32, masks_only_grow: bool = True):
        self.x = x
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.masks_only_grow = masks_only_grow
        self.missed: list[tuple[str, float, float]] = []

    def select(self, model, wrappers, sparsity, final) -> Iterator[tuple]:
        self.missed = []
        calibration = Calibration(model, self.x, batch_size=self.batch_size)
        position = {id(w): i for i, w in enumerate(calibration.pruning_order(wrappers))}
        sets = sorted(scope_sets(wrappers, sparsity, final),
                      key=lambda s: max(position[id(w)] for w in s[1]))
        for _, members, _ in sets:
            scored = [w for w in members if NEEDS[w.criterion] == "input_norms"]
            norms = {}
            if scored:
                last = max(scored, key=lambda w: position[id(w)])
                norms = input_norms_of(scored, calibration.inputs(last, norm_layers(scored)))
            selector = ToTarget(input_norms=norms, masks_only_grow=self.masks_only_grow)
            yield from selector.select(model, members, sparsity, final)
            self.missed += selector.missed
