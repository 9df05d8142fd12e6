"""kerasprune.plot: each plot returns a Figure holding the numbers it was given."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from kerasprune import plot
from tests.helpers import compile_classifier, small_cnn


def test_schedule_draws_the_callbacks_trace_in_epochs(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()), keras.optimizers.SGD(0.1))
    gmp = kerasprune.PruningCallback(0.8, stabilization_epochs=1, pruning_epochs=2,
                                     finetune_epochs=1, finetune_learning_rates=[0.01])
    model.fit(x[:256], y[:256], epochs=4, batch_size=64, callbacks=[gmp], verbose=0)
    figure = plot.schedule(gmp)
    sparsity, rate = figure.axes
    assert sparsity.lines[0].get_xdata().tolist() == [0.0, 1.0, 2.0]
    assert sparsity.lines[0].get_ydata()[-1] == pytest.approx(0.8, abs=1e-3)
    assert rate.lines[0].get_xdata().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert rate.lines[0].get_ydata()[-1] == pytest.approx(0.01)
    assert rate.get_xlabel() == "epoch"


def test_schedule_refuses_a_callback_that_never_ran():
    gmp = kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    with pytest.raises(ValueError, match="ran a fit"):
        plot.schedule(gmp)


def test_layer_sparsity_has_one_bar_per_pruned_weight():
    model = kerasprune.prune(small_cnn(), exclude=["logits"])
    kerasprune.update_masks(model, 0.7)
    figure = plot.layer_sparsity(model)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["conv/kernel", "hidden/kernel"]
    assert [b.get_width() for b in ax.patches] == pytest.approx([0.7, 0.7], abs=0.01)


def test_accuracy_vs_sparsity_sorts_points_and_draws_the_dense_line():
    figure = plot.accuracy_vs_sparsity(
        {"global": {0.9: 0.95, 0.5: 0.98}, "layer": [(0.5, 0.97), (0.9, 0.9)]},
        dense_accuracy=0.99)
    lines = figure.axes[0].lines
    assert lines[0].get_xdata().tolist() == [0.5, 0.9]
    assert lines[0].get_ydata().tolist() == [0.98, 0.95]
    assert list(lines[2].get_ydata()) == [0.99, 0.99]
    with pytest.raises(ValueError, match="curves"):
        plot.accuracy_vs_sparsity({})


def test_tflite_comparison_plots_latency_and_sizes():
    dense = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64), keras.layers.Dense(4)])
    pruned = kerasprune.prune(dense, block_shape=(4, 1))
    kerasprune.update_masks(pruned, 0.9)
    x = np.random.default_rng(0).random((4, 32), dtype=np.float32)
    comparison = tflite_export.compare({"dense": dense, "pruned": pruned}, x, runs=3, warmup=1)
    figure = plot.tflite_comparison(comparison)
    latency, size = figure.axes
    assert [b.get_height() for b in latency.patches] == pytest.approx(
        [r.median_us for r in comparison.rows])
    heights = [b.get_height() * 1024 for b in size.patches]
    assert heights == pytest.approx([r.file_bytes for r in comparison.rows]
                                    + [r.gzip_bytes for r in comparison.rows])
    assert heights[1] < heights[0]  # the pruned file is smaller


def test_kerasprune_imports_and_trains_without_matplotlib():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import kerasprune, kerasprune.plot, kerasprune.tfmot\n"
        "try:\n    kerasprune.plot.accuracy_vs_sparsity({'a': [(0.5, 0.9)]})\n"
        "except ImportError as e:\n    print('ImportError', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "needs matplotlib" in result.stdout
