"""sensitivity: per-layer one-shot curves, exact restoration, and the target allocation."""

import numpy as np
import keras
import pytest

import kerasprune
from kerasprune.core.sensitivity_analysis import SensitivityResult

from tests.helpers import compile_classifier, small_cnn


@pytest.fixture(scope="module")
def trained(digits):
    """small_cnn trained for 2 epochs, and 300 held-out digits (the tests copy it)."""
    (x, y), (x_test, y_test) = digits
    keras.utils.set_random_seed(0)
    model = compile_classifier(small_cnn())
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    return model, x_test[:300], y_test[:300]


def test_restores_every_weight_bit_for_bit(digits):
    (x, y), _ = digits
    inputs = keras.Input((7, 7, 1))
    h = keras.layers.Conv2D(8, 3, name="conv")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Flatten()(keras.layers.ReLU()(h))
    model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(h))
    pruned = kerasprune.prune(model, pattern=kerasprune.Channels("l1"), exclude=["logits"])
    kerasprune.update_masks(pruned, 0.25)  # start from masks that are not all ones
    compile_classifier(pruned)
    before = [np.array(v).tobytes() for v in pruned.weights]
    result = kerasprune.sensitivity(pruned, x[:200], y[:200], sparsities=(0.5, 0.75),
                                    verbose=0)
    assert [np.array(v).tobytes() for v in pruned.weights] == before
    # 72 kernel weights and 8 biases: Channels masks a channel's bias with its kernel
    assert list(result.drops) == ["conv"] and result.sizes == {"conv": 72 + 8}


def test_a_curve_point_is_that_layer_pruned_alone(trained):
    model, x_test, y_test = trained
    original = [np.array(v) for v in model.weights]
    result = kerasprune.sensitivity(model, x_test, y_test, sparsities=(0.5, 0.9), verbose=0)
    for before, after in zip(original, model.weights):  # a plain model is not touched
        np.testing.assert_array_equal(before, np.array(after))
    alone = kerasprune.prune(model, layers=["hidden"])
    compile_classifier(alone)
    kerasprune.update_masks(alone, 0.9)
    loss = alone.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"]
    assert result.drops["hidden"][1] == pytest.approx(loss - result.baseline, abs=1e-5)
    assert result.baseline == pytest.approx(
        model.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"], abs=1e-5)


def test_accuracy_drops_are_positive_when_accuracy_falls(trained):
    model, x_test, y_test = trained
    result = kerasprune.sensitivity(model, x_test, y_test, sparsities=(0.99,),
                                    metric="accuracy", verbose=0)
    assert result.metric == "accuracy" and result.baseline > 0.5
    assert result.drops["conv"][-1] > 0.1  # conv at 99%: almost every filter weight gone
    assert "accuracy drop when one layer alone is pruned" in str(result)


def test_overrides_reach_the_target_exactly(trained):
    model, x_test, y_test = trained
    result = kerasprune.sensitivity(model, x_test, y_test, sparsities=(0.5, 0.95),
                                    verbose=0)
    overrides = result.overrides(0.9)
    sizes = result.sizes
    assert sum(overrides[k] * sizes[k] for k in sizes) == pytest.approx(0.9 * sum(sizes.values()))
    assert len(set(round(v, 6) for v in overrides.values())) > 1  # not uniform
    pruned = kerasprune.prune(model, sparsity_overrides=overrides)
    kerasprune.update_masks(pruned, 0.9)
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.9, abs=2e-4)


def test_allocation_is_optimal_for_convex_curves():
    rng = np.random.default_rng(0)
    grid = (0.2, 0.4, 0.6, 0.8, 0.9)
    curves = {}
    for name in ("a", "b", "c"):  # convex, increasing curves of different steepness
        slopes = np.sort(rng.uniform(0.0, 3.0, len(grid)))
        curves[name] = np.cumsum(slopes * np.diff((0.0, *grid)))
    sizes = {"a": 300, "b": 1000, "c": 50}
    result = SensitivityResult("loss", 1.0, grid, curves, sizes)
    chosen = result.overrides(0.6)
    best = result.predicted_drop(chosen)
    budget = 0.6 * sum(sizes.values())
    for sa in np.linspace(0, 0.9, 91):  # brute force over a and b; c takes the rest
        for sb in np.linspace(0, 0.9, 91):
            sc = (budget - sa * 300 - sb * 1000) / 50
            if 0 <= sc <= 0.9:
                assert best <= result.predicted_drop({"a": sa, "b": sb, "c": sc}) + 1e-9


def test_bad_arguments_are_refused_before_anything_changes(digits):
    _, (x_test, y_test) = digits
    model = small_cnn()
    with pytest.raises(ValueError, match="not compiled"):
        kerasprune.sensitivity(model, x_test, y_test, verbose=0)
    compile_classifier(model)
    with pytest.raises(ValueError, match="increasing"):
        kerasprune.sensitivity(model, x_test, y_test, sparsities=(0.9, 0.5), verbose=0)
    with pytest.raises(ValueError, match="Received: sparsities=1.0"):
        kerasprune.sensitivity(model, x_test, y_test, sparsities=(0.5, 1.0), verbose=0)
    with pytest.raises(ValueError, match="compiled metrics"):
        kerasprune.sensitivity(model, x_test, y_test, metric="auc", verbose=0)
    result = SensitivityResult("loss", 0.0, (0.5,), {"a": np.array([0.1])}, {"a": 10})
    with pytest.raises(ValueError, match="Measure higher sparsities"):
        result.overrides(0.6)


def test_the_progress_bar_shows_the_layer_the_sparsity_and_the_drop_just_measured(trained,
                                                                                  capsys):
    model, x_test, y_test = trained
    result = kerasprune.sensitivity(model, x_test[:64], y_test[:64], sparsities=(0.5, 0.95),
                                    verbose=1)
    bar = capsys.readouterr().out.replace("\b", "").splitlines()[-1]
    last = result.drops["logits"][-1]
    assert "layer: 3.0000" in bar and "sparsity: 0.9500" in bar  # the last one, not an average
    assert f"drop: {last:.4f}" in bar


def test_the_old_plot_method_warns_and_draws_the_same_figure(trained):
    model, x_test, y_test = trained
    result = kerasprune.sensitivity(model, x_test[:64], y_test[:64], sparsities=(0.5,), verbose=0)
    with pytest.warns(DeprecationWarning, match="kerasprune.plot.sensitivity"):
        figure = result.plot()
    assert [line.get_label() for line in figure.axes[0].lines][:1] == ["conv"]
