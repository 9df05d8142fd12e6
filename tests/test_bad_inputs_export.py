"""Bad inputs to tflite_export and the `kerasprune` command: refused before any change.

See `tests/bad_inputs.py` for what every row must show.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite_export as TE
from tests.bad_inputs import X, Y, CommandFailed, check_refused, cli, ctx  # noqa: F401
from tests.test_bad_inputs_api import CASES as API_CASES

V, T, C = ValueError, TypeError, CommandFailed


def content(c):
    return c["content"]


def token_model():
    """A model of integer token inputs (an Embedding first)."""
    inputs = keras.Input((5,), dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4)(inputs))
    return keras.Model(inputs, keras.layers.Dense(2)(pooled))


def nan_samples():
    for _ in range(4):
        yield [np.full((1, 8), np.nan, np.float32)]


# (id, call, what it raises, pattern of the message)
CASES = [
    # tflite_export: convert, inspect, benchmark, compare, interpreter
    ("convert/model", lambda c: TE.convert("model.keras"), T, r"Expected model to be a keras"),
    ("convert/unbuilt", lambda c: TE.convert(c["unbuilt"]), V, r"is not built"),
    ("convert/sparse", lambda c: TE.convert(c["plain"], sparse="yes"), T, r"sparse to be True"),
    ("convert/quantize", lambda c: TE.convert(c["plain"], quantize="int4"), V,
     r"quantize to be one of"),
    ("convert/int8 no data", lambda c: TE.convert(c["plain"], quantize="int8"), V,
     r"needs representative_data"),
    ("convert/int8 empty", lambda c: TE.convert(c["plain"], quantize="int8",
                                                representative_data=X[:0]), V,
     r"representative_data to be samples of shape \(n >= 1, 8\).*Received: shape \(0, 8\)"),
    ("convert/int8 nan", lambda c: TE.convert(c["plain"], quantize="int8",
                                              representative_data=np.full_like(X, np.nan)), V,
     r"representative_data .* finite values.*NaN/Inf"),
    ("convert/int8 width", lambda c: TE.convert(c["plain"], quantize="int8",
                                                representative_data=X[:, :5]), V,
     r"representative_data to be samples of shape \(n >= 1, 8\).*\(16, 5\)"),
    ("convert/int8 arrays", lambda c: TE.convert(c["plain"], quantize="int8",
                                                 representative_data=[X, X]), V,
     r"one array per model input: the model has 1 input"),
    ("convert/int8 strings", lambda c: TE.convert(c["plain"], quantize="int8",
                                                  representative_data=np.array(["a", "b"])), T,
     r"representative_data to be numeric"),
    ("convert/int8 no samples", lambda c: TE.convert(c["plain"], quantize="int8",
                                                     representative_data=lambda: iter([])), V,
     r"quantize=\"int8\" produced a float32 file"),
    ("convert/int8 nan samples", lambda c: TE.convert(c["plain"], quantize="int8",
                                                      representative_data=nan_samples), V,
     r"produced a float32 file.*not finite"),
    ("convert/data unused", lambda c: TE.convert(c["plain"], representative_data=X), V,
     r"representative_data calibrates quantize=\"int8\" only"),
    ("convert/data dynamic", lambda c: TE.convert(c["plain"], quantize="dynamic",
                                                  representative_data=X), V,
     r"with quantize='dynamic' it would be ignored"),
    ("convert/unsupported op", lambda c: TE.convert(c["det"]), V,
     r"tf.MatrixDeterminant \(layer 'det'\).*allows only built-in ops, so that any LiteRT "
     r"interpreter runs the file: replace those layers by"),
    ("block_shape/float16", lambda c: TE.tflite_block_shape("float16"), V, r"float16"),
    ("block_shape/int4", lambda c: TE.tflite_block_shape("int4"), V, r"quantize to be one of"),
    ("inspect/bytes", lambda c: TE.inspect(b"not a tflite file"), V, r"not a TFLite flatbuffer"),
    ("inspect/type", lambda c: TE.inspect(123), T, r"Expected TFLite bytes or a path"),
    ("inspect/missing", lambda c: TE.inspect("missing.tflite"), FileNotFoundError,
     r"No TFLite file at model='missing.tflite'"),
    ("bench/width", lambda c: TE.benchmark(content(c), X[:, :5], runs=1, warmup=0), V,
     r"Expected inputs of shape \(batch, 8\).*Received: an array of shape \(16, 5\)"),
    ("bench/width 16", lambda c: TE.benchmark(content(c), np.ones((4, 16), np.float32),
                                              y=Y[:4], runs=1, warmup=0), V,
     r"Expected inputs of shape \(batch, 8\)"),
    ("bench/one-hot", lambda c: TE.benchmark(content(c), X, y=np.eye(3)[Y], runs=1), V,
     r"Expected y to be integer class labels.*\(16, 3\)"),
    ("bench/short y", lambda c: TE.benchmark(content(c), X, y=Y[:-1], runs=1), V,
     r"one label per sample: inputs has 16 samples, y has 15"),
    ("bench/empty", lambda c: TE.benchmark(content(c), X[:0], runs=1), V,
     r"Expected inputs to be a non-empty array"),
    ("bench/str", lambda c: TE.benchmark(content(c), "x.npy", runs=1), V, r"Expected inputs"),
    ("bench/runs", lambda c: TE.benchmark(content(c), X, runs=0), V, r"runs to be an int >= 1"),
    ("bench/warmup", lambda c: TE.benchmark(content(c), X, warmup=-1), V, r"warmup to be an int"),
    ("bench/xnnpack ()", lambda c: TE.benchmark(content(c), X, xnnpack=()), V, r"xnnpack to be"),
    ("bench/xnnpack str", lambda c: TE.benchmark(content(c), X, xnnpack=("on",)), V,
     r"xnnpack to be a non-empty sequence of booleans"),
    ("bench/threads", lambda c: TE.benchmark(content(c), X, num_threads=0, runs=1), V,
     r"num_threads to be an int >= 1"),
    ("bench/backends", lambda c: TE.benchmark(content(c), X, backends=("tflite",), runs=1), V,
     r"backends from"),
    ("compare/empty", lambda c: TE.compare({}, X), V, r"Expected models to be a non-empty dict"),
    ("compare/list", lambda c: TE.compare([content(c)], X), V, r"Expected models to be"),
    ("compare/int", lambda c: TE.compare({"a": 3}, X, runs=1), T, r"models\['a'\]"),
    ("compare/width", lambda c: TE.compare({"a": content(c)}, X[:, :5], runs=1), V,
     r"Expected inputs of shape \(batch, 8\)"),
    ("compare/short y", lambda c: TE.compare({"a": content(c)}, X, Y[:-1], runs=1), V,
     r"one label per sample"),
    ("compare/runs", lambda c: TE.compare({"a": content(c)}, X, runs=0), V, r"runs to be"),
    ("interpreter/threads", lambda c: TE.load_interpreter(content(c), num_threads=0), V,
     r"num_threads to be an int >= 1"),
    ("interpreter/backends", lambda c: TE.load_interpreter(content(c), backends="tensorflow"),
     V, r"backends from"),
    ("read_model/short", lambda c: TE.read_model(b"TFL3"), V, r"not a TFLite flatbuffer"),
    # the command line
    ("cli/no command", lambda c: cli(c), C, r"exit 2"),
    ("cli/missing model", lambda c: cli(c, "export", "{missing}", "-o", "{out}"), C,
     r"error: No model file at '.*missing.keras'"),
    ("cli/corrupt keras", lambda c: cli(c, "export", "{bad_keras}", "-o", "{out}"), C,
     r"error: '.*bad.keras' is not a .keras file: a .keras file is a zip archive"),
    ("cli/rep without int8", lambda c: cli(c, "export", "{ok_keras}", "-o", "{out}",
                                           "--representative-data", "{rep_npy}"), C,
     r"error: --representative-data calibrates --quantize int8 only"),
    ("cli/rep with dynamic", lambda c: cli(c, "export", "{ok_keras}", "-o", "{out}", "--quantize",
                                           "dynamic", "--representative-data", "{rep_npy}"), C,
     r"error: --representative-data calibrates --quantize int8 only; with --quantize dynamic"),
    ("cli/int8 no data", lambda c: cli(c, "export", "{ok_keras}", "-o", "{out}", "--quantize",
                                       "int8"), C, r"--quantize int8 needs --representative-data"),
    ("cli/int8 nan", lambda c: cli(c, "export", "{ok_keras}", "-o", "{out}", "--quantize", "int8",
                                   "--representative-data", "{rep_nan_npy}"), C, r"NaN/Inf"),
    ("cli/int8 width", lambda c: cli(c, "export", "{ok_keras}", "-o", "{out}", "--quantize",
                                     "int8", "--representative-data", "{rep_wide_npy}"), C,
     r"shape \(n >= 1, 8\).*\(16, 5\)"),
    ("cli/rep npz", lambda c: cli(c, "export", "{ok_keras}", "-o", "{out}", "--quantize", "int8",
                                  "--representative-data", "{no_x_npz}"), C,
     r"--representative-data .* must hold an array named 'x'"),
    ("cli/quantize int4", lambda c: cli(c, "export", "{ok_keras}", "-o", "{out}", "--quantize",
                                        "int4"), C, r"exit 2"),
    ("cli/output folder", lambda c: cli(c, "export", "{ok_keras}", "-o", "{no_folder}"), C,
     r"The folder of --output .* does not exist"),
    ("cli/inspect bad", lambda c: cli(c, "inspect", "{not_tflite}"), C, r"not a TFLite"),
    ("cli/inspect missing", lambda c: cli(c, "inspect", "{missing}"), C, r"No TFLite file"),
    ("cli/bench runs", lambda c: cli(c, "bench", "{model_tflite}", "--runs", "0"), C,
     r"runs to be an int >= 1"),
    ("cli/bench runs abc", lambda c: cli(c, "bench", "{model_tflite}", "--runs", "abc"), C,
     r"exit 2"),
    ("cli/bench threads", lambda c: cli(c, "bench", "{model_tflite}", "--threads", "0"), C,
     r"Expected threads to be an int >= 1. Received: threads='0'"),
    ("cli/bench warmup", lambda c: cli(c, "bench", "{model_tflite}", "--warmup", "-1"), C,
     r"warmup to be an int >= 0"),
    ("cli/bench no data", lambda c: cli(c, "bench", "{model_tflite}", "--data", "{missing}"), C,
     r"No data file at --data"),
    ("cli/bench width", lambda c: cli(c, "bench", "{model_tflite}", "--data", "{wide_npz}"), C,
     r"Expected inputs of shape \(batch, 8\).*\(16, 12\)"),
    ("cli/bench one-hot", lambda c: cli(c, "bench", "{model_tflite}", "--data", "{onehot_npz}"),
     C, r"Expected y to be integer class labels"),
    ("cli/bench npy", lambda c: cli(c, "bench", "{model_tflite}", "--data", "{rep_npy}"), C,
     r"must be a .npz file with arrays x and y"),
    ("cli/bench no x", lambda c: cli(c, "bench", "{model_tflite}", "--data", "{no_x_npz}"), C,
     r"must hold an array named 'x'"),
    ("cli/prune no recipe", lambda c: cli(c, "prune", "{ok_keras}", "--recipe", "{missing}",
                                          "--data", "{data_npz}", "-o", "{no_folder}"), C,
     r"No recipe file at"),
    ("cli/prune bad recipe", lambda c: cli(c, "prune", "{ok_keras}", "--recipe",
                                           "{bad_recipe_yaml}", "--data", "{data_npz}", "-o",
                                           "{no_folder}"), C, r"`target_sparsity` must be"),
    ("cli/prune npy data", lambda c: cli(c, "prune", "{ok_keras}", "--recipe", "{recipe_yaml}",
                                         "--data", "{rep_npy}", "-o", "{no_folder}"), C,
     r"--data .* must be a .npz file with arrays x and y \(or x_train, y_train, x_test, "
     r"y_test\), not a single .npy array"),
    ("cli/prune corrupt", lambda c: cli(c, "prune", "{bad_keras}", "--recipe", "{recipe_yaml}",
                                        "--data", "{data_npz}", "-o", "{no_folder}"), C,
     r"is not a .keras file"),
    ("cli/prune output file", lambda c: cli(c, "prune", "{ok_keras}", "--recipe", "{recipe_yaml}",
                                            "--data", "{data_npz}", "-o", "{ok_keras}"), C,
     r"-o '.*ok.keras' is a file; kerasprune prune writes a folder"),
    ("cli/prune runs 0", lambda c: cli(c, "prune", "{ok_keras}", "--recipe", "{recipe_yaml}",
                                       "--data", "{data_npz}", "-o", "{no_folder}", "--runs",
                                       "0"), C, r"Expected runs to be an int >= 1"),
    # hostile round 5
    ("convert/signature width", lambda c: TE.convert(c["plain"], input_signature=[
        tf.TensorSpec((None, 5), tf.float32)]), V,
     r"Expected input_signature to fit the inputs of model 'plain': 1 spec\(s\) of shapes "
     r"\[\(None, 8\)\]. Received: \[\(None, 5\)\]"),
    ("convert/signature str", lambda c: TE.convert(c["plain"], input_signature="x"), T,
     r"Expected input_signature to be a list of tf.TensorSpec"),
    ("convert/int8 fractional tokens", lambda c: TE.convert(
        token_model(), quantize="int8", representative_data=np.random.rand(4, 5)), V,
     r"representative_data to hold integers for the model's int32 input"),
    ("why_not_sparse_kernel/str", lambda c: TE.why_not_sparse_kernel("model"), T,
     r"Expected model to be a keras.Model. Received: model of type str"),
    ("bench/nan inputs", lambda c: TE.benchmark(content(c), X * np.nan, runs=1, warmup=0), V,
     r"Expected inputs to hold finite values.*128 NaN/Inf values of 128"),
    ("bench/labels beyond", lambda c: TE.benchmark(content(c), X, y=Y + 7, runs=1, warmup=0),
     V, r"Expected y to be class labels in \[0, 3\) for the model's 3 outputs. "
     r"Received: labels from 7 to 9"),
    ("compare/labels beyond", lambda c: TE.compare({"a": content(c)}, X, Y + 7, runs=1), V,
     r"Expected y to be class labels in \[0, 3\)"),
    ("cli/export onto the model", lambda c: cli(c, "export", "{ok_keras}", "-o", "{ok_keras}"),
     C, r"--output .*ok.keras' is the model file itself"),
    ("cli/prune empty output", lambda c: cli(c, "prune", "{ok_keras}", "--recipe",
                                             "{recipe_yaml}", "--data", "{data_npz}", "-o", ""),
     C, r"-o must be the path of a folder for the results. Received: -o ''"),
    ("cli/prune labels beyond", lambda c: cli(c, "prune", "{ok_keras}", "--recipe",
                                              "{recipe_yaml}", "--data", "{labels_npz}", "-o",
                                              "{no_folder}"), C,
     r"`y` must hold class indices in \[0, 3\)"),
    ("cli/prune nan x", lambda c: cli(c, "prune", "{ok_keras}", "--recipe", "{recipe_yaml}",
                                      "--data", "{nan_npz}", "-o", "{no_folder}"), C,
     r"`x` holds NaN or Inf values"),
    # systematic sweep
    ("convert/quantize tensor", lambda c: TE.convert(c["plain"], quantize=tf.constant(1.0)), V,
     r"Expected quantize to be one of \(None, 'float16', 'dynamic', 'int8'\)"),
    ("block_shape/quantize list", lambda c: TE.tflite_block_shape(["int8"]), V,
     r"Expected quantize to be one of"),
    ("convert/verbose tensor", lambda c: TE.convert(c["plain"], verbose=tf.constant(0)), V,
     r"Expected verbose to be 0, 1, 2 or 'auto'"),
    ("bench/xnnpack bool", lambda c: TE.benchmark(content(c), X, xnnpack=True, runs=1), V,
     r"Expected xnnpack to be a non-empty sequence of booleans. Received: xnnpack=True"),
    ("why_not_sparse_kernel/quantize", lambda c: TE.why_not_sparse_kernel(
        c["plain"], quantize=tf.constant(1.0)), V, r"Expected quantize to be one of"),
    ("LatencyTable/path number", lambda c: TE.LatencyTable(3), T,
     r"Expected path to be None or the path of a latency table.*Received: path=3 of type int"),
    ("cli/export to a .keras path", lambda c: cli(c, "export", "{ok_keras}", "-o",
                                                  "{bad_keras}"), C,
     r"--output '.*bad.keras' names a Keras model file, and export writes a TFLite flatbuffer"),
    ("cli/bench dense", lambda c: cli(c, "bench", "{model_tflite}", "--dense", "{not_tflite}"),
     C, r"not a TFLite flatbuffer"),
]


def test_the_tables_hold_at_least_120_distinct_cases():
    ids = [case[0] for case in API_CASES + CASES]
    assert len(ids) >= 120 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("call, expected, message", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_is_refused_before_any_state_changes(ctx, capsys, call, expected, message):
    check_refused(ctx, capsys, call, expected, message)


def test_one_sigmoid_output_is_scored_as_binary_accuracy():
    from tflite_export.benchmarking import check_label_range, top1

    check_label_range([{"shape": (1, 1)}], np.array([0, 1]))
    assert top1(np.array([[0.9], [0.2], [0.7]]), np.array([1, 0, 0])) == 2 / 3
