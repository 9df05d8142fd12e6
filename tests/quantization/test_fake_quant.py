"""The int8 arithmetic: per-channel symmetric weights (zeros stay zeros), straight-through
gradients, and TFLite's activation grid."""

import numpy as np
import tensorflow as tf

from kerasprune.quantization.fake_quant import (
    INT8_MAX,
    fake_quantize_activation,
    fake_quantize_weight,
    quantize_weight,
)


def kernel(seed=0, shape=(32, 8), zeros=0.75):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) * (rng.random(shape) >= zeros)).astype("float32")


def test_weights_land_on_their_channel_grid_and_zeros_stay_exactly_zero():
    w = kernel()
    quantized = np.asarray(fake_quantize_weight(w, (-1,)))
    scale = np.abs(w).max(axis=0) / INT8_MAX
    steps = quantized / scale
    assert np.allclose(steps, np.round(steps), atol=1e-4)     # integers on each channel's grid
    assert np.allclose(np.abs(steps).max(axis=0), INT8_MAX)   # each channel's largest: +-127
    assert np.array_equal(quantized == 0, (w == 0) | (np.abs(w) < scale / 2))
    assert np.all(quantized[w == 0] == 0)
    assert np.abs(quantized - w).max() <= scale.max() / 2 + 1e-7


def test_the_numpy_twin_gives_the_same_integers_and_scales():
    w = kernel(1, (3, 3, 4, 6))
    q, scales = quantize_weight(w, (-1,))
    assert q.dtype == np.int8 and scales.shape == (1, 1, 1, 6)
    assert np.allclose(q * scales, np.asarray(fake_quantize_weight(w, (-1,))), atol=0)


def test_depthwise_kernels_quantize_per_input_channel_and_multiplier():
    w = kernel(2, (3, 3, 4, 2), zeros=0.0)
    _, scales = quantize_weight(w, (-2, -1))
    assert scales.shape == (1, 1, 4, 2)
    assert np.allclose(scales[0, 0], np.abs(w).max(axis=(0, 1)) / INT8_MAX)


def test_an_all_zero_channel_stays_zero_without_nan():
    w = kernel(3)
    w[:, 2] = 0
    quantized = np.asarray(fake_quantize_weight(w, (-1,)))
    assert np.isfinite(quantized).all() and np.all(quantized[:, 2] == 0)


def test_the_weight_gradient_passes_straight_through():
    w = tf.Variable(kernel(4))
    upstream = tf.constant(np.random.default_rng(5).normal(size=w.shape).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fake_quantize_weight(w, (-1,)) * upstream)
    assert np.array_equal(tape.gradient(loss, w).numpy(), upstream.numpy())


def test_activations_take_256_levels_with_zero_among_them():
    x = np.linspace(-3, 5, 1001, dtype="float32")
    quantized = np.asarray(fake_quantize_activation(x, -1.0, 3.0))
    step = 4.0 / 255
    assert len(np.unique(quantized)) <= 256
    # The range is nudged (by less than a step) so that 0.0 is a level.
    assert -1.0 - step < quantized.min() and quantized.max() < 3.0 + step
    assert 0.0 in quantized[np.abs(x) < 1e-3]


def test_activation_gradients_pass_inside_the_range_only():
    x = tf.Variable(np.array([-2.0, 0.5, 2.0], "float32"))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(fake_quantize_activation(x, -1.0, 1.0))
    assert tape.gradient(y, x).numpy().tolist() == [0.0, 1.0, 0.0]
