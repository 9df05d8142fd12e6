"""Sequential calibration: the inputs of one pruned layer at a time, through the layers
pruned before it.

Calibration batches flow through the model as it is now, so a layer pruned earlier in the
same pass is seen pruned by every layer after it (SparseGPT's sequential calibration:
errors do not compound unseen). Each batch runs only up to the layer being calibrated
(the pass stops when that layer returns), and only one batch's activations are held at a
time: memory is the model, one batch and the statistics of one layer, never the
activations of the whole model or of the whole calibration set.
"""

from __future__ import annotations

from typing import Iterator

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.criterion_data import batches, sample_size
from kerasprune.core.validation import check_int


class _Reached(Exception):
    """Raised from inside a forward pass once the calibrated layer has returned."""


class Calibration:
    """Calibration inputs, run through a model one batch at a time.

    Args:
        model: the model (holding `PruneWrapper` layers, or any model).
        x: calibration inputs: an array or a dict of arrays (KerasHub task inputs).
        batch_size: examples per forward pass.

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((3,)),
    ...     keras.layers.Dense(4, name="a"), keras.layers.Dense(2, name="b")]))
    >>> calibration = Calibration(model, np.ones((8, 3)), batch_size=4)
    >>> [w.layer.name for w in calibration.call_order(kerasprune.prune_wrappers(model))]
    ['a', 'b']
    >>> b = model.layers[1]
    >>> first_batch = next(calibration.inputs(b, [b.layer]))
    >>> first_batch[id(b.layer)][0].shape
    (4, 4)
    """

    def __init__(self, model: keras.Model, x, *, batch_size: int = 32):
        if not sample_size(x):
            raise ValueError(
                "Calibration data must be a non-empty array (or a dict of arrays of one "
                f"length). Received: x of type {type(x).__name__}")
        self.model, self.x = model, x
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.called_once: set[int] = set()

    def call_order(self, layers: list) -> list:
        """`layers` in the order a forward pass first calls them (on one batch); layers
        the pass never calls are left out."""
        calls: dict[int, int] = {}  # in the order of the first call

        def count(layer, inputs, outputs):
            calls[id(layer)] = calls.get(id(layer), 0) + 1

        first, _ = next(batches(self.x, None, self.batch_size))
        with _compat.observing_calls(layers, count):
            self.model(first, training=False)
        self.called_once = {key for key, n in calls.items() if n == 1}
        by_id = {id(layer): layer for layer in layers}
        return [by_id[key] for key in calls]

    def pruning_order(self, wrappers: list) -> list:
        """`call_order(wrappers)`, refusing wrappers a forward pass never calls (their
        inputs cannot be calibrated)."""
        order = self.call_order(wrappers)
        unused = [w.layer.name for w in wrappers if w not in order]
        if unused:
            raise ValueError(f"The calibration data never reaches the pruned layers {unused}: "
                             "a forward pass of the model does not call them.")
        return order

    def inputs(self, stop_after, layers: list) -> Iterator[dict[int, list[np.ndarray]]]:
        """Per batch, `{id(layer): [its input on each call]}` for `layers`, the pass
        stopped once `stop_after` (a layer called once per pass, see `call_order`) has
        returned."""
        seen: dict[int, list[np.ndarray]] = {}

        def observe(layer, inputs, outputs):
            if id(layer) in watched:
                seen.setdefault(id(layer), []).append(np.asarray(inputs[0]))
            if layer is stop_after and id(layer) in self.called_once:
                raise _Reached

        watched = {id(layer) for layer in layers}
        with _compat.observing_calls([*layers, stop_after], observe):
            for xb, _ in batches(self.x, None, self.batch_size):
                seen = {}
                try:
                    self.model(xb, training=False)
                except _Reached:
                    pass
                yield seen
