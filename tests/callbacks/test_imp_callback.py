"""IMPCallback: prune-retrain cycles, restarted schedules and rewinding inside one fit."""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune import IMPCallback
from kerasprune.core.sparsity_schedules import cycle_sparsities
from kerasprune.oneshot.one_shot import one_shot_prune
from kerasprune.retrain.retrain_schedule import evaluate_schedule
from kerasprune.retrain.schedules import ALLR, LRW, allr_d1
from tests.helpers import pruning_ready, small_cnn

BATCH = 64


class Recorder(keras.callbacks.Callback):
    """Snapshots at each epoch start (before IMP prunes, as it is listed first), at the
    first batch of each epoch (after IMP pruned) and at each epoch end."""

    def __init__(self):
        super().__init__()
        self.begin, self.first_batch, self.masks, self.kernels = [], [], [], []
        self._epoch_started = False

    def on_epoch_begin(self, epoch, logs=None):
        self.begin.append([np.array(v) for v in self.model.trainable_weights])
        self._epoch_started = True

    def on_train_batch_begin(self, batch, logs=None):
        if self._epoch_started:
            self.first_batch.append([np.array(v) for v in self.model.trainable_weights])
            self._epoch_started = False

    def on_epoch_end(self, epoch, logs=None):
        wrappers = kerasprune.prune_wrappers(self.model)
        self.masks.append([np.array(m) for w in wrappers for m in w.masks])
        self.kernels.append([np.array(v) for w in wrappers for v in w.pruned_weights])


def test_cycle_sparsities_are_geometric():
    np.testing.assert_allclose(cycle_sparsities(0.9, 3), [0.5358, 0.7846, 0.9], atol=5e-5)
    assert cycle_sparsities(0.9, 1) == [0.9]


def test_three_cycles_reach_the_geometric_sparsities_and_masks_only_grow(digits):
    (x, y), _ = digits
    model, recorder = pruning_ready(), Recorder()
    imp = IMPCallback(0.9, cycles=3, epochs_per_cycle=2, retrain_schedule="llr",
                      original_learning_rate=0.1)
    history = model.fit(x, y, batch_size=BATCH, epochs=6, callbacks=[recorder, imp], verbose=0)

    assert history.history["cycle"] == [1, 1, 2, 2, 3, 3]
    np.testing.assert_allclose(history.history["sparsity"][1::2], [0.5358, 0.7846, 0.9], atol=1e-3)
    for previous, current in zip(recorder.masks, recorder.masks[1:]):
        for old, new in zip(previous, current):
            assert np.all(new <= old), "a pruned weight came back"
    for masks, kernels in zip(recorder.masks, recorder.kernels):
        for mask, kernel in zip(masks, kernels):
            assert np.all(kernel[mask == 0] == 0.0)
    # The geometric fraction of the still-alive weights goes in every cycle.
    fractions = [r["pruned_fraction"] for r in imp.cycle_records]
    np.testing.assert_allclose(fractions, [1 - 0.1 ** (1 / 3)] * 3, atol=2e-3)


def test_allr_restarts_each_cycle_from_d_measured_on_the_real_weights(digits):
    (x, y), _ = digits
    model, recorder = pruning_ready(), Recorder()
    imp = IMPCallback(0.9, cycles=2, epochs_per_cycle=1, retrain_schedule="allr",
                      original_learning_rate=0.1, original_epochs=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[recorder, imp], verbose=0)
    assert not [w for w in caught if "pruned nothing" in str(w.message)]  # both cycles prune
    steps = int(np.ceil(len(x) / BATCH))
    alive = 1.0
    for cycle, record in enumerate(imp.cycle_records):
        before, after = recorder.begin[cycle], recorder.first_batch[cycle]
        fraction = 1 - (1 - record["sparsity"]) / alive
        alive = 1 - record["sparsity"]
        d1 = allr_d1(before, after, fraction)
        assert record["d1"] == pytest.approx(d1, rel=1e-3)
        assert record["d"] == pytest.approx(min(1.0, max(d1, 1 / 10)), rel=1e-3)
        expected = ALLR(0.1, steps, 10 * steps, d1=record["d1"])
        trace = imp.lr_trace[cycle * steps:(cycle + 1) * steps]
        np.testing.assert_allclose(trace, evaluate_schedule(expected, range(steps)), rtol=1e-5)
    assert imp.lr_trace[0] == 0.0 and imp.lr_trace[steps] == 0.0  # warm-up restarts
    assert float(model.optimizer.learning_rate) == pytest.approx(imp.lr_trace[-1])


