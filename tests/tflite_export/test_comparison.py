"""compare(): the dense-vs-pruned table the README's main job ends with."""

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export


@pytest.fixture(scope="module")
def dense_and_pruned(digits):
    (x_train, y_train), (x_test, y_test) = digits
    keras.utils.set_random_seed(0)
    dense = keras.Sequential(
        [keras.Input((7, 7, 1)), keras.layers.Flatten(),
         keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)]
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    dense.compile("adam", loss)
    dense.fit(x_train, y_train, epochs=3, batch_size=64, verbose=0)
    pruned = kerasprune.prune(dense, block_shape=(4, 1))
    pruned.compile("adam", loss)
    callback = kerasprune.PruningCallback(
        0.9, stabilization_epochs=0, pruning_epochs=2, finetune_epochs=1
    )
    pruned.fit(x_train, y_train, epochs=3, batch_size=64, callbacks=[callback], verbose=0)
    return dense, pruned, x_test, y_test


def test_dense_vs_pruned_table(dense_and_pruned):
    dense, pruned, x, y = dense_and_pruned  # pruned still holds PruneWrapper layers
    table = tflite_export.compare({"dense": dense, "pruned": pruned}, x, y, runs=20, warmup=2)

    assert [r.name for r in table.rows] == ["dense", "pruned"]
    assert table["pruned"].file_bytes < 0.3 * table["dense"].file_bytes
    assert table["pruned"].gzip_bytes < table["dense"].gzip_bytes
    assert table["dense"].weights == "2 dense"
    assert table["pruned"].weights == "2 sparse kernel"
    for name, model in (("dense", dense), ("pruned", pruned)):
        expected = np.mean(model.predict(x, verbose=0).argmax(-1) == y)
        assert table[name].accuracy == pytest.approx(expected)
        assert 0 < table[name].median_us <= table[name].p90_us
        assert table[name].runtime == "ai_edge_litert/xnnpack"
    text = str(table)
    assert text.startswith("| model | TFLite bytes |")
    assert f"{table['pruned'].file_bytes:,}" in text and "2 sparse kernel" in text


def test_compare_accepts_tflite_bytes_and_no_labels(dense_and_pruned):
    dense, _, x, _ = dense_and_pruned
    content = tflite_export.convert(dense, sparse=False)
    table = tflite_export.compare({"a": content, "b": content}, x, runs=5, warmup=0, xnnpack=False)
    assert [r.accuracy for r in table.rows] == [None, None]
    assert [r.runtime for r in table.rows] == ["ai_edge_litert/builtin"] * 2
    assert "| a |" in str(table) and "| - |" in str(table)
    with pytest.raises(KeyError, match="'c'"):
        table["c"]


def test_bad_arguments(dense_and_pruned):
    dense, _, x, y = dense_and_pruned
    with pytest.raises(ValueError, match="non-empty dict"):
        tflite_export.compare({}, x, y)
    with pytest.raises(TypeError, match="models\\['dense'\\]"):
        tflite_export.compare({"dense": 3}, x, y)
    with pytest.raises(ValueError, match="y has 5"):
        tflite_export.compare({"dense": dense}, x, y[:5])


def test_speed_up_column_is_the_baseline_latency_over_the_row_latency():
    from tflite_export.comparison import Comparison, ComparisonRow

    rows = (ComparisonRow("dense", 1000, 900, 200.0, 250.0, None, "1 dense", "r", 300.0, 330.0),
            ComparisonRow("faster", 250, 200, 50.0, 60.0, None, "1 sparse kernel", "r",
                          100.0, 110.0),
            ComparisonRow("slower", 500, 400, 400.0, 450.0, 0.5, "1 DENSIFY", "r",
                          600.0, 650.0))
    table = Comparison(rows, num_threads=1)
    lines = table.to_markdown().splitlines()
    assert lines[0].split("|")[9].strip() == "speed-up vs dense, interleaved / blocked"
    cells = {line.split("|")[1].strip(): line.split("|") for line in lines[2:5]}
    assert [cells[n][9].strip() for n in ("dense", "faster", "slower")] == [
        "1.00x / 1.00x", "4.00x / 3.00x", "0.50x / 0.50x"]
    assert [cells[n][3].strip() for n in ("dense", "faster", "slower")] == ["1.000", "0.250", "0.500"]
    assert table.speedup("faster") == 3.0  # the conservative figure: the lower ratio


def test_table_reports_both_protocols_and_the_conservative_speedup(dense_and_pruned):
    dense, pruned, x, _ = dense_and_pruned
    table = tflite_export.compare({"dense": dense, "pruned": pruned}, x, runs=6, warmup=1,
                                  block=2, num_threads=2)
    row, base = table["pruned"], table["dense"]
    assert 0 < row.blocked_median_us <= row.blocked_p90_us
    interleaved = base.median_us / row.median_us
    blocked = base.blocked_median_us / row.blocked_median_us
    assert table.speedup("pruned", "interleaved") == pytest.approx(interleaved)
    assert table.speedup("pruned", "blocked") == pytest.approx(blocked)
    assert table.speedup("pruned") == pytest.approx(min(interleaved, blocked))
    text = str(table)
    assert f"{interleaved:.2f}x / {blocked:.2f}x" in text
    assert "2 thread(s)" in text and "blocked = 2 consecutive invokes" in text
    with pytest.raises(ValueError, match="protocol"):
        table.speedup("pruned", "fastest")


def test_the_model_that_does_not_take_x_is_named():
    mlp = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.zeros((4, 8), np.float32)
    with pytest.raises(ValueError, match=r"models\['cnn'\] does not take the data given"):
        tflite_export.compare({"mlp": mlp, "cnn": cnn}, x, runs=1, warmup=0, verbose=0)
