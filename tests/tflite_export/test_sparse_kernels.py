"""TFLite's sparse FULLY_CONNECTED kernel computes a layer wrong when the layer's number of
inputs is not a multiple of its block: `convert` says so with a `SparseKernelWarning`.

The first test measures the bug itself (so that a LiteRT release that fixes it fails here,
and the warning can go); the others check the warning names the layer, and only then.
"""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from tflite_export.interpreter import load_interpreter, run


def pruned_mlp(inputs: int, block: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((inputs,)),
                              keras.layers.Dense(32, activation="relu", name="fc"),
                              keras.layers.Dense(4, name="out")])
    pruned = kerasprune.prune(model, layers=["fc"], block_shape=(block, 1))
    kerasprune.update_masks(pruned, 0.75)
    return pruned


def outputs(content: bytes, x: np.ndarray) -> np.ndarray:
    return run(load_interpreter(content, xnnpack=False).interpreter, x)


def convert(model, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        content = tflite_export.convert(model, **kwargs)
    return content, [w for w in caught if issubclass(w.category, tflite_export.SparseKernelWarning)]


@pytest.mark.parametrize("inputs, block, quantize", [(38, 4, None), (40, 16, "dynamic")])
def test_the_sparse_kernel_is_wrong_when_the_inputs_are_not_a_multiple_of_the_block(
        inputs, block, quantize):
    model = pruned_mlp(inputs, block)
    x = np.random.default_rng(0).random((16, inputs), dtype=np.float32)
    sparse, warned = convert(model, quantize=quantize)
    dense, _ = convert(model, quantize=quantize, sparse=False)
    assert [t.runs for t in tflite_export.inspect(sparse).tensors][0] == "sparse kernel"
    assert np.abs(outputs(sparse, x) - outputs(dense, x)).max() > 0.01   # TFLite's bug
    assert len(warned) == 1
    message = str(warned[0].message)
    assert f"'fc' ({inputs} inputs, blocks of {block})" in message
    assert message.index("sparse=False") < message.index("without blocks also works")


def test_int8_of_a_layer_pruned_without_blocks_advises_sparse_false_not_unblocked_pruning():
    keras.utils.set_random_seed(0)
    model = kerasprune.prune(keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16, activation="relu", name="a"),
        keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)]))
    kerasprune.update_masks(model, 0.5)
    x = np.random.default_rng(0).random((32, 8), dtype=np.float32)
    sparse, warned = convert(model, quantize="int8", representative_data=x)
    assert [t.block_shape for t in tflite_export.inspect(sparse).tensors][0] == (1, 16)
    message = str(warned[0].message)
    assert "'a' (8 inputs, blocks of 16)" in message
    assert "Prune such a layer without blocks" not in message
    assert message.index("Convert with sparse=False") < message.index("exclude=")
    assert "pruning it without blocks does not help" in message
    dense, warned_dense = convert(model, quantize="int8", representative_data=x, sparse=False)
    assert not warned_dense   # the advice given first gives a file without the problem


def test_no_warning_when_the_inputs_are_a_multiple_of_the_block():
    model = pruned_mlp(48, 16)
    x = np.random.default_rng(0).random((16, 48), dtype=np.float32)
    sparse, warned = convert(model, quantize="dynamic")
    dense, _ = convert(model, quantize="dynamic", sparse=False)
    assert not [w for w in warned if "blocks of" in str(w.message)]
    assert np.allclose(outputs(sparse, x), outputs(dense, x), atol=1e-5)


def test_xnnpack_runs_the_dynamic_range_sparse_kernel_wrong_and_convert_says_so():
    model = pruned_mlp(48, 16)
    x = np.random.default_rng(0).random((16, 48), dtype=np.float32)
    sparse, warned = convert(model, quantize="dynamic")
    with_xnnpack = run(load_interpreter(sparse, xnnpack=True).interpreter, x)
    assert np.abs(with_xnnpack - outputs(sparse, x)).max() > 0.01   # XNNPACK's bug
    assert len(warned) == 1
    assert "With XNNPACK" in str(warned[0].message)
    assert "BUILTIN_WITHOUT_DEFAULT_DELEGATES" in str(warned[0].message)
