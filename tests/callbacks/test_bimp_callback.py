"""BIMPCallback: dense phase with a linear schedule, then IMP with ALLR, in one fit."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.callbacks.bimp_callback import BIMPCallback
from kerasprune.retrain.retrain_schedule import evaluate_schedule
from kerasprune.retrain.schedules import ALLR
from tests.helpers import compile_classifier, pruning_ready, small_cnn

BATCH = 64


def test_bimp_trains_dense_linearly_then_prunes_with_allr(digits):
    (x, y), (x_test, y_test) = digits
    steps = int(np.ceil(len(x) / BATCH))
    model = pruning_ready(lr=0.1)
    bimp = BIMPCallback(0.9, total_epochs=6, dense_epochs=4, cycles=2)
    history = model.fit(x, y, batch_size=BATCH, epochs=6, callbacks=[bimp], verbose=0)

    assert history.history["cycle"] == [0, 0, 0, 0, 1, 2]
    np.testing.assert_allclose(history.history["sparsity"], [0, 0, 0, 0, 0.6838, 0.9], atol=1e-3)
    dense_phase = np.array(bimp.lr_trace[:4 * steps])
    np.testing.assert_allclose(dense_phase, 0.1 * (1 - np.arange(4 * steps) / (4 * steps)), rtol=1e-5)
    linear = keras.optimizers.schedules.PolynomialDecay(0.1, 4 * steps, 0.0)
    for cycle, record in enumerate(bimp.cycle_records):
        expected = ALLR(linear, steps, 4 * steps, d1=record["d1"])  # d2 = 1/4
        assert record["d"] == pytest.approx(min(1, max(record["d1"], 0.25)))
        start = (4 + cycle) * steps
        np.testing.assert_allclose(bimp.lr_trace[start:start + steps],
                                   evaluate_schedule(expected, range(steps)), rtol=1e-5)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.8  # a 90%-sparse model that still reads 7x7 digits (chance: 0.1)
    assert kerasprune.sparsity_report(model).total == pytest.approx(0.9, abs=1e-3)


def test_max_learning_rate_overrides_the_optimizer(digits):
    (x, y), _ = digits
    model = pruning_ready(lr=0.5)
    bimp = BIMPCallback(0.5, total_epochs=2, dense_epochs=1, max_learning_rate=0.05)
    model.fit(x[:512], y[:512], batch_size=BATCH, epochs=2, callbacks=[bimp], verbose=0)
    assert bimp.lr_trace[0] == pytest.approx(0.05)
    assert max(bimp.lr_trace) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(total_epochs=4, dense_epochs=4), "dense_epochs=4, total_epochs=4"),
        (dict(total_epochs=4, dense_epochs=5), "dense_epochs=5, total_epochs=4"),
        (dict(total_epochs=5, dense_epochs=3, cycles=3), "2 retraining epochs"),
        (dict(total_epochs=4, dense_epochs=3, cycles=2), "1 retraining epochs"),
        (dict(total_epochs=5, dense_epochs=0), "dense_epochs=0"),
        (dict(total_epochs=5, dense_epochs=2, max_learning_rate=-1.0), "max_learning_rate=-1.0"),
    ],
)
def test_bad_budgets_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BIMPCallback(0.9, **kwargs)


def test_an_uneven_split_gives_the_remainder_to_the_last_cycle_and_resumes_in_it(
        digits, tmp_path):
    (x, y), _ = digits
    x, y = x[:512], y[:512]
    steps = 512 // BATCH
    bimp = BIMPCallback(0.9, total_epochs=9, dense_epochs=4, cycles=2)  # R = 5 = 2 + 3
    assert [bimp.cycle_epochs(c) for c in (1, 2)] == [2, 3] and bimp.total_epochs == 9
    model = pruning_ready(lr=0.1)
    stop = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 6))
    history = model.fit(x, y, batch_size=BATCH, epochs=9, callbacks=[bimp, stop], verbose=0)
    assert history.history["cycle"] == [0, 0, 0, 0, 1, 1, 2]  # cycle 2 began at epoch 6
    assert history.history["sparsity"][-1] == pytest.approx(0.9, abs=1e-3)
    d1 = bimp.cycle_records[1]["d1"]
    assert bimp.cycle_records[1]["d"] == pytest.approx(min(1, max(d1, 3 / 4)))  # d2 = 3/4
    path = tmp_path / "bimp.keras"
    model.save(path)

    # A fresh callback on the reloaded model finishes the 3-epoch last cycle on ALLR's
    # schedule for 3 epochs, with the d1 measured before the interruption.
    resumed = BIMPCallback.from_config(bimp.get_config())
    loaded = keras.saving.load_model(path)
    history = loaded.fit(x, y, batch_size=BATCH, initial_epoch=7, epochs=9,
                         callbacks=[resumed], verbose=0)
    assert history.history["cycle"] == [2, 2]
    linear = keras.optimizers.schedules.PolynomialDecay(0.1, 4 * steps, 0.0)
    last_cycle = ALLR(linear, 3 * steps, 4 * steps, d1=d1, start_step=6 * steps)
    np.testing.assert_allclose(resumed.lr_trace, evaluate_schedule(
        last_cycle, range(7 * steps, 9 * steps)), rtol=1e-5)
    np.testing.assert_allclose(bimp.lr_trace[6 * steps:], evaluate_schedule(
        last_cycle, range(6 * steps, 7 * steps)), rtol=1e-5)
    assert resumed.lr_trace[-1] < resumed.lr_trace[0]  # still decaying, not restarted


def test_fit_shorter_than_the_budget_warns_and_continues_to_the_target(digits):
    (x, y), _ = digits
    bimp = BIMPCallback(0.9, total_epochs=6, dense_epochs=2, cycles=2)
    model = pruning_ready()
    with pytest.warns(UserWarning, match=r"not the target 0.9.*initial_epoch=3, epochs=6"):
        model.fit(x, y, epochs=3, callbacks=[bimp], verbose=0)
    history = model.fit(x, y, initial_epoch=3, epochs=6, callbacks=[bimp], verbose=0)
    assert history.history["cycle"] == [1, 2, 2]
    assert history.history["sparsity"][-1] == pytest.approx(0.9, abs=1e-3)


def test_config_round_trip():
    bimp = BIMPCallback(0.8, total_epochs=10, dense_epochs=4, cycles=3, max_learning_rate=0.2)
    restored = BIMPCallback.from_config(bimp.get_config())
    assert restored.get_config() == bimp.get_config()
    assert (restored.epochs_per_cycle, restored.retrain_schedule) == (2, "allr")


def test_data_driven_criteria_get_their_data_in_bimp_and_penalty_pruning(digits):
    (x, y), _ = digits
    data = kerasprune.CriterionData(x[:128], y[:128])
    for make in (
        lambda: kerasprune.BIMPCallback(0.5, total_epochs=2, dense_epochs=1, data=data),
        lambda: kerasprune.PenaltyPruningCallback(10.0, penalty_epochs=1, finetune_epochs=0,
                                                  target_sparsity=0.5, data=data),
    ):
        model = compile_classifier(kerasprune.prune(
            small_cnn(), pattern=kerasprune.Channels("taylor"), exclude=["logits"]),
            keras.optimizers.SGD(0.1))
        callback = make()
        model.fit(x[:256], y[:256], batch_size=64, epochs=callback.total_epochs,
                  callbacks=[callback], verbose=0)
        assert kerasprune.sparsity_report(model).as_dict()["hidden/kernel"] > 0.25
        with pytest.raises(ValueError, match="needs gradients on data. Pass `data="):
            bare = compile_classifier(kerasprune.prune(
                small_cnn(), pattern=kerasprune.Channels("taylor"), exclude=["logits"]))
            bare.fit(x[:64], y[:64], epochs=1, verbose=0, callbacks=[
                type(callback).from_config(callback.get_config())])


def test_an_optimizer_with_a_schedule_is_refused_before_the_model_changes(digits):
    (x, y), _ = digits
    model = kerasprune.prune(small_cnn())
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    compile_classifier(model, keras.optimizers.SGD(decay))
    before = [v.path for v in model.variables]
    with pytest.raises(ValueError, match="LearningRateSchedule"):
        model.fit(x[:64], y[:64], epochs=2, verbose=0,
                  callbacks=[BIMPCallback(0.5, total_epochs=2, dense_epochs=1)])
    # the refused fit added no state: a retry is a first try
    assert [v.path for v in model.variables] == before
    assert all(getattr(w, "pruning_state", None) is None for w in kerasprune.prune_wrappers(model))
