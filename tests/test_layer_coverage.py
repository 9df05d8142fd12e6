"""Every layer kerasprune prunes by default, end to end: the list README.md gives.

Each case builds digits -> layer -> Flatten -> Dense head, prunes the layer only, trains
GMP to 50% in `fit`, and checks: every kernel of the layer at 50% +- 2% (and exactly the
kernels listed), pruned weights exactly zero, `strip` predicting identically, a `.keras`
round trip, and the TFLite file matching Keras to 1e-4.
"""

import re
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.wrapping import UnprunableLayerWarning
import tflite_export
from tflite_export.interpreter import load_interpreter, run

L = keras.layers
RNN_KERNELS = ("kernel", "recurrent_kernel")
ATTENTION_KERNELS = ("query/kernel", "key/kernel", "value/kernel", "attention_output/kernel")


@keras.saving.register_keras_serializable(package="kerasprune_tests")
class Scale(keras.layers.Layer):
    """A custom layer without `compute_output_shape`, made prunable by `register_prunable`."""

    def build(self, shape):
        self.kernel = self.add_weight(shape=shape[1:], name="kernel")

    def call(self, x):
        return x * self.kernel


kerasprune.register_prunable(Scale, ["kernel"])


@keras.saving.register_keras_serializable(package="kerasprune_tests")
class PrunableScale(Scale):
    """A custom layer without `compute_output_shape` that names its prunable weights."""

    def get_prunable_weights(self):
        return [self.kernel]


