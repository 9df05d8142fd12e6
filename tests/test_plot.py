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
    # Masks changed at epochs 0, 1 and 2; the last sparsity holds to the end of the fit.
    assert sparsity.lines[0].get_xdata().tolist() == [0.0, 1.0, 2.0, 4.0]
    assert sparsity.lines[0].get_ydata()[-1] == pytest.approx(0.8, abs=1e-3)
    assert rate.lines[0].get_xdata().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert rate.lines[0].get_ydata()[-1] == pytest.approx(0.01)
    assert sparsity.get_xlim() == rate.get_xlim() == (0.0, 4.0)  # one x range, the whole fit
    assert sparsity.get_ylim() == (0.0, 1.0)
    assert rate.get_xlabel() == "epoch" and sparsity.get_ylabel() == "sparsity"
    assert "PruningCallback" in sparsity.get_title()


def test_schedule_of_a_fit_stopped_early_ends_where_it_stopped(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()), keras.optimizers.SGD(0.1))
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=2)
    model.fit(x[:128], y[:128], epochs=2, batch_size=64, callbacks=[gmp], verbose=0)
    sparsity, rate = plot.schedule(gmp).axes
    assert sparsity.get_xlim() == (0.0, 2.0) and sparsity.lines[0].get_xdata()[-1] == 2.0


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
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "conv/kernel (72 weights)", "hidden/kernel (6,400 weights)"]  # which one dominates
    assert [b.get_width() for b in ax.patches] == pytest.approx([0.7, 0.7], abs=0.01)
    assert [t.get_text() for t in ax.texts] == [" 22 left", " 1,920 left"]
    assert ax.get_xlabel() == "sparsity" and ax.get_xlim()[1] > 1.0  # room for the counts
    assert ax.get_title() == "Sparsity per weight: 70.0% of 6,472 pruned"


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


@pytest.mark.parametrize("points, shown", [
    ([(0.5,)], "(0.5,)"),
    ([(0.5, 0.9, 1.0)], "(0.5, 0.9, 1.0)"),
    ([(0.5, "high")], "(0.5, 'high')"),
    ([0.5, 0.9], "0.5"),
    ([(0.5, float("nan"))], "(0.5, nan)"),
    ("0.5", "'0.5'"),
    ([], "[]"),
])
def test_accuracy_vs_sparsity_names_the_curve_and_the_pairs_for_a_bad_point(points, shown):
    with pytest.raises(ValueError, match=r"curves\['GMP'\].*\(sparsity, accuracy\) pairs") as error:
        plot.accuracy_vs_sparsity({"GMP": points})
    assert shown in str(error.value)


def test_accuracy_vs_sparsity_refuses_a_dense_accuracy_that_is_not_a_number():
    with pytest.raises(ValueError, match="`dense_accuracy` must be a finite number"):
        plot.accuracy_vs_sparsity({"GMP": [(0.5, 0.9)]}, dense_accuracy="0.99")


def test_sensitivity_refuses_what_is_not_a_sensitivity_result():
    with pytest.raises(TypeError, match="`result` must be a kerasprune.SensitivityResult"):
        plot.sensitivity({"dense": [0.0, 0.1]})


def test_tflite_comparison_plots_latency_and_sizes():
    dense = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64), keras.layers.Dense(4)])
    pruned = kerasprune.prune(dense, block_shape=(4, 1))
    kerasprune.update_masks(pruned, 0.9)
    x = np.random.default_rng(0).random((4, 32), dtype=np.float32)
    comparison = tflite_export.compare({"dense": dense, "pruned": pruned}, x, runs=3, warmup=1)
    figure = plot.tflite_comparison(comparison)
    latency, size = figure.axes
    assert [b.get_height() for b in latency.patches] == pytest.approx(
        [r.median_us for r in comparison.rows] + [r.blocked_median_us for r in comparison.rows])
    legend = latency.get_legend()
    assert legend.get_title().get_text() == "timing protocol"
    assert [t.get_text() for t in legend.get_texts()] == ["interleaved", "blocked"]
    assert "1 thread(s)" in latency.get_title() and "1 sample" in latency.get_title()
    assert [t.get_text() for t in latency.get_xticklabels()] == ["dense", "pruned"]
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


def test_sensitivity_draws_one_curve_per_layer_and_the_allocation(digits):
    (x, y), (x_test, y_test) = digits
    model = compile_classifier(small_cnn())
    model.fit(x[:512], y[:512], epochs=1, verbose=0)
    result = kerasprune.sensitivity(model, x_test[:200], y_test[:200],
                                    sparsities=(0.5, 0.9), verbose=0)
    figure = plot.sensitivity(result, target=0.8)
    (ax,) = figure.axes
    curves = [line for line in ax.lines if not line.get_label().startswith("_")]
    overrides = result.overrides(0.8)
    assert [line.get_label() for line in curves] == [
        f"{layer}: {overrides[layer]:.0%}" for layer in ("conv", "hidden", "logits")]
    for line, layer in zip(curves, ("conv", "hidden", "logits")):
        assert line.get_xdata().tolist() == [0.0, 0.5, 0.9]
        np.testing.assert_allclose(line.get_ydata()[1:], result.drops[layer])
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert sorted(s.get_xdata()[0] for s in stars) == pytest.approx(
        sorted(v for v in overrides.values() if v > 0))
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_xlabel().startswith("sparsity")


def test_sensitivity_puts_no_allocation_marker_at_the_origin():
    from kerasprune.core.sensitivity_analysis import SensitivityResult

    result = SensitivityResult("loss", 0.1, (0.5, 0.9), {
        "a": np.array([0.5, 2.0]), "b": np.array([0.6, 2.5]), "c": np.array([0.0, 0.1])},
        {"a": 100, "b": 100, "c": 1000})
    overrides = result.overrides(0.5)
    assert overrides["a"] == overrides["b"] == 0.0  # both kept dense: both at (0, 0)
    ax = plot.sensitivity(result, target=0.5).axes[0]
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert [(s.get_xdata()[0], s.get_ydata()[0]) for s in stars] == [
        (pytest.approx(overrides["c"]), pytest.approx(result.predicted_drop(
            {"c": overrides["c"]})))]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a: 0%", "b: 0%", f"c: {overrides['c']:.0%}"]


def test_accuracy_vs_sparsity_refuses_sparsities_in_percent():
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\].*Received: \[50, 90\]"):
        kerasprune.plot.accuracy_vs_sparsity({"GMP": [(50, 0.98), (90, 0.96)]})
