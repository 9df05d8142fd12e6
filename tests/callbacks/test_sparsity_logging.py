"""Sparsity in the logs of every callback, per-layer TensorBoard scalars, the fit trace."""

import csv

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.callbacks.layer_summaries import layer_scalars
from tests.helpers import compile_classifier, read_scalars, small_cnn


def _gmp(**kwargs):
    return kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=2,
                                      finetune_epochs=1, update_every=5, **kwargs)


@pytest.fixture
def data(digits):
    (x, y), (x_test, y_test) = digits
    return x[:256], y[:256], x_test[:64], y_test[:64]


def test_tensorboard_and_csvlogger_listed_first_receive_sparsity(data, tmp_path):
    x, y, x_test, y_test = data
    model = compile_classifier(kerasprune.prune(small_cnn()))
    board = keras.callbacks.TensorBoard(tmp_path / "tb")
    csv_logger = keras.callbacks.CSVLogger(tmp_path / "log.csv")
    history = model.fit(x, y, epochs=3, batch_size=32, validation_data=(x_test, y_test),
                        callbacks=[board, csv_logger, _gmp()], verbose=0)
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    logged = [float(r["sparsity"]) for r in rows]
    np.testing.assert_allclose(logged, history.history["sparsity"], rtol=1e-6)
    assert logged[-1] == pytest.approx(0.8, abs=1e-3) and logged[0] < logged[-1]
    tensorboard = read_scalars(tmp_path / "tb" / "train")
    assert [v for _, v in tensorboard["epoch_sparsity"]] == pytest.approx(logged, rel=1e-6)
    # Validation runs silent: no val_sparsity, and evaluate keeps its shape.
    assert "val_sparsity" not in history.history
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert 0.0 <= accuracy <= 1.0
    assert set(model.evaluate(x_test, y_test, verbose=0, return_dict=True)) == {
        "loss", "accuracy"}


def test_a_model_trained_before_gets_the_metric_in_its_next_fit(data):
    x, y, _, _ = data
    model = compile_classifier(kerasprune.prune(small_cnn()))
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)  # traced without the metric
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs.get("sparsity"))

    gmp = kerasprune.PruningCallback(0.8, stabilization_epochs=1, pruning_epochs=1,
                                     finetune_epochs=1)
    model.fit(x, y, epochs=3, batch_size=64, callbacks=[Spy(), gmp], verbose=0)
    assert None not in seen
    assert seen[0] < seen[-1] == pytest.approx(0.8, abs=1e-3)


def test_saved_model_carries_no_metric_state(data, tmp_path):
    x, y, x_test, y_test = data
    model = compile_classifier(kerasprune.prune(small_cnn()))
    model.fit(x, y, epochs=3, batch_size=64, callbacks=[_gmp()], verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.evaluate(x_test, y_test, verbose=0),
                               model.evaluate(x_test, y_test, verbose=0), rtol=1e-5)


def test_log_dir_holds_one_sparsity_and_threshold_per_pruned_layer(data, tmp_path):
    x, y, _, _ = data
    model = compile_classifier(kerasprune.prune(small_cnn(), exclude=["logits"]))
    gmp = _gmp(log_dir=str(tmp_path))
    model.fit(x, y, epochs=3, batch_size=32, callbacks=[gmp], verbose=0)
    scalars = read_scalars(tmp_path / "pruning")
    assert sorted(t for t in scalars if t.startswith("sparsity/")) == [
        "sparsity/conv/kernel", "sparsity/hidden/kernel"]
    update_steps = [s for s, _ in gmp.trace["sparsity"]]
    for wrapper in kerasprune.prune_wrappers(model):
        name = f"{wrapper.layer.name}/kernel"
        steps = [s for s, _ in scalars[f"sparsity/{name}"]]
        assert steps == update_steps
        assert scalars[f"sparsity/{name}"][-1][1] == pytest.approx(wrapper.sparsity, abs=1e-6)
        thresholds = [v for _, v in scalars[f"threshold/{name}"]]
        assert thresholds[0] == 0.0 and min(thresholds[1:]) > 0  # 0 before any pruning


def test_threshold_is_the_smallest_kept_magnitude():
    model = kerasprune.prune(small_cnn())
    kerasprune.update_masks(model, 0.6)
    scalars = layer_scalars(model)
    for wrapper in kerasprune.prune_wrappers(model):
        kernel = np.abs(np.asarray(wrapper.layer.kernel))
        kept = np.asarray(wrapper.masks[0]) > 0
        threshold = scalars[f"threshold/{wrapper.layer.name}/kernel"]
        assert threshold == pytest.approx(kernel[kept].min())
        assert kernel[~kept].max() <= threshold
        assert scalars[f"sparsity/{wrapper.layer.name}/kernel"] == pytest.approx(0.6, abs=0.01)


def test_trace_follows_the_schedule_and_the_learning_rate(data):
    x, y, _, _ = data
    model = compile_classifier(kerasprune.prune(small_cnn()),
                               keras.optimizers.SGD(0.1))
    gmp = kerasprune.PruningCallback(0.8, stabilization_epochs=1, pruning_epochs=2,
                                     finetune_epochs=1, finetune_learning_rates=[0.01])
    model.fit(x, y, epochs=4, batch_size=64, callbacks=[gmp], verbose=0)
    steps = [s for s, _ in gmp.trace["sparsity"]]
    assert steps == [0, 4, 8]  # the start, then one update per pruning epoch of 4 steps
    assert gmp.trace["sparsity"][-1][1] == pytest.approx(0.8, abs=1e-3)
    assert gmp.trace["learning_rate"] == [(0, pytest.approx(0.1)), (4, pytest.approx(0.1)),
                                          (8, pytest.approx(0.1)), (12, pytest.approx(0.01))]


def test_bad_log_dir_is_refused():
    with pytest.raises(ValueError, match="log_dir"):
        _gmp(log_dir=3)


def test_a_log_dir_that_is_a_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "not_a_dir"
    path.write_text("kept")
    for log_dir in (path, path / "sub"):
        with pytest.raises(ValueError, match=r"`log_dir` must be a folder.*not_a_dir' is a file"):
            kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                       finetune_epochs=0, log_dir=log_dir)
    # A file made after the callback: refused when fit begins, before any step.
    later = tmp_path / "later"
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0, log_dir=later)
    later.write_text("kept")
    model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"`log_dir` must be a folder"):
        model.fit(np.zeros((4, 4)), np.zeros((4, 2)), callbacks=[gmp], verbose=0)
    assert later.read_text() == "kept" and path.read_text() == "kept"