@keras.saving.register_keras_serializable(package="kerasprune_tests")
class Block(keras.layers.Layer):
    """A custom block of two Dense layers (auto-named, so names differ between copies)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.expand = L.Dense(16, activation="relu")
        self.project = L.Dense(8)

    def call(self, x):
        return self.project(self.expand(x))


def _names(prefix, names):
    return tuple(f"{prefix}/{n}" for n in names)


# name -> (layer factory, input kind, kernels pruned, relative to the layer). The names are
# those of `keras.layers` that README's "Prunable by default" sentence lists.
CASES = {
    "Dense": (lambda: L.Dense(8), "vector", ("kernel",)),
    "EinsumDense": (lambda: L.EinsumDense("ab,bc->ac", output_shape=8), "vector", ("kernel",)),
    "Conv1D": (lambda: L.Conv1D(4, 3), "sequence", ("kernel",)),
    "Conv2D": (lambda: L.Conv2D(4, 3), "image", ("kernel",)),
    "Conv3D": (lambda: L.Conv3D(4, 3, padding="same"), "volume", ("kernel",)),
    "Conv1DTranspose": (lambda: L.Conv1DTranspose(4, 3), "sequence", ("kernel",)),
    "Conv2DTranspose": (lambda: L.Conv2DTranspose(4, 3), "image", ("kernel",)),
    "Conv3DTranspose": (lambda: L.Conv3DTranspose(2, 3, padding="same"), "volume", ("kernel",)),
    "DepthwiseConv1D": (lambda: L.DepthwiseConv1D(3, depth_multiplier=2), "sequence",
                        ("kernel",)),
    "DepthwiseConv2D": (lambda: L.DepthwiseConv2D(3, depth_multiplier=4), "image",
                        ("kernel",)),
    "SeparableConv1D": (lambda: L.SeparableConv1D(4, 3, depth_multiplier=2), "sequence",
                        ("depthwise_kernel", "pointwise_kernel")),
    "SeparableConv2D": (lambda: L.SeparableConv2D(4, 3, depth_multiplier=4), "image",
                        ("depthwise_kernel", "pointwise_kernel")),
    "Embedding": (lambda: L.Embedding(16, 4), "tokens", ("embeddings",)),
    "SimpleRNN": (lambda: L.SimpleRNN(8), "sequence", _names("simple_rnn_cell", RNN_KERNELS)),
    "LSTM": (lambda: L.LSTM(8), "sequence", _names("lstm_cell", RNN_KERNELS)),
    "GRU": (lambda: L.GRU(8), "sequence", _names("gru_cell", RNN_KERNELS)),
    "ConvLSTM1D": (lambda: L.ConvLSTM1D(2, 3, padding="same"), "video1d",
                   _names("conv_lstm_cell", RNN_KERNELS)),
    "ConvLSTM2D": (lambda: L.ConvLSTM2D(2, 3, padding="same"), "video2d",
                   _names("conv_lstm_cell", RNN_KERNELS)),
    "ConvLSTM3D": (lambda: L.ConvLSTM3D(2, 3, padding="same"), "video3d",
                   _names("conv_lstm_cell", RNN_KERNELS)),
    "MultiHeadAttention": (lambda: L.MultiHeadAttention(2, 4), "attention", ATTENTION_KERNELS),
    "GroupQueryAttention": (lambda: L.GroupQueryAttention(4, 4, 2), "attention",
                            ATTENTION_KERNELS),
    "TimeDistributed": (lambda: L.TimeDistributed(L.Dense(8, name="dense")), "sequence",
                        ("dense/kernel",)),
    "Bidirectional": (lambda: L.Bidirectional(L.GRU(4, name="gru")), "sequence",
                      _names("forward_gru/gru_cell", RNN_KERNELS)
                      + _names("backward_gru/gru_cell", RNN_KERNELS)),
}
CUSTOM_CASES = {
    "register_prunable": (lambda: Scale(), "vector", ("kernel",)),
    "get_prunable_weights": (lambda: PrunableScale(), "vector", ("kernel",)),
    "custom block": (lambda: Block(), "vector", None),  # its two Dense kernels
}


def inputs_of(kind, images):
    """The 7x7 digits in the shape a layer of each kind takes."""
    n = len(images)
    if kind == "vector":
        return images.reshape(n, 49)
    if kind == "tokens":
        return np.round(images.reshape(n, 49) * 15).astype("int32")
    if kind in ("sequence", "attention"):
        return images[..., 0]
    if kind == "image":
        return images
    if kind == "volume":
        return images[..., None]
    return images.reshape((n, 7, 7) + (1,) * {"video1d": 1, "video2d": 2, "video3d": 3}[kind])


def model_with(layer, kind, x):
    inputs = keras.Input(x.shape[1:], dtype=x.dtype)
    h = layer(inputs, inputs) if kind == "attention" else layer(inputs)
    outputs = L.Dense(10, name="head")(L.Flatten()(h))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("name", list(CASES) + list(CUSTOM_CASES))
def test_layer_prunes_trains_strips_saves_and_exports(name, digits, tmp_path):
    make, kind, kernels = {**CASES, **CUSTOM_CASES}[name]
    (images, labels), _ = digits
    x, y = inputs_of(kind, images[:256]), labels[:256]
    layer = make()
    model = model_with(layer, kind, x)
    pruned = kerasprune.prune(model, layers=[layer.name])
    pruned.compile(keras.optimizers.Adam(1e-2),
                   keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=1)
    pruned.fit(x, y, batch_size=64, epochs=3, callbacks=[gmp], verbose=0)

    (wrapper,) = kerasprune.prune_wrappers(pruned)
    if kernels is None:  # the custom block's Dense sublayers, whatever they are named
        kernels = tuple(f"{sub.name}/kernel" for sub in (wrapper.layer.expand,
                                                         wrapper.layer.project))
    assert tuple(wrapper.weight_names) == kernels
    for weight, mask in zip(wrapper.pruned_weights, wrapper.masks):
        mask = np.asarray(mask)
        assert abs(1 - mask.mean() - 0.5) <= 0.02, weight.path
        assert np.all(np.asarray(weight)[mask == 0] == 0), weight.path

    sample = x[:8]
    expected = np.asarray(pruned(sample))
    plain = kerasprune.strip(pruned)
    assert not kerasprune.prune_wrappers(plain)
    np.testing.assert_array_equal(np.asarray(plain(sample)), expected)

    pruned.save(tmp_path / "pruned.keras")
    loaded = keras.saving.load_model(tmp_path / "pruned.keras")
    np.testing.assert_array_equal(np.asarray(loaded(sample)), expected)
    (loaded_wrapper,) = kerasprune.prune_wrappers(loaded)
    for mask, loaded_mask in zip(wrapper.masks, loaded_wrapper.masks):
        np.testing.assert_array_equal(np.asarray(mask), np.asarray(loaded_mask))

    content = tflite_export.convert(pruned, sparse=False)
    tflite_out = run(load_interpreter(content).interpreter, sample)
    np.testing.assert_allclose(tflite_out, expected, atol=1e-4, rtol=0)


def test_readme_lists_exactly_the_layers_tested_here():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sentence = re.search(r"Prunable by default[^.]*\.", readme, re.S).group(0)
    listed = {word for word in re.findall(r"\w+", sentence) if hasattr(keras.layers, word)}
    assert listed == set(CASES)


def test_only_named_sublayers_are_pruned():
    inputs = keras.Input((5, 8))
    outputs = L.MultiHeadAttention(2, 4, name="mha")(inputs, inputs)
    model = keras.Model(inputs, outputs)
    pruned = kerasprune.prune(model, layers=["query", "value"])
    assert kerasprune.prune_wrappers(pruned)[0].weight_names == ["query/kernel", "value/kernel"]
    pruned = kerasprune.prune(model, exclude=["attention_output"])
    assert kerasprune.prune_wrappers(pruned)[0].weight_names == list(ATTENTION_KERNELS[:3])


@keras.saving.register_keras_serializable(package="kerasprune_tests")
class UnknownInside(keras.layers.Layer):
    """A block holding a Dense and a weighted layer kerasprune does not know."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(4, name="dense")
        self.gain = Gain(name="gain")

    def call(self, x):
        return self.gain(self.dense(x))


class Gain(keras.layers.Layer):
    def build(self, shape):
        self.g = self.add_weight(shape=shape[1:], initializer="ones", name="g")

    def call(self, x):
        return x * self.g


def test_unknown_layer_nested_in_a_block_is_named_and_the_rest_pruned():
    inputs = keras.Input((6,))
    model = keras.Model(inputs, UnknownInside(name="block")(inputs))
    with pytest.warns(UnprunableLayerWarning, match=r"\['gain'\]"):
        pruned = kerasprune.prune(model)
    assert kerasprune.prune_wrappers(pruned)[0].weight_names == ["dense/kernel"]


def test_kerashub_position_embedding_is_pruned():
    import keras_hub

    layer = keras_hub.layers.PositionEmbedding(sequence_length=8)
    inputs = keras.Input((8, 4))
    model = keras.Model(inputs, layer(inputs))
    assert kerasprune.prune_wrappers(kerasprune.prune(model))[0].weight_names == ["embeddings"]
