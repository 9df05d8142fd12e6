"""sparsity_report: per-weight rows, totals and a readable table."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.report import multiply_accumulates
from tests.helpers import small_cnn


def test_report_rows_and_table():
    pruned = kerasprune.prune(small_cnn(), layers=["hidden", "logits"])
    kerasprune.update_masks(pruned, 0.5)
    report = kerasprune.sparsity_report(pruned)
    assert [(r.layer, r.weight, r.shape) for r in report.rows] == [
        ("hidden", "kernel", (200, 32)), ("logits", "kernel", (32, 10))]
    assert report.rows[0].nonzeros == 200 * 32 // 2
    assert report.total == pytest.approx(0.5)
    text = str(report)
    assert "hidden" in text and "50.00%" in text and text.splitlines()[-1].startswith("total")
    # Biases and the unpruned conv count in the model-wide figure, masks do not.
    n_weights = small_cnn().count_params()
    assert report.model_size == n_weights
    conv_kernel = np.asarray(pruned.layers[0].kernel)
    zero_biases = 8 + 32 + 10  # Keras initializes biases to zero
    expected = (200 * 32 + 320) // 2 + zero_biases + int((conv_kernel == 0).sum())
    assert report.model_zeros == expected


def test_report_on_plain_model_counts_zeros_in_prunable_kernels():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="d")])
    model.layers[0].kernel.assign(np.eye(4, dtype="float32"))
    assert kerasprune.sparsity_report(model).as_dict() == {"d/kernel": 0.75}


def test_report_rejects_non_models():
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        kerasprune.sparsity_report([1, 2])


def test_macs_per_layer_and_speedup_of_a_pruned_cnn():
    pruned = kerasprune.prune(small_cnn(), layers=["conv", "hidden"])
    kerasprune.update_masks(pruned, 0.75)
    report = kerasprune.sparsity_report(pruned)
    # conv: 5x5 output positions x 3x3x1x8 kernel; Dense: its kernel once per example.
    dense = {"conv": 25 * 72, "hidden": 200 * 32, "logits": 32 * 10}
    assert {r.layer: r.dense for r in report.macs} == dense
    remaining = {r.layer: r.remaining for r in report.macs}
    assert remaining == {"conv": 25 * 18, "hidden": 1600, "logits": 320}
    assert report.dense_macs == sum(dense.values())
    assert report.speedup == pytest.approx(sum(dense.values()) / (450 + 1600 + 320))
    assert "theoretical speed-up 3.59x" in str(report)


def test_macs_of_a_subclassed_model_count_every_call():
    class Twice(keras.Model):
        def __init__(self):
            super().__init__()
            self.shared = keras.layers.Dense(4)
            self.rnn = keras.layers.GRU(2)

        def call(self, x):
            return self.rnn(self.shared(self.shared(x)[..., :3]))

    model = Twice()
    model(np.zeros((2, 5, 3), "float32"))
    rows = {r.layer: r.dense for r in multiply_accumulates(model)}
    # The shared Dense runs twice over 5 time steps; the GRU: 5 steps x (4x6 + 2x6).
    assert rows == {model.shared.name: 2 * 5 * 3 * 4, model.rnn.name: 5 * (24 + 12)}
    assert "call" not in model.shared.__dict__  # the observation is undone


def test_macs_need_a_known_input_shape():
    model = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(10, 4, name="emb"),
                              keras.layers.Dense(3, name="d")])
    report = kerasprune.sparsity_report(model)
    assert report.macs is None and report.speedup is None
    assert "pass sparsity_report(model, input_shape=...)" in str(report)
    sized = kerasprune.sparsity_report(model, input_shape=(6,))
    assert [(r.layer, r.dense) for r in sized.macs] == [("d", 6 * 12)]
    with pytest.raises(ValueError, match="input_shape"):
        multiply_accumulates(model)
    with pytest.raises(ValueError, match="Received: input_shape=6"):
        multiply_accumulates(model, input_shape=6)


def test_macs_of_named_inputs_and_convolution_kinds():
    inputs = {"a": keras.Input((8, 8, 3), name="a"), "b": keras.Input((8, 8, 3), name="b")}
    x = keras.layers.Add()([inputs["a"], inputs["b"]])
    x = keras.layers.SeparableConv2D(4, 3, strides=2, name="sep")(x)  # 3x3 positions
    x = keras.layers.Conv2DTranspose(2, 3, name="up")(x)  # applied at its 3x3 inputs
    x = keras.layers.DepthwiseConv2D(3, name="dw")(x)  # 5x5 -> 3x3 positions
    model = keras.Model(inputs, x)
    rows = {r.layer: r.dense for r in multiply_accumulates(model)}
    assert rows == {"sep": 9 * (27 + 12), "up": 9 * 72, "dw": 9 * 18}


@pytest.mark.parametrize("sequences, positions", [(False, 4 * 36), (True, 4 * 36)])
def test_macs_of_a_conv_lstm_count_both_convolutions_at_every_step(sequences, positions):
    inputs = keras.Input((4, 8, 8, 2))  # 4 steps; 3x3 valid: 6x6 output positions
    x = keras.layers.ConvLSTM2D(4, 3, return_sequences=sequences, name="clstm")(inputs)
    model = keras.Model(inputs, x)
    kernels = 3 * 3 * 2 * 16 + 3 * 3 * 4 * 16  # input and recurrent kernels, 4 gates
    assert {r.layer: r.dense for r in multiply_accumulates(model)} == {
        "clstm": positions * kernels}


@keras.saving.register_keras_serializable(package="tests")
class Scale(keras.layers.Layer):
    def build(self, shape):
        self.kernel = self.add_weight(shape=shape[1:], name="kernel")

    def call(self, x):
        return x * self.kernel


def test_a_prunable_layer_without_a_mac_count_is_named_in_the_report():
    kerasprune.register_prunable(Scale, ["kernel"])
    inputs = keras.Input((3,), dtype="int32")
    x = keras.layers.Flatten()(keras.layers.Embedding(10, 2, name="emb")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(Scale(name="scale")(x)))
    report = kerasprune.sparsity_report(kerasprune.prune(model))
    assert report.macs_not_counted == ["scale (Scale)"]  # an embedding takes no MACs
    assert "MACs not counted for scale (Scale)" in str(report)
    assert kerasprune.sparsity_report(kerasprune.prune(model, layers=["out"])).macs_not_counted == []


def test_speedup_of_a_shrunk_model_against_its_baseline():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="a"),
                              keras.layers.Dense(3, name="b")])
    pruned = kerasprune.prune(model, pattern=kerasprune.Channels(), layers=["a"])
    kerasprune.update_masks(pruned, 0.5)
    small = kerasprune.shrink(pruned)
    report = kerasprune.sparsity_report(small, baseline=pruned)
    assert {r.layer: (r.dense, r.remaining) for r in report.macs} == {
        "a": (48, 24), "b": (24, 12)}
    assert report.speedup == pytest.approx(2.0)
    assert kerasprune.sparsity_report(small).speedup == pytest.approx(1.0)  # dense itself
