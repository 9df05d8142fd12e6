"""Penalty-based pruning: threshold removal, top-up to the target, no penalty when fine-tuning."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune import PenaltyPruningCallback
from kerasprune.core.mask_update import update
from kerasprune.core.selectors import Threshold
from kerasprune.structured.channel_patterns import channels_kept
from tests.helpers import compile_classifier, small_cnn


def test_removes_exactly_the_groups_below_the_threshold():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="d"),
                              keras.layers.Dense(3, name="e")])
    pruned = kerasprune.prune(model, pattern=kerasprune.Channels(), penalty=1e-3)
    d, e = kerasprune.prune_wrappers(pruned)
    kernel = np.ones((4, 5), "float32") * np.array([0.5, 0.01, 0.2, 0.005, 1.0], "float32")
    d.layer.kernel.assign(kernel)
    e.layer.kernel.assign(np.full((5, 3), 0.001, "float32"))  # every unit below threshold
    reached = update(pruned, Threshold(0.1)).sparsity
    assert channels_kept(d.masks[0].numpy()).tolist() == [True, False, True, False, True]
    assert channels_kept(e.masks[0].numpy()).sum() == 1  # its largest unit is kept
    # Channels masks each removed unit's bias too (and only those):
    # d loses 2 x (4 + 1), e 2 x (5 + 1); of 20 + 5 + 15 + 3.
    assert reached == pytest.approx((2 * 5 + 2 * 6) / (20 + 5 + 15 + 3))


def test_a_kept_channel_keeps_its_bias_and_a_removed_one_loses_it():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="d")])
    pruned = kerasprune.prune(model, pattern=kerasprune.Channels(), penalty=1e-3)
    (d,) = kerasprune.prune_wrappers(pruned)
    d.layer.kernel.assign(np.ones((4, 5), "float32") * np.array([0.5, 0.01, 0.2, 0.005, 1.0],
                                                                "float32"))
    d.layer.bias.assign(np.array([0.001, 0.3, 0.002, 0.003, 0.004], "float32"))  # all small
    update(pruned, Threshold(0.1))
    assert d.masks[1].numpy().tolist() == [1, 0, 1, 0, 1]

def test_fit_reaches_the_target_and_fine_tunes_without_the_penalty(digits):
    (x, y), _ = digits
    pruned = compile_classifier(kerasprune.prune(small_cnn(), penalty=1e-3))
    callback = PenaltyPruningCallback(0.02, penalty_epochs=2, finetune_epochs=1,
                                      update_every=10, target_sparsity=0.8)
    history = pruned.fit(x[:960], y[:960], epochs=3, batch_size=64, callbacks=[callback],
                         verbose=0)
    assert history.history["stage"] == [0, 0, 1]
    threshold_sparsity = history.history["threshold_sparsity"]
    assert 0 < threshold_sparsity[0] <= threshold_sparsity[-1] < 0.8
    assert history.history["sparsity"][-1] == pytest.approx(0.8, abs=1e-3)
    assert not any(w.penalized for w in kerasprune.prune_wrappers(pruned))
    assert float(sum(pruned.losses)) == 0.0  # what the retraced train step adds
    for wrapper in kerasprune.prune_wrappers(pruned):
        kernel, mask = wrapper.pruned_weights[0].numpy(), wrapper.masks[0].numpy()
        assert np.all(kernel[mask == 0] == 0.0)
    # The trace (what plot.schedule draws) holds every removal: 15 steps per epoch, one
    # removal every 10 within the penalty phase, then the end of the phase (step 30,
    # with the top-up to the target).
    steps, values = zip(*callback.trace["sparsity"])
    assert steps == (0, 10, 20, 30)
    assert values[-1] == pytest.approx(history.history["sparsity"][-1])
    assert values[0] == 0.0 < values[1] <= values[2] < values[3]


def test_overshooting_the_target_warns(digits):
    (x, y), _ = digits
    pruned = compile_classifier(kerasprune.prune(small_cnn(), penalty=1e-3))
    callback = PenaltyPruningCallback(10.0, penalty_epochs=1, finetune_epochs=0,
                                      target_sparsity=0.5)
    with pytest.warns(UserWarning, match="removed more than the target"):
        pruned.fit(x[:128], y[:128], epochs=1, batch_size=64, callbacks=[callback], verbose=0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="Received: threshold=0"):
        PenaltyPruningCallback(0, penalty_epochs=1, finetune_epochs=0)
    with pytest.raises(ValueError, match="penalty_epochs"):
        PenaltyPruningCallback(0.1, penalty_epochs=0, finetune_epochs=0)
    callback = PenaltyPruningCallback(0.1, penalty_epochs=2, finetune_epochs=1, update_every=7,
                                      target_sparsity=0.9)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callback))
    assert clone.get_config() == callback.get_config()


def _penalized_dense():
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
                                               keras.layers.Dense(1)]), penalty=1e-3)
    model.compile("adam", "mse")
    return model


class MasksAtEveryBatch(keras.callbacks.Callback):
    """The sparsity as each batch ends and as each epoch begins."""

    def __init__(self):
        super().__init__()
        self.batches, self.epoch_starts = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_starts.append(kerasprune.sparsity_report(self.model).total)

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(kerasprune.sparsity_report(self.model).total)


def test_the_target_is_reached_before_the_first_fine_tuning_step():
    x = np.random.default_rng(0).random((32, 8), dtype=np.float32)
    y = np.random.default_rng(1).random((32, 1), dtype=np.float32)
    callback = PenaltyPruningCallback(1e-3, penalty_epochs=2, finetune_epochs=2,
                                      target_sparsity=0.7)
    spy = MasksAtEveryBatch()
    history = _penalized_dense().fit(x, y, epochs=4, batch_size=8, callbacks=[callback, spy],
                                     verbose=0)
    # Reached when the last penalty epoch ends, then frozen through the fine-tuning.
    assert history.history["sparsity"][1:] == [pytest.approx(0.7, abs=0.01)] * 3
    assert spy.epoch_starts[2] == spy.batches[8] == spy.batches[-1] == history.history[
        "sparsity"][1]


def _removals(update_every, steps):
    """Sparsity after each of `steps` batches of a one-epoch penalty phase (threshold 0.05)."""
    x = np.random.default_rng(0).random((8 * steps, 8), dtype=np.float32)
    y = np.random.default_rng(1).random((8 * steps, 1), dtype=np.float32)
    model = _penalized_dense()
    kernel = kerasprune.prune_wrappers(model)[0].pruned_weights[0]
    assert np.mean(np.abs(np.asarray(kernel)) < 0.05) > 0.05  # below the threshold at first
    callback = PenaltyPruningCallback(0.05, penalty_epochs=1, finetune_epochs=0,
                                      update_every=update_every)
    spy = MasksAtEveryBatch()
    model.fit(x, y, epochs=1, batch_size=8, callbacks=[callback, spy], verbose=0)
    return spy.batches


def test_nothing_is_removed_before_update_every_steps_of_training():
    # Removals after 2 steps of training (at the start of step 2), then at the phase's end.
    sparsity = _removals(update_every=2, steps=5)
    assert sparsity[:2] == [0.0] * 2
    assert sparsity[2] > 0.0


def test_update_every_longer_than_half_the_penalty_phase_removes_once_in_it():
    sparsity = _removals(update_every=3, steps=4)
    assert sparsity[:3] == [0.0] * 3
    assert sparsity[3] > 0.0


def test_a_fit_resumed_into_fine_tuning_trains_without_the_penalty():
    # e.g. a saved model fitted again from the first fine-tuning epoch: no penalty from its
    # first step on (the penalty is part of the wrappers' config, so a loaded model has it)
    x = np.random.default_rng(0).random((32, 8), dtype=np.float32)
    y = np.random.default_rng(1).random((32, 1), dtype=np.float32)
    model = _penalized_dense()
    callback = PenaltyPruningCallback(1e-3, penalty_epochs=1, finetune_epochs=1)
    penalized = []
    spy = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: penalized.append(
        any(w.penalized for w in kerasprune.prune_wrappers(model))))
    history = model.fit(x, y, initial_epoch=1, epochs=2, batch_size=8,
                        callbacks=[callback, spy], verbose=0)
    assert history.history["stage"] == [1]
    assert penalized == [False] * 4 and float(sum(model.losses)) == 0.0
