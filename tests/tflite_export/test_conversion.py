"""convert(): pruned Keras models -> TFLite whose outputs match and whose sparsity is real."""

import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from tflite_export.interpreter import load_interpreter, run

X = np.random.default_rng(0).random((64, 32), dtype=np.float32)


class TwoDense(keras.Model):
    """A subclassed model (what TFMOT cannot prune)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(64, activation="relu")
        self.logits = keras.layers.Dense(10)

    def call(self, x):
        return self.logits(self.hidden(x))


def sequential():
    return keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )


def functional():
    inputs = keras.Input((32,))
    hidden = keras.layers.Dense(64, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(10)(hidden))


def subclassed():
    model = TwoDense()
    model(X[:1])
    return model


def pruned(build, sparsity=0.9, **prune_kwargs):
    model = kerasprune.prune(build(), **prune_kwargs)
    model(X[:1])  # builds a subclassed copy; harmless for the others
    kerasprune.update_masks(model, sparsity)
    return model


def convert_quietly(model, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", tflite_export.SparsityWarning)
        content = tflite_export.convert(model, **kwargs)
    sparsity_warnings = [w for w in caught if issubclass(w.category, tflite_export.SparsityWarning)]
    return content, [str(w.message) for w in sparsity_warnings]


@pytest.mark.parametrize("build", [sequential, functional, subclassed])
def test_block_pruned_model_converts_with_matching_outputs_and_sparse_kernels(build):
    model = pruned(build, block_shape=(4, 1))
    content, warned = convert_quietly(model)

    tflite_out = run(load_interpreter(content).interpreter, X)
    np.testing.assert_allclose(tflite_out, np.asarray(model(X)), atol=1e-5, rtol=0)
    report = tflite_export.inspect(content)
    assert [t.runs for t in report.tensors] == ["sparse kernel", "sparse kernel"]
    assert "DENSIFY" not in report.ops
    assert warned == []


def test_the_pruned_copy_of_a_called_subclassed_model_converts_without_a_signature():
    model = kerasprune.prune(subclassed(), block_shape=(4, 1))  # the copy is never called
    kerasprune.update_masks(model, 0.75)
    content, _ = convert_quietly(model)
    tflite_out = run(load_interpreter(content).interpreter, X)
    np.testing.assert_allclose(tflite_out, np.asarray(model(X)), atol=1e-5, rtol=0)


def test_convert_strips_a_copy_and_leaves_the_pruned_model_untouched():
    model = pruned(sequential, block_shape=(4, 1))
    tflite_export.convert(model)
    assert len(kerasprune.prune_wrappers(model)) == 2


def test_sparse_false_gives_a_dense_file():
    content, warned = convert_quietly(pruned(sequential, block_shape=(4, 1)), sparse=False)
    report = tflite_export.inspect(content)
    assert report.sparse_tensors == []
    assert warned == []


def test_random_sparsity_is_densify_only_and_warns_why():
    content, warned = convert_quietly(pruned(sequential))
    assert len(tflite_export.inspect(content).densified) == 2
    assert len(warned) == 1
    assert "stored sparse but expanded to dense by DENSIFY" in warned[0]
    assert "2 Dense kernel(s) whose zeros are not in the blocks" in warned[0]
    assert "block_shape=(4, 1)" in warned[0] and "\n" not in warned[0]


def test_dense_model_with_sparse_asked_warns_under_30_percent():
    _, warned = convert_quietly(sequential())
    assert len(warned) == 1
    assert "no weight of model" in warned[0] and "the file is dense" in warned[0]
    assert ">= 30% zeros" in warned[0] and "sparse=False" in warned[0]


def test_a_model_of_many_layers_gets_one_short_line():
    layers = [keras.layers.Dense(8, name=f"d{i}") for i in range(60)]
    _, warned = convert_quietly(keras.Sequential([keras.Input((8,)), *layers], name="deep"))
    (message,) = warned
    assert "\n" not in message and len(message) < 400
    assert "no weight of model 'deep'" in message and "why_not_sparse_kernel" in message


def test_pruned_conv_warns_that_conv_has_no_sparse_kernel():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            keras.layers.Conv2D(16, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    model = kerasprune.prune(model, layers=["conv"])
    kerasprune.update_masks(model, 0.9)
    _, warned = convert_quietly(model)
    assert len(warned) == 1
    assert "1 convolution kernel(s), which have no sparse kernel in TFLite (conv)" in warned[0]
    assert "1 kernel(s) below the converter's 30% zeros (logits)" in warned[0]
    assert "convolutions with kerasprune.Channels and kerasprune.shrink" in warned[0]
    assert tflite_export.why_not_sparse_kernel(model) == [  # the details, on demand
        "conv: CONV_2D has no sparse kernel in TFLite, a DENSIFY op expands it (only the "
        "file shrinks)", "logits: 0% zeros (the converter encodes only >= 30%)"]


def test_int8_with_16_blocks_runs_on_the_int8_sparse_kernel():
    model = pruned(sequential, block_shape=(16, 1))
    content, warned = convert_quietly(model, quantize="int8", representative_data=X)
    report = tflite_export.inspect(content)
    assert [(t.dtype, t.block_shape, t.runs) for t in report.tensors] == [
        ("int8", (1, 16), "sparse kernel")
    ] * 2
    assert warned == []
    out = run(load_interpreter(content, xnnpack=False).interpreter, X)
    assert np.mean(out.argmax(-1) == np.asarray(model(X)).argmax(-1)) >= 0.9


def test_int8_with_4_blocks_warns_for_16_blocks():
    model = pruned(sequential, block_shape=(4, 1))
    _, warned = convert_quietly(model, quantize="int8", representative_data=X)
    assert len(warned) == 1
    assert "block_shape=(16, 1)" in warned[0]


def test_dynamic_with_4_blocks_warns_for_16_blocks():
    # Both kernels hold >= 1024 weights, so "dynamic" stores both in int8, whose sparse
    # kernel reads blocks of 16 inputs: (4, 1) blocks are expanded by DENSIFY.
    def big():
        return keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"),
                                 keras.layers.Dense(32)])

    model = pruned(big, block_shape=(4, 1))
    content, warned = convert_quietly(model, quantize="dynamic")
    assert [(t.dtype, t.runs) for t in tflite_export.inspect(content).tensors] == [
        ("int8", "DENSIFY")] * 2
    assert len(warned) == 1 and "block_shape=(16, 1)" in warned[0]
    reasons = tflite_export.why_not_sparse_kernel(kerasprune.strip(model), "dynamic")
    assert len(reasons) == 2 and all("blocks of 16" in r for r in reasons)


def test_int8_calibrates_from_a_single_sample():
    model = pruned(sequential, block_shape=(16, 1))
    content, _ = convert_quietly(model, quantize="int8", representative_data=X[:1])
    assert {t.dtype for t in tflite_export.inspect(content).tensors} == {"int8"}


def test_blocks_along_the_outputs_are_not_the_sparse_kernels_blocks():
    # (1, 4) blocks group 4 outputs of one input: TFLite's kernel wants 4 inputs of one
    # output (4 rows of a Keras Dense kernel [in, out], 1x4 in TFLite's [out, in]).
    def four_wide():
        return keras.Sequential([keras.Input((32,)), keras.layers.Dense(64),
                                 keras.layers.Dense(16)])

    reasons = tflite_export.why_not_sparse_kernel(
        kerasprune.strip(pruned(four_wide, block_shape=(1, 4))))
    assert len(reasons) == 2 and all("block_shape=(4, 1)" in r for r in reasons)
    assert tflite_export.why_not_sparse_kernel(
        kerasprune.strip(pruned(four_wide, block_shape=(4, 1)))) == []


def test_float16_in_blocks_is_stored_dense_since_dequantize_reads_it_as_dense():
    model = pruned(sequential, block_shape=(4, 1))
    content, warned = convert_quietly(model, quantize="float16")
    report = tflite_export.inspect(content)
    assert report.sparse_tensors == [] and [t.dtype for t in report.tensors] == ["float16"] * 2
    tflite_out = run(load_interpreter(content).interpreter, X)
    np.testing.assert_allclose(tflite_out, np.asarray(model(X)), atol=1e-2, rtol=0)
    assert len(warned) == 1
    assert "stored dense" in warned[0] and "float16 stored sparse, which DEQUANTIZE" in warned[0]


def test_dynamic_quantization_keeps_the_sparse_kernel():
    content, warned = convert_quietly(pruned(sequential, block_shape=(16, 1)), quantize="dynamic")
    assert [t.runs for t in tflite_export.inspect(content).tensors] == ["sparse kernel"] * 2
    assert warned == []


def test_dynamic_names_the_weights_too_small_to_quantize():
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, name="big"),
                              keras.layers.Dense(3, name="small")])
    with pytest.warns(UserWarning, match="float32") as caught:
        content = tflite_export.convert(model, quantize="dynamic", sparse=False)
    message = " ".join(str(w.message) for w in caught if "left" in str(w.message))
    assert "'small' (96 elements)" in message and "'big'" not in message
    assert ">= 1,024 elements" in message
    assert {t.layer: t.dtype for t in tflite_export.inspect(content).tensors} == {
        "big": "int8", "small": "float32"}


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"quantize": "int8"}, ValueError, "representative_data"),
        ({"quantize": "int4"}, ValueError, "quantize='int4'"),
        ({"sparse": "yes"}, TypeError, "sparse='yes'"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, words):
    with pytest.raises(error, match=words):
        tflite_export.convert(sequential(), **kwargs)


@pytest.mark.parametrize("where", ["kernel", "bias"])
def test_nan_weights_are_refused_naming_the_layer(where):
    model = pruned(functional, sparsity=0.5)
    dense = model.layers[-1].layer
    variable = dense.kernel if where == "kernel" else dense.bias
    values = np.array(variable)
    values.flat[0] = np.nan
    variable.assign(values)
    with pytest.raises(ValueError, match=f"Layer '{dense.name}' has 1 NaN/Inf values in its "
                                         f"weight '{where}'"):
        tflite_export.convert(model)


def test_non_model_raises_type_error():
    with pytest.raises(TypeError, match="keras.Model"):
        tflite_export.convert(np.zeros(3))


def test_non_tensorflow_backend_raises_value_error():
    # Keras' numpy backend (it imports jax, in the dev extra) in a child process.
    code = (
        "import keras, tflite_export\n"
        "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
        "try:\n"
        "    tflite_export.convert(m)\n"
        "except ValueError as e:\n"
        "    print('ValueError:', e)\n"
    )
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert "ValueError: TFLite conversion needs the TensorFlow backend" in result.stdout
    assert "'numpy' backend" in result.stdout


def test_tflite_block_shape_matches_the_kernels_that_run_sparse():
    assert tflite_export.tflite_block_shape() == (4, 1)
    assert tflite_export.tflite_block_shape("int8") == (16, 1)
    assert tflite_export.tflite_block_shape("dynamic") == (16, 1)
    with pytest.raises(ValueError, match="no sparse kernel"):
        tflite_export.tflite_block_shape("float16")
    with pytest.raises(ValueError, match="quantize='int4'"):
        tflite_export.tflite_block_shape("int4")


def test_a_conversion_failure_without_details_is_named_by_its_first_line():
    from tflite_export.conversion import conversion_failure

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)], name="tiny")
    error = conversion_failure(RuntimeError("\n  the converter says no\nand more"), model)
    assert isinstance(error, ValueError)
    assert str(error) == "TFLite conversion of model 'tiny' failed:   the converter says no"


def test_nan_in_a_non_trainable_weight_is_refused_too():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization(name="bn")])
    variance = model.get_layer("bn").moving_variance
    values = np.array(variance)
    values[0] = np.nan
    variance.assign(values)
    with pytest.raises(ValueError, match="Layer 'bn' has 1 NaN/Inf values in its weight "
                                         "'moving_variance'"):
        tflite_export.convert(model)


def test_why_not_sparse_kernel_reads_the_layers_of_a_quantization_aware_model():
    from kerasprune.quantization import quantize_model

    qat = quantize_model(pruned(sequential))  # 90% zeros, not in blocks
    reasons = tflite_export.why_not_sparse_kernel(qat, quantize="int8")
    assert len(reasons) == 2 and all("not in blocks of 16" in r for r in reasons), reasons



def test_nan_in_a_weight_no_layer_owns_names_the_model():
    # A model whose `weights` lists a variable none of its layers created (a user's
    # override): the check still names where it is, the model itself.
    foreign = keras.Variable(np.array([1.0, np.nan], dtype="float32"), name="foreign")

    class Listing(keras.Sequential):
        @property
        def weights(self):
            return super().weights + [foreign]

    model = Listing([keras.Input((4,)), keras.layers.Dense(2, name="fc")], name="listing")
    with pytest.raises(ValueError, match="Layer 'listing' has 1 NaN/Inf values in its weight "
                                         "'foreign'"):
        tflite_export.convert(model)


def _kernel_warnings(model):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tflite_export.convert(model)
    return [str(w.message) for w in caught
            if issubclass(w.category, tflite_export.SparseKernelWarning)]


def test_the_wrong_kernel_warning_counts_a_layers_inputs_not_its_outputs():
    # 32 -> 64 -> 10 in (4, 1) blocks: every layer's inputs are a multiple of 4 (the last
    # one's 10 outputs are not, which the kernel does not mind)
    assert _kernel_warnings(pruned(sequential, block_shape=(4, 1))) == []

    def thirty_inputs():
        return keras.Sequential([keras.Input((30,)), keras.layers.Dense(8, name="odd"),
                                 keras.layers.Dense(4, name="out")])

    model = kerasprune.prune(thirty_inputs(), block_shape=(4, 1))
    kerasprune.update_masks(model, 0.75)
    [message] = _kernel_warnings(model)
    assert "'odd' (30 inputs, blocks of 4)" in message and "'out'" not in message


def test_why_not_sparse_kernel_reads_the_layers_of_a_nested_model():
    block = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, name="inner")],
                             name="block")
    model = pruned(lambda: keras.Sequential([keras.Input((32,)), block,
                                             keras.layers.Dense(10, name="top")]))
    reasons = tflite_export.why_not_sparse_kernel(model)  # 90% zeros, not in blocks
    assert sorted(r.split(":")[0] for r in reasons) == ["inner", "top"], reasons


def test_int8_calibration_reads_every_sample_given_up_to_200_one_at_a_time():
    import tensorflow as tf

    from tflite_export.conversion import _representative

    spec = tf.TensorSpec((None, 8), tf.float32)
    x = np.arange(300 * 8, dtype="float64").reshape(300, 8)
    seen = list(_representative(x, [spec])())
    assert len(seen) == 200 and all(s[0].shape == (1, 8) for s in seen)
    np.testing.assert_array_equal(np.concatenate([s[0] for s in seen]), x[:200])
    assert seen[0][0].dtype == np.float32
    # several inputs: by the file's input names (the calibrator feeds a list by tensor index)
    pairs = list(_representative([x[:50], -x[:50]], [spec, spec])())
    assert len(pairs) == 50 and np.array_equal(pairs[7]["args_1"], -x[7:8])
    calls = lambda: iter([[x[:1]]])  # noqa: E731  a callable is the converter's own
    assert _representative(calls, [spec]) is calls


def test_a_signature_given_as_a_dict_feeds_each_input_by_its_name():
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    inputs = {"ids": keras.Input((4,), name="ids"), "mask": keras.Input((4,), name="mask")}
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([inputs["ids"], inputs["mask"]]))
    model = keras.Model(inputs, outputs)
    # given in another order than the model's inputs, with a fixed batch of 3
    signature = {name: tf.TensorSpec((3, 4), tf.float32, name=name) for name in ("mask", "ids")}
    content = tflite_export.convert(model, sparse=False, input_signature=signature)
    feed = {"ids": X[:3, :4], "mask": -2 * X[3:6, 4:8]}
    runner = Interpreter(model_content=content).get_signature_runner()
    [result] = runner(**feed).values()
    np.testing.assert_allclose(result, model(feed), rtol=1e-5, atol=1e-5)


def test_a_quantization_aware_model_exports_dynamic_range_before_calibration():
    from kerasprune.quantization import quantize_model

    qat = quantize_model(keras.Sequential([keras.Input((32,)), keras.layers.Dense(64)]))
    with pytest.raises(ValueError, match="never saw data"):
        tflite_export.convert(qat, quantize="int8")
    report = tflite_export.inspect(tflite_export.convert(qat, quantize="dynamic", sparse=False))
    assert "QUANTIZE" not in report.ops and [t.dtype for t in report.tensors] == ["int8"]


def test_the_output_check_compares_every_output_of_a_multi_output_model():
    from tflite_export import parity

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(3, name="first")(hidden),
                                 keras.layers.Dense(2, name="second")(hidden)])
    content = tflite_export.convert(model, sparse=False)
    samples = parity.sample_inputs([tf_spec((None, 6))])
    right = [np.asarray(o) for o in model(samples[0])]
    parity.check_file_computes(content, samples, right, quantize=None, sparse=False)
    # a file whose second output is off (the model it is checked against differs there)
    model.get_layer("second").bias.assign([0.5, 0.0])
    wrong = [np.asarray(o) for o in model(samples[0])]
    with pytest.raises(ValueError, match=r"output 2 of 2 .*off by up to 0\.5"):
        parity.check_file_computes(content, samples, wrong, quantize=None, sparse=False)


def tf_spec(shape):
    import tensorflow as tf

    return tf.TensorSpec(shape, tf.float32)


@pytest.mark.parametrize("named, as_dict", [(False, False), (True, False), (True, True)],
                         ids=["list-model", "dict-model-list-data", "dict-model-dict-data"])
def test_int8_calibrates_each_input_on_its_own_samples(named, as_dict):
    # the calibrator fed a list of samples in the file's tensor order (three inputs: 2, 0,
    # 1): the inputs' ranges were swapped, a file off by most of its output range (int8's
    # output check looks at finiteness only); a dict of samples by input name was refused
    from tflite_export.interpreter import invoke_once, load_interpreter

    keras.utils.set_random_seed(0)
    names = ("ids", "extra", "more")
    inputs = [keras.Input((8,), name=name) for name in names]
    joined = keras.layers.Concatenate()([keras.layers.Dense(8)(t) for t in inputs])
    model = keras.Model(dict(zip(names, inputs)) if named else inputs,
                        keras.layers.Dense(4)(joined))
    rng = np.random.default_rng(0)
    x = {name: scale * rng.normal(size=(64, 8)).astype(np.float32)
         for name, scale in zip(names, (1, 20, 5))}
    order = sorted(x) if named else names  # a dict model's flat order is by name
    data = x if as_dict else [x[n] for n in order]
    content = tflite_export.convert(model, sparse=False, quantize="int8",
                                    representative_data=data)
    [got] = invoke_once(load_interpreter(content).interpreter, [x[n] for n in order])
    want = model.predict(x if named else [x[n] for n in names], verbose=0)
    assert np.max(np.abs(got - want)) < 0.1 * np.max(np.abs(want))


def fully_convolutional(convolutions: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = kerasprune.prune(keras.Sequential(
        [keras.Input((None, None, 3))] + [layers.Conv2D(4, 3) for _ in range(convolutions)]
        + [layers.GlobalAveragePooling2D(), layers.Dense(2)]))
    kerasprune.update_masks(model, 0.5)
    return model


def test_open_spatial_dims_stay_dynamic_and_the_file_is_checked_at_a_size_it_runs():
    model = fully_convolutional(1)
    content, _ = convert_quietly(model)   # its check built no interpreter at size 1 before
    assert tflite_export.inspect(content).tensors
    for shape in ((2, 6, 9, 3), (1, 11, 5, 3)):
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        got = run(load_interpreter(content, xnnpack=False).interpreter, x)
        np.testing.assert_allclose(got, model(x), atol=1e-5)


def test_open_dims_the_check_cannot_run_are_named_with_input_signature():
    with pytest.raises(ValueError, match=r"\(None, None, None, 3\) leave dims other than the "
                       r"batch unknown.*input_signature=.*kerasprune export"):
        convert_quietly(fully_convolutional(3))   # three 3x3 convolutions empty a 4x4 input


def test_int8_file_off_on_its_calibration_samples_is_named_in_a_warning(monkeypatch):
    # only NaN/Inf was checked for int8: a file calibrated on the wrong ranges (here, a
    # calibrator fed samples 100 times too small) was written without a word
    from tflite_export import conversion

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(3, name="first")(hidden),
                                 keras.layers.Dense(2, name="second")(hidden)])
    x = np.random.default_rng(0).normal(size=(32, 8)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tflite_export.convert(model, sparse=False, quantize="int8", representative_data=x)
    assert not [w for w in caught if "int8" in str(w.message)], [str(w.message) for w in caught]
    calibrate = conversion._representative
    monkeypatch.setattr(conversion, "_representative",
                        lambda data, signature: calibrate(data * 0.01, signature))
    with pytest.warns(UserWarning, match=r"int8.*first 8 samples of representative_data") as w:
        tflite_export.convert(model, sparse=False, quantize="int8", representative_data=x)
    [message] = [str(m.message) for m in w if "representative_data" in str(m.message)]
    assert "output 1 of 2 ('first'): off by up to" in message and "% of its range" in message
    assert "output 2 of 2 ('second')" in message