def test_history_shows_sparsity_cycle_and_lr_of_the_whole_run(digits):
    (x, y), _ = digits
    model = pruning_ready()
    steps = int(np.ceil(len(x) / BATCH))
    original = keras.optimizers.schedules.PolynomialDecay(0.1, 2 * steps, 0.0)
    imp = IMPCallback(0.8, cycles=1, epochs_per_cycle=2, dense_epochs=2, retrain_schedule="lrw",
                      original_learning_rate=original)
    history = model.fit(x, y, batch_size=BATCH, epochs=4, callbacks=[imp], verbose=0)
    assert history.history["cycle"] == [0, 0, 1, 1]
    assert history.history["sparsity"][:2] == [0.0, 0.0]
    assert history.history["sparsity"][2] == pytest.approx(0.8, abs=1e-3)
    # Dense phase follows the original schedule; LRW then replays it (learning-rate rewinding).
    assert len(imp.lr_trace) == 4 * steps
    np.testing.assert_allclose(imp.lr_trace[:2 * steps],
                               evaluate_schedule(original, range(2 * steps)), rtol=1e-5)
    replay = evaluate_schedule(LRW(original, 2 * steps, 2 * steps), range(2 * steps))
    np.testing.assert_allclose(imp.lr_trace[2 * steps:], replay, rtol=1e-5)
    assert history.history["learning_rate"][1] == pytest.approx(imp.lr_trace[2 * steps - 1])


def test_weight_rewinding_resets_survivors_to_the_saved_epoch(digits):
    (x, y), _ = digits
    model, recorder = pruning_ready(), Recorder()
    imp = IMPCallback(0.7, cycles=2, epochs_per_cycle=1, dense_epochs=2, rewind_epoch=1,
                      retrain_schedule="lrw", original_learning_rate=0.1, original_epochs=2)
    model.fit(x, y, batch_size=BATCH, epochs=4, callbacks=[recorder, imp], verbose=0)
    saved = recorder.begin[1]  # weights at the start of epoch 1
    wrappers = kerasprune.prune_wrappers(model)
    for cycle_epoch, masks in ((2, recorder.masks[2]), (3, recorder.masks[3])):
        after_pruning = recorder.first_batch[cycle_epoch]
        mask_of = {id(v): m for v, m in zip([v for w in wrappers for v in w.pruned_weights], masks)}
        for variable, value, rewound in zip(model.trainable_weights, saved, after_pruning):
            mask = mask_of.get(id(variable), 1.0)
            np.testing.assert_allclose(rewound, value * mask, rtol=1e-6)
    assert not np.allclose(recorder.begin[3][0], saved[0])  # training moved the weights


def test_retraining_recovers_accuracy_lost_to_one_shot_pruning(digits):
    (x, y), (x_test, y_test) = digits
    dense = small_cnn()
    dense.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    dense.fit(x, y, batch_size=BATCH, epochs=4, verbose=0)
    pruned = one_shot_prune(dense, 0.95, scope="global")
    pruned.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                   keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    _, before = pruned.evaluate(x_test, y_test, verbose=0)
    imp = IMPCallback(0.95, epochs_per_cycle=2, retrain_schedule="llr", original_learning_rate=0.1)
    pruned.fit(x, y, batch_size=BATCH, epochs=2, callbacks=[imp], verbose=0)
    _, after = pruned.evaluate(x_test, y_test, verbose=0)
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.95, abs=1e-3)
    assert after > before + 0.05


