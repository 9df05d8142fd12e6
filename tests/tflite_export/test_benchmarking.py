"""benchmark(): latency through the LiteRT interpreter plus accuracy and agreement with Keras."""

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from tests.helpers import float16_block_sparse_file


@pytest.fixture(scope="module")
def trained(digits):
    (x_train, y_train), (x_test, y_test) = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((7, 7, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model = kerasprune.prune(model, block_shape=(4, 1))
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    callback = kerasprune.PruningCallback(
        0.8, stabilization_epochs=2, pruning_epochs=2, finetune_epochs=2
    )
    model.fit(x_train, y_train, epochs=6, batch_size=64, callbacks=[callback], verbose=0)
    return model, x_test, y_test


def keras_accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))


def test_benchmark_of_a_pruned_keras_model(trained):
    model, x, y = trained
    report = tflite_export.benchmark(model, x, y=y, runs=20, warmup=2)

    assert [t.xnnpack for t in report.timings] == [True, False]
    assert [t.resolver for t in report.timings] == ["xnnpack", "builtin"]
    for timing in report.timings:
        assert timing.backend == "ai_edge_litert"
        assert 0 < timing.median_us <= timing.p90_us
    assert report.max_abs_diff <= 1e-5
    assert report.agreement == 1.0
    assert report.accuracy == pytest.approx(keras_accuracy(model, x, y))
    assert report.accuracy > 0.6  # real 7x7 digits, really trained (chance: 0.1)
    assert report.file_bytes == len(tflite_export.convert(model))


def test_benchmark_of_a_file_with_a_reference_model(trained, tmp_path):
    model, x, y = trained
    path = tmp_path / "pruned.tflite"
    path.write_bytes(tflite_export.convert(model))
    report = tflite_export.benchmark(
        path, x, keras_model=model, runs=5, warmup=0, xnnpack=(False,), backends=("tensorflow",)
    )
    assert [(t.backend, t.resolver) for t in report.timings] == [("tensorflow", "builtin")]
    assert report.accuracy is None
    assert report.max_abs_diff <= 1e-5
    text = str(report)
    assert "median us" in text and "tensorflow" in text and "max abs diff" in text


def test_a_file_that_outputs_nan_is_named_not_reported_as_a_normal_result():
    x = np.random.default_rng(0).normal(size=(4, 32)).astype(np.float32)
    with pytest.warns(UserWarning, match="outputs 16 NaN/Inf value.*mean nothing"):
        tflite_export.benchmark(float16_block_sparse_file(), x, runs=2, warmup=0,
                                xnnpack=(False,))


def test_benchmark_notes_xnnpack_refusal():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64), keras.layers.Dense(4)])
    model = kerasprune.prune(model)
    kerasprune.update_masks(model, 0.9)
    x = np.random.default_rng(0).random((16, 64), dtype=np.float32)
    with pytest.warns(tflite_export.SparsityWarning):
        content = tflite_export.convert(model, quantize="int8", representative_data=x)
    report = tflite_export.benchmark(content, x, runs=3, warmup=0)
    asked_xnnpack = report.timings[0]
    assert asked_xnnpack.xnnpack and asked_xnnpack.resolver == "builtin"
    assert any("XNNPACK refused" in n for n in asked_xnnpack.notes)
    assert "XNNPACK refused" in str(report)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"runs": 0}, "runs=0"),
        ({"warmup": -1}, "warmup=-1"),
        ({"xnnpack": ()}, "xnnpack=()"),
        ({"y": np.zeros(3)}, "y has 3"),
    ],
)
def test_bad_arguments_raise_value_error(trained, kwargs, words):
    model, x, _ = trained
    with pytest.raises(ValueError, match=words.replace("(", "\\(").replace(")", "\\)")):
        tflite_export.benchmark(model, x, **kwargs)


def test_empty_inputs_raise_value_error(trained):
    model, x, _ = trained
    with pytest.raises(ValueError, match="non-empty array"):
        tflite_export.benchmark(model, x[:0])


class Recording:
    """A real interpreter whose invokes are also written to a shared log."""

    def __init__(self, name, interpreter, log):
        self.name, self.interpreter, self.log = name, interpreter, log

    def invoke(self):
        self.log.append(self.name)
        self.interpreter.invoke()


def test_time_interleaved_warms_each_model_up_then_alternates():
    from tflite_export.benchmarking import set_single_sample, time_interleaved
    from tflite_export.interpreter import load_interpreter

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(4)])
    content = tflite_export.convert(model, sparse=False)
    x = np.ones((1, 16), np.float32)
    log = []
    pair = []
    for name in ("a", "b"):
        interpreter = load_interpreter(content, xnnpack=False).interpreter
        set_single_sample(interpreter, x)
        pair.append(Recording(name, interpreter, log))
    times = time_interleaved(pair, runs=3, warmup=2)
    assert log == ["a", "a", "b", "b"] + ["a", "b"] * 3
    assert [t.shape for t in times] == [(3,), (3,)]
    assert all(np.all(t > 0) for t in times)


def test_both_protocols_are_timed_and_stated(trained):
    model, x, _ = trained
    report = tflite_export.benchmark(model, x, runs=7, warmup=1, block=3, num_threads=2)
    for timing in report.timings:
        assert 0 < timing.blocked_median_us <= timing.blocked_p90_us
        assert timing.conservative_us == max(timing.median_us, timing.blocked_median_us)
    text = str(report)
    assert "interleaved median us" in text and "blocked median us" in text
    assert "2 thread(s)" in text and "blocked = 3 consecutive invokes" in text
    assert report.recommendation in text
    with pytest.raises(ValueError, match="block"):
        tflite_export.benchmark(model, x, runs=2, block=0)


