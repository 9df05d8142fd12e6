"""`ActivationRange`: the int8 range of one activation tensor, tracked while training.

The range `[low, high]` always holds 0 (TFLite's int8 activations need 0.0 to be a level).
It is the mean of the ranges of the batches observed so far, then, once that mean has seen
enough batches, a moving average as in TFMOT's quantization-aware training:
`low <- d * low + (1 - d) * batch_low` with `d = min(ema_decay, n / (n + 1))` after `n`
batches (the first batch sets the range, a calibration of a few batches averages them).
It observes in training (`fit`) and during `kerasprune.quantization.calibrate`; in
inference it only quantizes. Its values are non-trainable variables, so `.keras` files and
`keras.callbacks.BackupAndRestore` carry them and a resumed run continues exactly.
"""

from __future__ import annotations

import keras
from keras import ops

from kerasprune.core.validation import is_number
from kerasprune.quantization import modes
from kerasprune.quantization.fake_quant import fake_quantize_activation

#: TFMOT's moving average uses 0.999; QAT here usually fine-tunes for a few epochs after
#: a calibration, so the range follows the weights' changes faster.
DEFAULT_EMA_DECAY = 0.99


@keras.saving.register_keras_serializable(package="kerasprune")
class ActivationRange(keras.layers.Layer):
    """Fake-quantizes a tensor to int8 over a range tracked with a moving average.

    Held by `QuantizeWrapper` for a layer's inputs or outputs; not usually made by hand.

    Args:
        ema_decay: the moving average's decay in [0, 1); 0 takes each batch's range.

    Example:

    >>> import numpy as np
    >>> q = ActivationRange(ema_decay=0.5)
    >>> _ = q(np.array([[-1.0, 2.0]], "float32"), training=True)   # sets [-1, 2]
    >>> _ = q(np.array([[0.5, 4.0]], "float32"), training=True)    # moves halfway
    >>> [round(float(v), 3) for v in (q.low, q.high)]
    [-0.5, 3.0]
    """

    def __init__(self, ema_decay: float = DEFAULT_EMA_DECAY, **kwargs):
        ema_decay = check_ema_decay(ema_decay)
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.ema_decay = ema_decay

    def build(self, input_shape=None):
        def scalar(name):
            return self.add_weight(shape=(), initializer="zeros", trainable=False,
                                   dtype="float32", name=name)

        self.low, self.high = scalar("low"), scalar("high")
        self.observed = scalar("observed")  # the number of batches observed

    def call(self, inputs, training=None):
        if modes.converter_tracing():  # a plain FakeQuant op of the frozen range, or none
            if not modes.converter_ranges():
                return inputs
            return fake_quantize_activation(inputs, self.low, self.high)
        if training or modes.calibrating():
            self._observe(inputs)
            return fake_quantize_activation(inputs, self.low, self.high)
        # Never trained nor calibrated: no range yet, the values pass unchanged.
        quantized = fake_quantize_activation(inputs, self.low, self.high)
        return ops.where(self.observed > 0, quantized, inputs)

    def _observe(self, inputs) -> None:
        values = ops.cast(ops.stop_gradient(inputs), "float32")
        batch_low = ops.minimum(ops.min(values), 0.0)
        batch_high = ops.maximum(ops.max(values), 0.0)
        count = self.observed
        decay = ops.minimum(self.ema_decay, count / (count + 1.0))
        self.low.assign(decay * self.low + (1.0 - decay) * batch_low)
        self.high.assign(decay * self.high + (1.0 - decay) * batch_high)
        self.observed.assign(count + 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ema_decay": self.ema_decay}


def check_ema_decay(value) -> float:
    """A moving-average decay in [0, 1)."""
    if not (is_number(value) and 0.0 <= value < 1.0):
        raise ValueError(f"`ema_decay` must be a float in [0, 1). Received: ema_decay={value!r}")
    return float(value)