def test_schedule_none_leaves_the_optimizer_learning_rate_alone(digits):
    (x, y), _ = digits
    model = pruning_ready(lr=0.02)
    imp = IMPCallback(0.5, retrain_schedule=None)
    history = model.fit(x[:256], y[:256], batch_size=BATCH, epochs=1, callbacks=[imp], verbose=0)
    assert history.history["learning_rate"] == [pytest.approx(0.02)]
    assert imp.lr_trace == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target_sparsity=1.0), "target_sparsity=1.0"),
        (dict(target_sparsity=0.0), "target_sparsity=0.0"),
        (dict(target_sparsity=0.9, cycles=0), "cycles=0"),
        (dict(target_sparsity=0.9, epochs_per_cycle=0), "epochs_per_cycle=0"),
        (dict(target_sparsity=0.9, retrain_schedule="cosine", original_learning_rate=0.1),
         "retrain_schedule='cosine'"),
        (dict(target_sparsity=0.9, retrain_schedule="llr"), "original_learning_rate"),
        (dict(target_sparsity=0.9, retrain_schedule="allr", original_learning_rate=0.1),
         "original_epochs"),
        (dict(target_sparsity=0.9, dense_epochs=1, rewind_epoch=2, retrain_schedule=None),
         "rewind_epoch=2"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IMPCallback(**kwargs)


def test_fit_shorter_than_the_cycles_warns_that_the_target_is_not_reached(digits):
    (x, y), _ = digits
    model = pruning_ready()
    imp = IMPCallback(0.9, cycles=3, epochs_per_cycle=2, retrain_schedule=None)
    with pytest.warns(UserWarning, match=r"IMPCallback: fit stopped after epoch 3 of the 6"):
        model.fit(x, y, batch_size=BATCH, epochs=3, callbacks=[imp], verbose=0)
    assert kerasprune.sparsity_report(model).total == pytest.approx(0.7846, abs=1e-3)


def test_lrw_longer_than_the_original_fails_before_training(digits):
    (x, y), _ = digits
    imp = IMPCallback(0.9, epochs_per_cycle=3, retrain_schedule="lrw",
                      original_learning_rate=0.1, original_epochs=2)
    with pytest.raises(ValueError, match="retrain_steps"):
        pruning_ready().fit(x, y, batch_size=BATCH, epochs=3, callbacks=[imp], verbose=0)


def test_optimizer_with_a_schedule_is_refused(digits):
    (x, y), _ = digits
    model = kerasprune.prune(small_cnn())
    model.compile(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    imp = IMPCallback(0.5, retrain_schedule="llr", original_learning_rate=0.1)
    with pytest.raises(ValueError, match="float learning rate"):
        model.fit(x, y, epochs=1, callbacks=[imp], verbose=0)


def test_model_without_wrappers_is_refused(digits):
    (x, y), _ = digits
    model = small_cnn()
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="kerasprune.prune"):
        model.fit(x, y, epochs=1, callbacks=[IMPCallback(0.5, retrain_schedule=None)], verbose=0)


def test_config_round_trip():
    original = keras.optimizers.schedules.PolynomialDecay(0.1, 100, 0.0)
    imp = IMPCallback(0.8, cycles=2, epochs_per_cycle=3, retrain_schedule="slr",
                      original_learning_rate=original, original_epochs=5, dense_epochs=2,
                      rewind_epoch=1, warmup=0.2)
    restored = IMPCallback.from_config(imp.get_config())
    assert restored.get_config()["original_learning_rate"] == imp.get_config()["original_learning_rate"]
    assert (restored.cycles, restored.epochs_per_cycle, restored.rewind_epoch) == (2, 3, 1)
    assert restored.total_epochs == 2 + 2 * 3


def test_allr_on_an_already_pruned_model_warns_that_d1_is_unmeasurable(digits):
    (x, y), _ = digits
    model = pruning_ready()
    one_shot_prune(model, 0.8)
    imp = IMPCallback(0.8, retrain_schedule="allr", original_learning_rate=0.1, original_epochs=4)
    with pytest.warns(UserWarning, match="pruned nothing"):
        model.fit(x[:256], y[:256], batch_size=BATCH, epochs=1, callbacks=[imp], verbose=0)
    assert imp.cycle_records[0]["d"] == pytest.approx(1 / 4)  # d2 alone


@pytest.mark.parametrize("kind", ["imp", "bimp"])
def test_fit_longer_than_the_cycles_stops_pruning_at_the_target(kind, digits):
    (x, y), _ = digits
    model, recorder = pruning_ready(), Recorder()
    if kind == "imp":
        callback = IMPCallback(0.75, cycles=2, epochs_per_cycle=1, retrain_schedule="llr",
                               original_learning_rate=0.1)
        cycles = [1, 2, 2, 2, 2]
    else:
        callback = kerasprune.BIMPCallback(0.75, total_epochs=3, dense_epochs=1, cycles=2)
        cycles = [0, 1, 2, 2, 2]
    last = cycles.index(2)  # the epoch of the last pruning
    history = model.fit(x[:256], y[:256], batch_size=BATCH, epochs=5,
                        callbacks=[recorder, callback], verbose=0)
    assert history.history["cycle"] == cycles
    report = kerasprune.sparsity_report(model)
    total = sum(r.size for r in report.rows)
    assert sum(r.size - r.nonzeros for r in report.rows) == round(0.75 * total)
    assert history.history["sparsity"][last:] == [report.total] * (5 - last)
    for masks in recorder.masks[last + 1:]:
        for done, later in zip(recorder.masks[last], masks):
            np.testing.assert_array_equal(done, later)
    # After the last cycle the learning rate stays where the last cycle's schedule ended.
    steps = 256 // BATCH
    assert callback.lr_trace[(last + 1) * steps:] == [0.0] * ((4 - last) * steps)
    assert len(callback.cycle_records) == 2


def test_warmup_reaches_every_cycles_retraining_schedule():
    # LLR's own warm-up (0.1 of 4 steps) rounds to no step; warmup=0.5 gives each cycle a
    # 2-step half-cosine ramp from 0 to the peak, then the linear decay to 0.
    x = np.random.default_rng(0).random((16, 7, 7, 1), dtype=np.float32)
    y = np.arange(16) % 10
    model = pruning_ready()
    imp = IMPCallback(0.75, cycles=2, epochs_per_cycle=1, retrain_schedule="llr",
                      original_learning_rate=0.1, warmup=0.5)
    model.fit(x, y, batch_size=4, epochs=2, callbacks=[imp], verbose=0)
    cycle = [0.0, 0.05, 0.1, 0.05]
    assert imp.lr_trace == pytest.approx(cycle + cycle)
    assert [r["start_lr"] for r in imp.cycle_records] == pytest.approx([0.1, 0.1])


class MovingMean(keras.callbacks.Callback):
    """BatchNormalization's moving mean at each epoch start (listed after IMP: after its
    pruning and rewinding)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(np.array(self.model.get_layer("bn").moving_mean))


def test_weight_rewinding_restores_batch_normalization_statistics_too():
    model = kerasprune.prune(keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16), keras.layers.BatchNormalization(name="bn"),
        keras.layers.Dense(1)]))
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x = np.random.default_rng(0).normal(3.0, 1.0, (64, 8)).astype("float32")
    imp = IMPCallback(0.5, cycles=1, dense_epochs=1, rewind_epoch=0, retrain_schedule=None)
    means = MovingMean()
    model.fit(x, x[:, :1], batch_size=16, epochs=2, callbacks=[imp, means], verbose=0)
    np.testing.assert_array_equal(means.seen[1], means.seen[0])  # rewound to epoch 0
    assert not np.allclose(np.array(model.get_layer("bn").moving_mean), means.seen[0])


def test_original_epochs_defaults_to_the_dense_epochs():
    # as documented: ALLR, which needs the original length, then needs no `original_epochs`
    imp = IMPCallback(0.8, retrain_schedule="allr", original_learning_rate=0.1, dense_epochs=3)
    assert imp.original_epochs == 3 and imp.get_config()["original_epochs"] == 3
    given = IMPCallback(0.8, retrain_schedule="allr", original_learning_rate=0.1,
                        dense_epochs=3, original_epochs=7)
    assert given.original_epochs == 7


def test_cycles_count_the_weights_of_leaders_only_not_of_the_layers_that_follow_them():
    # Two channel-pruned convolutions whose whole-channel sparsities differ (2 of 8, 2 of
    # 6), each followed by a BatchNormalization whose masks mirror it: the cycle's
    # sparsity and pruned fraction are those of the convolutions' weights alone, as the
    # logs' `sparsity` is.
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(8, 3, name="conv1")(inputs)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.Conv2D(6, 1, name="conv2")(h)
    h = keras.layers.BatchNormalization(name="bn2")(h)
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(h))
    model = kerasprune.prune(keras.Model(inputs, outputs), pattern=kerasprune.Channels(),
                             layers=["conv1", "conv2"])
    followers = [w for w in kerasprune.prune_wrappers(model) if w.follows is not None]
    assert [w.follows for w in followers] == ["conv1", "conv2"]
    model.compile(keras.optimizers.SGD(0.01), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 6, 6, 2)), rng.normal(size=(12, 3))
    imp = IMPCallback(0.5, cycles=2, epochs_per_cycle=1, retrain_schedule=None)
    model.fit(x, y, batch_size=4, epochs=2, callbacks=[imp], verbose=0)
    logged = [sparsity for _, sparsity in imp.trace["sparsity"][1:]]  # after each pruning
    assert [r["sparsity"] for r in imp.cycle_records] == pytest.approx(logged)
    assert logged[-1] == pytest.approx(0.5, abs=0.02)
    kept = [1.0, *(1.0 - s for s in logged)]
    assert [r["pruned_fraction"] for r in imp.cycle_records] == pytest.approx(
        [1.0 - after / before for before, after in zip(kept, kept[1:])])


class AveragesAtEpochStart(keras.callbacks.Callback):
    """The largest |moving average - weight| of an EMA optimizer at each epoch start
    (listed after IMP: after its pruning and rewinding)."""

    def __init__(self):
        super().__init__()
        self.gaps = []

    def on_epoch_begin(self, epoch, logs=None):
        from kerasprune import _compat

        averages = _compat.moving_averages(self.model.optimizer)
        self.gaps.append(max((float(np.max(np.abs(np.array(averages[id(v)]) - np.array(v))))
                              for v in self.model.trainable_weights if id(v) in averages),
                             default=None))


def test_weight_rewinding_resets_the_moving_averages_of_an_ema_optimizer():
    # the averages still held the pre-rewind weights, written back into the model at the
    # end of fit (use_ema=True): the rewound ticket was lost
    keras.utils.set_random_seed(0)
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
                                               keras.layers.Dense(1)]))
    model.compile(keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.5), "mse")
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    imp = IMPCallback(0.5, cycles=1, dense_epochs=1, rewind_epoch=0, retrain_schedule=None)
    gaps = AveragesAtEpochStart()
    model.fit(x, x[:, :1], batch_size=8, epochs=2, callbacks=[imp, gaps], verbose=0)
    assert gaps.gaps[1] == 0.0, gaps.gaps  # rewound at epoch 1's start: averages too
