"""`QuantizeWrapper`: the layer's own call on a fake-quantized kernel, tracked ranges,
masks of a PruneWrapper inside kept exact, saved and loaded with its state."""

import numpy as np
import pytest
import keras

import kerasprune
from kerasprune.quantization import QuantizeWrapper
from kerasprune.quantization.fake_quant import fake_quantize_activation, fake_quantize_weight
from tests.quantization.helpers import masked_weights_are_zero


def wrapped_dense(prune=True):
    keras.utils.set_random_seed(0)
    inner = keras.layers.Dense(16, activation="relu", name="d")
    layer = kerasprune.PruneWrapper(inner) if prune else inner
    inputs = keras.Input((32,))
    wrapper = QuantizeWrapper(layer, quantize_inputs=True)
    model = keras.Model(inputs, wrapper(inputs))
    if prune:
        kerasprune.update_masks(model, 0.75)
    return model, wrapper, inner


def test_the_output_is_the_layer_on_quantized_inputs_and_kernel_then_quantized():
    model, wrapper, dense = wrapped_dense()
    x = np.random.default_rng(0).normal(size=(16, 32)).astype("float32")
    model(x, training=True)                                      # sets both ranges
    inputs, outputs = wrapper.input_range, wrapper.output_range
    expected = fake_quantize_activation(x, inputs.low, inputs.high)
    expected = np.asarray(expected) @ np.asarray(fake_quantize_weight(dense.kernel, (-1,)))
    expected = np.maximum(expected + np.asarray(dense.bias), 0)
    expected = fake_quantize_activation(expected, outputs.low, outputs.high)
    assert np.array_equal(np.asarray(model(x)), np.asarray(expected))
    float_model = np.maximum(x @ np.asarray(dense.kernel) + np.asarray(dense.bias), 0)
    assert not np.allclose(np.asarray(model(x)), float_model, atol=1e-4)


def test_training_keeps_the_kernel_float_and_every_masked_weight_zero():
    model, wrapper, dense = wrapped_dense()
    model.compile(keras.optimizers.Adam(0.05), "mse")
    x = np.random.default_rng(1).normal(size=(64, 32)).astype("float32")
    before = np.asarray(dense.kernel).copy()
    model.fit(x, np.ones((64, 16), "float32"), epochs=2, batch_size=16, verbose=0)
    kernel = np.asarray(dense.kernel)
    assert masked_weights_are_zero(model) and np.mean(kernel == 0) == pytest.approx(0.75)
    assert not np.array_equal(kernel, before)                      # it trained
    assert not np.allclose(kernel, np.asarray(fake_quantize_weight(kernel, (-1,))))  # float
    assert int(wrapper.output_range.observed) == 8                 # one per step
    low = float(wrapper.output_range.low)
    model.predict(x, verbose=0)                                    # inference: no update
    assert int(wrapper.output_range.observed) == 8 and float(wrapper.output_range.low) == low


def test_layers_without_weights_quantize_only_what_their_role_says():
    flatten = QuantizeWrapper(keras.layers.Flatten())
    add = QuantizeWrapper(keras.layers.Add())
    assert flatten.ranges == [] and flatten.quantized_weights == []
    assert [r.name for r in add.ranges] == ["output_range"]


def test_a_keras_file_round_trip_keeps_ranges_masks_and_outputs(tmp_path):
    model, wrapper, _ = wrapped_dense()
    x = np.random.default_rng(2).normal(size=(8, 32)).astype("float32")
    model(x, training=True)
    model.save(tmp_path / "q.keras")
    loaded = keras.saving.load_model(tmp_path / "q.keras")
    assert np.array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert [np.asarray(v).tolist() for v in loaded.weights] == [
        np.asarray(v).tolist() for v in model.weights]
    again = loaded.layers[-1]
    assert isinstance(again, QuantizeWrapper) and isinstance(again.layer, kerasprune.PruneWrapper)
    assert again.get_config()["quantize_inputs"] is True


def test_bad_layers_and_arguments_are_refused_before_anything_is_built():
    with pytest.raises(ValueError, match=r"type LSTM cannot be quantized.*Known layer types"):
        QuantizeWrapper(keras.layers.LSTM(2))
    with pytest.raises(ValueError, match="already a QuantizeWrapper"):
        QuantizeWrapper(QuantizeWrapper(keras.layers.Dense(2)))
    with pytest.raises(TypeError, match=r"Received: layer=3"):
        QuantizeWrapper(3)
    with pytest.raises(TypeError, match=r"Received: quantize_inputs='yes'"):
        QuantizeWrapper(keras.layers.Dense(2), quantize_inputs="yes")
    with pytest.raises(ValueError, match=r"Received: ema_decay=1.5"):
        QuantizeWrapper(keras.layers.Dense(2), ema_decay=1.5)
