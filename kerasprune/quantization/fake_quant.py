"""Fake quantization: int8 rounding in the float forward pass, with straight-through gradients.

Weights are quantized as TFLite stores int8 weights: symmetric, per output channel, on the
integer grid [-127, 127] with scale `max|w_c| / 127` (zero point 0, so a pruned weight, 0.0,
stays exactly 0 and a weight never leaves its channel's range). Activations are quantized as
TFLite's int8 activations: per tensor, affine over a range `[low, high]` that holds 0, with
256 levels, through `keras.quantizers.fake_quant_with_min_max_vars` (on TensorFlow that is
`tf.quantization.fake_quant_with_min_max_vars`, the op the TFLite converter reads its ranges
from). Gradients pass straight through the rounding.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import ops

#: The int8 weight grid: [-INT8_MAX, INT8_MAX] (TFLite's symmetric "narrow range").
INT8_MAX = 127
#: Bits of the activation grid (256 levels, TFLite's int8 activations).
ACTIVATION_BITS = 8
#: The smallest range a quantizer uses: an all-zero channel or tensor gets a tiny scale
#: instead of a division by zero (TFLite stores such a channel with a tiny scale too).
MIN_RANGE = 1e-6


def reduced_axes(rank: int, channel_axes: Sequence[int]) -> tuple[int, ...]:
    """The axes a per-channel maximum runs over: all but `channel_axes`.

    >>> reduced_axes(2, (-1,)), reduced_axes(4, (-2, -1))
    ((0,), (0, 1))
    """
    kept = {axis % rank for axis in channel_axes}
    return tuple(axis for axis in range(rank) if axis not in kept)


def weight_scales(weight, channel_axes: Sequence[int]):
    """Per-channel scales `max|w_c| / 127` (at least `MIN_RANGE / 127`), shaped to
    broadcast against `weight`. No gradient flows through the scales."""
    axes = reduced_axes(len(weight.shape), channel_axes)
    peak = ops.max(ops.abs(ops.stop_gradient(weight)), axis=axes, keepdims=True)
    return ops.maximum(peak, MIN_RANGE) / INT8_MAX


def fake_quantize_weight(weight, channel_axes: Sequence[int]):
    """`weight` rounded to its per-channel int8 grid, with an identity gradient.

    Rounding is half away from zero, as the TFLite converter rounds weights.

    Args:
        weight: a float tensor (a kernel).
        channel_axes: the axes of the output channels, `(-1,)` for a Dense or Conv kernel.

    Example:

    >>> import numpy as np
    >>> w = np.array([[0.0, 1.0], [0.5, -0.26]], "float32")
    >>> np.asarray(fake_quantize_weight(w, (-1,))) * 127
    array([[  0. , 127. ],
           [ 63.5, -33. ]], dtype=float32)
    """
    weight = ops.convert_to_tensor(weight)
    scale = weight_scales(weight, channel_axes)
    rounded = _round_half_away(weight / scale)
    quantized = ops.clip(rounded, -INT8_MAX, INT8_MAX) * scale
    return weight + ops.stop_gradient(quantized - weight)


def quantize_weight(weight: np.ndarray,
                    channel_axes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The int8 values and per-channel scales `fake_quantize_weight` computes (numpy).

    What the TFLite file holds for this weight (TFLite's layout aside).

    >>> q, s = quantize_weight(np.array([[0.0, 1.0], [0.5, -0.26]], "float32"), (-1,))
    >>> q.tolist(), s.shape
    ([[0, 127], [127, -33]], (1, 2))
    """
    weight = np.asarray(weight, dtype=np.float32)
    scale = np.asarray(weight_scales(weight, channel_axes))
    rounded = np.asarray(_round_half_away(weight / scale))
    return np.clip(rounded, -INT8_MAX, INT8_MAX).astype(np.int8), scale


def fake_quantize_activation(x, low, high):
    """`x` clipped to `[low, high]` and rounded to 256 levels (TFLite's int8 activations,
    the zero point nudged so that 0.0 is a level); gradients pass inside the range."""
    high = ops.maximum(high, low + MIN_RANGE)
    return keras.quantizers.fake_quant_with_min_max_vars(
        x, low, high, num_bits=ACTIVATION_BITS, narrow_range=False)


def _round_half_away(x):
    return ops.sign(x) * ops.floor(ops.abs(x) + 0.5)
