"""`SparsityMetric`: the model-wide sparsity in the logs every callback of a fit receives.

A callback that writes into `logs` in `on_epoch_end` reaches only the callbacks listed after
it: a `keras.callbacks.TensorBoard` or `CSVLogger` placed first would miss `sparsity`. A
metric does not have that problem: Keras computes the metrics inside the train step and
hands the same logs to every callback. So a pruning callback attaches one `SparsityMetric`
to the model when a fit begins and sets its value whenever the masks change; the metric
only reports it.

The metric reports while a pruning fit trains and stays silent in evaluation (`evaluate`,
and the validation inside `fit`), so `loss, accuracy = model.evaluate(...)` keeps its shape.
Its variable is not part of the model's weights: `.keras` files do not carry it.
"""

from __future__ import annotations

import keras

from kerasprune import _compat


class SparsityMetric(keras.metrics.Metric):
    """Reports the sparsity a pruning callback sets; computes nothing itself.

    Attached by the pruning callbacks (see `attach_sparsity_metric`), not by users.

    Example:

    >>> metric = SparsityMetric()
    >>> _ = metric.value.assign(0.75)
    >>> metric.result()
    {}
    >>> metric.reporting = True
    >>> float(metric.result()["sparsity"])
    0.75
    """

    def __init__(self, name: str = "sparsity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.value = self.add_variable(shape=(), initializer="zeros", name="value")
        self.reporting = False

    def update_state(self, *args, **kwargs) -> None:
        """Nothing to update from predictions: the callback sets `value`."""

    def reset_state(self) -> None:
        """Keeps the value: Keras resets metrics every epoch, the sparsity carries over."""

    def result(self) -> dict:
        if not self.reporting:
            return {}
        return {self.name: keras.ops.convert_to_tensor(self.value)}


def attach_sparsity_metric(model: keras.Model) -> SparsityMetric:
    """The model's `SparsityMetric`, attached now if it has none.

    A newly attached metric must be part of the traced train step, so the model's train
    function is rebuilt (it is traced at the first batch anyway when `fit` just made it).

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> attach_sparsity_metric(model) is attach_sparsity_metric(model)
    True
    """
    for metric in _compat.model_metrics(model):
        if isinstance(metric, SparsityMetric):
            return metric
    metric = SparsityMetric()
    _compat.add_model_metric(model, metric)
    if getattr(model, "compiled", False):
        model.make_train_function(force=True)
    return metric