def _timing(resolver, interleaved, blocked):
    return tflite_export.Timing(resolver == "xnnpack", "ai_edge_litert", resolver,
                                interleaved, interleaved, (), blocked, blocked)


def test_recommendation_picks_the_setting_fastest_by_the_worse_protocol():
    # Built-in kernels win on the interleaved median, XNNPACK on the worse of the two.
    timings = (_timing("xnnpack", 300.0, 310.0), _timing("builtin", 250.0, 400.0))
    report = tflite_export.BenchmarkReport(timings, 1, None, None, None, num_threads=1)
    assert report.fastest.resolver == "xnnpack"
    assert report.recommendation.startswith("recommended: the default resolver (XNNPACK), 310 us")
    assert "400 us with built-in kernels" in report.recommendation
    timings = (_timing("xnnpack", 287.0, 290.0), _timing("builtin", 68.0, 70.0))
    report = tflite_export.BenchmarkReport(timings, 1, None, None, None, num_threads=1)
    assert "BUILTIN_WITHOUT_DEFAULT_DELEGATES, 70.0 us" in report.recommendation


def test_time_blocked_runs_each_model_in_blocks_after_its_warm_up():
    from tflite_export.benchmarking import set_single_sample, time_blocked
    from tflite_export.interpreter import load_interpreter

    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(4)])
    content = tflite_export.convert(model, sparse=False)
    log, pair = [], []
    for name in ("a", "b"):
        interpreter = load_interpreter(content, xnnpack=False).interpreter
        set_single_sample(interpreter, np.ones((1, 16), np.float32))
        pair.append(Recording(name, interpreter, log))
    times = time_blocked(pair, runs=6, warmup=2, block=3)
    assert log == (["a"] * (2 + 3) + ["b"] * (2 + 3)) * 2
    assert [t.shape for t in times] == [(6,), (6,)]


def test_a_multi_output_model_is_compared_on_every_output():
    # benchmark failed with numpy's 'inhomogeneous shape' on a model of two outputs
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(8)(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(3, name="first")(hidden),
                                 keras.layers.Dense(5, name="second")(hidden)])
    x = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    content = tflite_export.convert(model, sparse=False)
    report = tflite_export.benchmark(content, x, keras_model=model, runs=1, warmup=0,
                                     xnnpack=(False,))
    assert report.max_abs_diff <= 1e-5 and report.agreement == 1.0
    model.get_layer("second").bias.assign(np.full(5, 0.25, np.float32))  # the file's is 0
    report = tflite_export.benchmark(content, x, keras_model=model, runs=1, warmup=0,
                                     xnnpack=(False,))
    assert report.max_abs_diff == pytest.approx(0.25, abs=1e-5)
    assert report.agreement == 1.0  # the first output still agrees
    with pytest.raises(ValueError, match=r"keras_model does not compute the file's outputs"):
        tflite_export.benchmark(content, x, keras_model=keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(3)]), runs=1, warmup=0, xnnpack=(False,))


def test_a_model_with_named_inputs_takes_a_dict_of_samples():
    # refused ('inputs of type dict'), though keras_model.predict of such a model needs one
    inputs = {name: keras.Input((4,), name=name) for name in ("b", "a")}
    model = keras.Model(inputs, keras.layers.Dense(3)(
        keras.layers.Concatenate()([inputs["b"], 3 * inputs["a"]])))
    x = {name: np.random.default_rng(k).normal(size=(8, 4)).astype(np.float32)
         for k, name in enumerate(("b", "a"))}
    content = tflite_export.convert(model, sparse=False)
    report = tflite_export.benchmark(content, x, keras_model=model, runs=1, warmup=0,
                                     xnnpack=(False,))
    assert report.max_abs_diff <= 1e-5
    table = tflite_export.compare({"file": content}, x, np.zeros(8, int), runs=1, warmup=0)
    assert table.rows[0].accuracy is not None


def test_benchmark_never_recommends_xnnpack_when_it_computes_the_file_wrong():
    # XNNPACK runs a dynamic-range file with (16, 1) blocks wrong (convert warns too)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(64, activation="relu", name="fc"),
                              keras.layers.Dense(10, name="logits")])
    model = kerasprune.prune(model, block_shape=(16, 1), exclude=["logits"])
    kerasprune.update_masks(model, 0.9)
    with pytest.warns(tflite_export.SparseKernelWarning):
        content = tflite_export.convert(model, quantize="dynamic")
    x = np.random.default_rng(0).normal(size=(32, 64)).astype("float32")
    with pytest.warns(UserWarning, match="With XNNPACK, the file's outputs differ from the "
                      "built-in kernels'"):
        report = tflite_export.benchmark(content, x, runs=2, warmup=0, block=1,
                                         verbose=0)
    assert report.fastest.resolver == "builtin"
    assert [t.mismatch is None for t in report.timings] == [False, True]
    assert "BUILTIN_WITHOUT_DEFAULT_DELEGATES" in report.recommendation
    assert "warning: With XNNPACK" in str(report)
    assert report.to_dict()["recommended"]["setting"] == "built-in kernels"
