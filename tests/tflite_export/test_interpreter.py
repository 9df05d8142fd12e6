"""The LiteRT interpreter loader and its fallback chain, exercised for real."""

import importlib.util

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from tflite_export.interpreter import load_interpreter, run

X = np.random.default_rng(1).random((20, 16), dtype=np.float32)


@pytest.fixture(scope="module")
def model_and_content():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)]
    )
    return model, tflite_export.convert(model, sparse=False)


def test_ai_edge_litert_is_first_and_runs(model_and_content):
    model, content = model_and_content
    loaded = load_interpreter(content)
    assert (loaded.backend, loaded.resolver, loaded.notes) == ("ai_edge_litert", "xnnpack", [])
    np.testing.assert_allclose(run(loaded.interpreter, X), model.predict(X, verbose=0), atol=1e-5)


def test_tf_lite_is_the_last_resort_and_gives_the_same_outputs(model_and_content):
    _, content = model_and_content
    litert = run(load_interpreter(content).interpreter, X)
    loaded = load_interpreter(content, backends=("tensorflow",), xnnpack=False)
    assert (loaded.backend, loaded.resolver) == ("tensorflow", "builtin")
    np.testing.assert_allclose(run(loaded.interpreter, X), litert, atol=1e-5)


def test_tflite_runtime_is_tried_then_skipped_with_a_note(model_and_content):
    _, content = model_and_content
    loaded = load_interpreter(content, backends=("tflite_runtime", "tensorflow"))
    if importlib.util.find_spec("tflite_runtime") is None:
        assert loaded.backend == "tensorflow"
        assert len(loaded.notes) == 1
        assert loaded.notes[0].startswith("tflite_runtime: not installed")
    else:  # tflite-runtime 2.14 is built for NumPy 1.x and fails under NumPy 2
        built = loaded.backend == "tflite_runtime"
        assert built or "tflite_runtime: cannot build" in loaded.notes[0]


def test_xnnpack_refusing_int8_sparse_falls_back_to_builtin_kernels():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(4)]
    )
    model = kerasprune.prune(model)  # random sparsity: int8 DENSIFY, which XNNPACK refuses
    kerasprune.update_masks(model, 0.9)
    x = np.random.default_rng(0).random((32, 64), dtype=np.float32)
    with pytest.warns(tflite_export.SparsityWarning):
        content = tflite_export.convert(model, quantize="int8", representative_data=x)
    loaded = load_interpreter(content, xnnpack=True)
    assert (loaded.backend, loaded.resolver) == ("ai_edge_litert", "builtin")
    assert "XNNPACK refused the model" in loaded.notes[0]
    assert run(loaded.interpreter, x).shape == (32, 4)


def test_bad_arguments(model_and_content):
    _, content = model_and_content
    with pytest.raises(ValueError, match="backends=\\('litert',\\)"):
        load_interpreter(content, backends=("litert",))
    with pytest.raises(ValueError, match="num_threads=0"):
        load_interpreter(content, num_threads=0)
    with pytest.raises(ValueError, match="1 input"):
        run(load_interpreter(content).interpreter, [X, X])


def _three_inputs_three_outputs(widths):
    inputs = [keras.Input((width,), name=f"in{k}") for k, width in enumerate(widths)]
    joined = keras.layers.Concatenate()(inputs)
    outputs = [keras.layers.Dense(units, name=f"out{units}")(joined) for units in (3, 1, 2)]
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("widths", [(2, 3, 5), (4, 4, 4)], ids=["widths", "same-width"])
def test_inputs_and_outputs_follow_the_models_order_not_the_tensor_indices(widths):
    # LiteRT lists a file's 3 inputs as args_2, args_0, args_1 and its outputs as 1, 0, 2:
    # fed in that order, inputs of one width were silently swapped (and others refused)
    from tflite_export.interpreter import invoke_once

    keras.utils.set_random_seed(0)
    model = _three_inputs_three_outputs(widths)
    content = tflite_export.convert(model, sparse=False)
    x = [np.random.default_rng(k).random((5, w), dtype=np.float32) for k, w in enumerate(widths)]
    interpreter = load_interpreter(content).interpreter
    expected = model.predict(x, verbose=0)
    got = invoke_once(interpreter, x)
    assert [o.shape for o in got] == [(5, 3), (5, 1), (5, 2)]
    for output, want in zip(got, expected):
        np.testing.assert_allclose(output, want, atol=1e-5)
    np.testing.assert_allclose(run(interpreter, x), expected[0], atol=1e-5)


def test_xnnpack_refusing_a_node_at_the_first_invoke_falls_back_to_builtin_kernels():
    # int8 FULLY_CONNECTED stored sparse after a convolution: XNNPACK accepts the file when
    # tensors are allocated and fails to prepare the node at the first invoke, where
    # convert's own output check crashed with a RuntimeError
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 4)), keras.layers.Conv1D(8, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.5)
    x = np.random.default_rng(0).normal(size=(32, 16, 4)).astype(np.float32)
    with pytest.warns(tflite_export.SparsityWarning):
        content = tflite_export.convert(pruned, quantize="int8", representative_data=x)
    loaded = load_interpreter(content)
    assert loaded.resolver == "builtin" and "XNNPACK refused" in loaded.notes[0]
    outputs = run(loaded.interpreter, x)
    assert np.max(np.abs(outputs - pruned.predict(x, verbose=0))) < 0.1


def test_named_inputs_are_fed_by_name_order_in_convert_s_own_check():
    # three named inputs of one shape: LiteRT listed them as alpha, zeta, mid; convert's
    # output check fed them in that order and refused a right file as 'off by 0.9'
    from tflite_export.interpreter import invoke_once

    keras.utils.set_random_seed(0)
    names = ("zeta", "alpha", "mid")
    inputs = {name: keras.Input((4,), name=name) for name in names}
    joined = keras.layers.Concatenate()([keras.layers.Dense(4)(inputs[n]) for n in names])
    model = keras.Model(inputs, keras.layers.Dense(2)(joined))
    content = tflite_export.convert(model, sparse=False)
    x = {n: np.random.default_rng(k).normal(size=(3, 4)).astype(np.float32)
         for k, n in enumerate(names)}
    [got] = invoke_once(load_interpreter(content).interpreter, [x[n] for n in sorted(x)])
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)
