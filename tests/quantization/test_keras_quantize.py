"""Keras 3's own `model.quantize` on a pruned model: what happens to the zeros.

These tests state what README says Keras does (Keras 3.15), so that a Keras release that
behaves otherwise fails here: post-training int8, int4 (per channel and in groups) and
float8 keep every zero exactly; float8 *training* fills the zeros of a stripped model,
while a pruning-ready model (its masks are kernel constraints) keeps them; GPTQ keeps them
on these models because its calibration never reaches the Dense layers (see README).
"""

import numpy as np
import pytest
import keras

import kerasprune
from tests.quantization.helpers import LOSS


def pruned_mlp():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(32, name="a"),
                              keras.layers.Dense(16, name="b")])
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.75)
    return pruned


def effective_kernel(layer, inputs: int) -> np.ndarray:
    """The kernel a (linear) layer computes with, whatever its quantized storage."""
    eye = np.eye(inputs, dtype="float32")
    return np.asarray(layer(eye)) - np.asarray(layer(np.zeros((1, inputs), "float32")))


def zeros_kept(model, masks: dict) -> dict:
    return {name: bool(np.all(effective_kernel(model.get_layer(name), mask.shape[0])[mask == 0]
                              == 0)) for name, mask in masks.items()}


def masks_of(pruned):
    return {w.layer.name: np.asarray(w.masks[0]) for w in kerasprune.prune_wrappers(pruned)}


@pytest.mark.parametrize("mode", ["int8", "int4", "int4/16", "float8"])
def test_keras_post_training_quantization_keeps_every_zero(mode):
    pruned = pruned_mlp()
    plain = kerasprune.strip(pruned)
    if mode == "int4/16":
        plain.quantize(config=keras.quantizers.Int4QuantizationConfig(block_size=16))
    else:
        plain.quantize(mode)
    assert {l.quantization_mode for l in plain.layers} == {mode.split("/")[0]}
    assert zeros_kept(plain, masks_of(pruned)) == {"a": True, "b": True}


def test_keras_float8_training_fills_a_stripped_models_zeros_not_a_pruned_ones():
    x = np.random.default_rng(0).random((64, 32), dtype=np.float32)
    y = np.random.default_rng(1).integers(0, 16, 64)
    pruned = pruned_mlp()
    masks = masks_of(pruned)
    plain = kerasprune.strip(pruned)
    for model in (plain, pruned):
        model.quantize("float8")
        model.compile(keras.optimizers.Adam(1e-2), LOSS)
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.mean(np.asarray(plain.get_layer("a").kernel) == 0) < 0.2     # Keras: lost
    for wrapper in kerasprune.prune_wrappers(pruned):                         # kerasprune: kept
        assert wrapper.layer.quantization_mode == "float8"
        assert np.array_equal(np.asarray(wrapper.layer.kernel) == 0, masks[wrapper.layer.name] == 0)


# Its own package: "kerasprune_tests>Block" is test_layer_coverage's (the last one wins).
@keras.saving.register_keras_serializable("kerasprune_quantize_tests")
class Block(keras.layers.Layer):
    """A transformer-like block of two Dense layers: what GPTQ quantizes block by block."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.up = keras.layers.Dense(32, name="up")
        self.down = keras.layers.Dense(16, name="down")

    def build(self, shape):
        self.up.build(shape)
        self.down.build((*shape[:-1], 32))

    def call(self, x):
        return self.down(self.up(x))


def gptq_kernels(seed: int) -> tuple[dict, dict]:
    """A pruned embedding + block model quantized by Keras' GPTQ (4 bits) on calibration
    tokens drawn with `seed`: the block's effective kernels, and its masks."""
    keras.utils.set_random_seed(0)
    tokens = keras.Input((8,), dtype="int32")
    model = keras.Model(tokens, Block(name="block")(keras.layers.Embedding(50, 16)(tokens)))
    pruned = kerasprune.prune(model, layers=["up", "down"])
    kerasprune.update_masks(pruned, 0.75)
    wrapper = kerasprune.prune_wrappers(pruned)[0]          # the block, wrapped whole
    masks = {name.split("/")[0]: np.asarray(m)
             for name, m in zip(wrapper.weight_names, wrapper.masks)}
    plain = kerasprune.strip(pruned)
    embedding, block = plain.layers[1], plain.layers[2]

    class Tokenizer:
        def tokenize(self, text):
            raise AssertionError("token arrays are given")

    samples = list(np.random.default_rng(seed).integers(0, 50, (8, 8)).astype("int32"))
    plain.quantize("gptq", config=keras.quantizers.GPTQConfig(
        samples, Tokenizer(), weight_bits=4, num_samples=4, sequence_length=8, group_size=-1,
        quantization_layer_structure={"pre_block_layers": [embedding],
                                      "sequential_blocks": [block]}))
    assert all(getattr(block, n).quantization_mode == "gptq" for n in masks)
    return {n: effective_kernel(getattr(block, n), m.shape[0]) for n, m in masks.items()}, masks


def test_keras_gptq_keeps_the_zeros_because_its_calibration_never_reaches_dense_layers():
    kernels, masks = gptq_kernels(seed=0)
    other_data, _ = gptq_kernels(seed=1)
    for name, mask in masks.items():
        assert np.all(kernels[name][mask == 0] == 0)
        # Other calibration data, the same result: the Hessians stayed empty (Keras 3.15
        # calls a quantized layer's `quantized_call`, not the `call` GPTQ hooks), so
        # GPTQ rounds to nearest, without the error feedback that moves pruned weights.
        assert np.array_equal(kernels[name], other_data[name])
