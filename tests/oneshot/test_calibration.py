"""Sequential calibration: call order, passes stopped at the calibrated layer, dict inputs."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.oneshot.calibration import Calibration
from kerasprune.oneshot.statistics import weight_grams


class Counting(keras.layers.Layer):
    """Identity that counts its calls."""

    calls = 0

    def call(self, x):
        Counting.calls += 1
        return x


def model_with_branches() -> keras.Model:
    inputs = keras.Input((4,))
    b = keras.layers.Dense(3, name="b")(inputs)
    a = keras.layers.Dense(3, name="a")(Counting()(b))
    return keras.Model(inputs, keras.layers.Dense(2, name="c")(a))


def test_layers_come_in_the_order_a_forward_pass_calls_them():
    model = kerasprune.prune(model_with_branches())
    calibration = Calibration(model, np.ones((6, 4)), batch_size=4)
    wrappers = sorted(kerasprune.prune_wrappers(model), key=lambda w: w.name)  # a, b, c
    assert [w.layer.name for w in calibration.call_order(wrappers)] == ["b", "a", "c"]


def test_each_pass_stops_once_the_calibrated_layer_returned():
    model = kerasprune.prune(model_with_branches())
    calibration = Calibration(model, np.ones((10, 4)), batch_size=4)
    wrappers = calibration.call_order(kerasprune.prune_wrappers(model))
    Counting.calls = 0
    batches = list(calibration.inputs(wrappers[0], [wrappers[0].layer]))
    assert len(batches) == 3 and Counting.calls == 0  # the layers after "b" never ran
    assert [b[id(wrappers[0].layer)][0].shape for b in batches] == [(4, 4), (4, 4), (2, 4)]
    list(calibration.inputs(wrappers[1], [wrappers[1].layer]))
    assert Counting.calls == 3


def test_grams_sum_over_batches_and_dict_inputs_are_batched_by_key():
    inputs = {"u": keras.Input((2,), name="u"), "v": keras.Input((2,), name="v")}
    joined = keras.layers.Concatenate()([inputs["u"], inputs["v"]])
    model = kerasprune.prune(keras.Model(inputs, keras.layers.Dense(1, name="d")(joined)))
    rng = np.random.default_rng(0)
    x = {"u": rng.normal(size=(7, 2)), "v": rng.normal(size=(7, 2))}
    (wrapper,) = kerasprune.prune_wrappers(model)
    (gram,) = weight_grams(Calibration(model, x, batch_size=3), wrapper)
    features = np.concatenate([x["u"], x["v"]], axis=1)
    np.testing.assert_allclose(gram, features.T @ features, rtol=1e-5)


def test_projections_reading_one_input_share_one_gram():
    inputs = keras.Input((3, 8))
    outputs = keras.layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs)
    model = kerasprune.prune(keras.Model(inputs, outputs))
    (wrapper,) = kerasprune.prune_wrappers(model)
    x = np.random.default_rng(0).normal(size=(5, 3, 8))
    query, key, value, output = weight_grams(Calibration(model, x), wrapper)
    assert query is key is value and output is not query
    assert output.shape == (8, 8)  # heads x head_dim features of the output projection


def test_empty_calibration_data_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        Calibration(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), np.ones((0, 2)))
