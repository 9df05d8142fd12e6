"""The resume state a pruning callback keeps in the model: one per run, of that run's shape."""

import keras
import numpy as np
import pytest

import kerasprune

X = np.random.default_rng(0).random((32, 8), dtype=np.float32)
Y = np.random.default_rng(1).random((32, 1), dtype=np.float32)


def test_a_model_pruned_by_one_callback_can_go_on_with_another():
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
                                               keras.layers.Dense(1)]), scope="global",
                             penalty=1e-4)
    model.compile("sgd", "mse")
    penalty = kerasprune.PenaltyPruningCallback(1e-4, penalty_epochs=1, finetune_epochs=0)
    model.fit(X, Y, batch_size=8, callbacks=[penalty], verbose=0)
    # IMP keeps other values (cycles done, ALLR's factor per cycle): it gets its own state.
    imp = kerasprune.IMPCallback(0.5, cycles=2, epochs_per_cycle=1, retrain_schedule=None)
    history = model.fit(X, Y, batch_size=8, epochs=2, callbacks=[imp], verbose=0)
    assert history.history["cycle"] == [1, 2]
    assert history.history["sparsity"][-1] == pytest.approx(0.5, abs=0.01)
    more = kerasprune.IMPCallback(0.75, cycles=3, epochs_per_cycle=1, retrain_schedule=None)
    history = model.fit(X, Y, batch_size=8, epochs=3, callbacks=[more], verbose=0)
    assert history.history["cycle"] == [1, 2, 3]
    assert history.history["sparsity"][-1] == pytest.approx(0.75, abs=0.01)


def _imp_model():
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
                                               keras.layers.Dense(1)]), scope="global")
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


def test_resuming_an_unfinished_run_with_other_settings_is_refused_naming_both(tmp_path):
    model = _imp_model()
    imp = kerasprune.IMPCallback(0.8, cycles=3, epochs_per_cycle=1, rewind_epoch=0,
                                 retrain_schedule=None)
    model.fit(X, Y, batch_size=8, epochs=1, callbacks=[imp], verbose=0)  # 1 of 3 epochs
    model.save(tmp_path / "mid.keras")
    loaded = keras.saving.load_model(tmp_path / "mid.keras")
    other = kerasprune.IMPCallback(0.8, cycles=4, epochs_per_cycle=1, rewind_epoch=0,
                                   retrain_schedule=None)
    saved_state = [np.array(v) for v in loaded.weights if "pruning_state" in v.path]
    with pytest.raises(ValueError, match=r"cycles=3 when saved, cycles=4 now"):
        loaded.fit(X, Y, batch_size=8, epochs=4, initial_epoch=1, callbacks=[other], verbose=0)
    kept = [np.array(v) for v in loaded.weights if "pruning_state" in v.path]
    assert len(kept) == len(saved_state) and all(
        np.array_equal(a, b) for a, b in zip(kept, saved_state))  # nothing dropped
    from kerasprune.core.pruning_state import clear_pruning_state

    clear_pruning_state(loaded)  # a new run, on purpose
    assert sum("pruning_state" in v.path for v in loaded.weights) == len(saved_state)
    history = loaded.fit(X, Y, batch_size=8, epochs=4, callbacks=[other], verbose=0)
    assert history.history["cycle"] == [1, 2, 3, 4]


def test_a_loaded_run_fitted_again_from_epoch_zero_warns_to_pass_initial_epoch(tmp_path):
    model = _imp_model()
    imp = kerasprune.IMPCallback(0.8, cycles=3, epochs_per_cycle=1, retrain_schedule=None)
    model.fit(X, Y, batch_size=8, epochs=2, callbacks=[imp], verbose=0)
    model.save(tmp_path / "mid.keras")
    loaded = keras.saving.load_model(tmp_path / "mid.keras")
    same = kerasprune.IMPCallback(0.8, cycles=3, epochs_per_cycle=1, retrain_schedule=None)
    with pytest.warns(UserWarning, match=r"2 epochs of this run are done, but this fit starts "
                                         r"at epoch 0.*initial_epoch=2"):
        loaded.fit(X, Y, batch_size=8, epochs=3, callbacks=[same], verbose=0)


def test_backup_with_a_step_frequency_and_two_pruning_callbacks_are_named(tmp_path):
    model = _imp_model()
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), save_freq=2)
    with pytest.warns(UserWarning, match=r"BackupAndRestore\(save_freq=2\) restores a run in "
                                         r"the middle of an epoch"):
        model.fit(X, Y, batch_size=8, callbacks=[backup, gmp], verbose=0)
    model = _imp_model()
    second = kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=1,
                                        finetune_epochs=0)
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    with pytest.warns(UserWarning, match=r"PruningCallback\(target_sparsity=0.5\) and "
                                         r"PruningCallback\(target_sparsity=0.8\) both update"):
        model.fit(X, Y, batch_size=8, callbacks=[gmp, second], verbose=0)


def test_a_target_below_what_the_masks_already_prune_is_named():
    model = _imp_model()
    kerasprune.update_masks(model, 0.785)
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    reached = kerasprune.sparsity_report(model).total
    with pytest.warns(UserWarning, match=rf"already prune {reached:.4f} of its weights, more "
                                         rf"than the target 0.5: masks only grow, so it stays "
                                         rf"at {reached:.4f}"):
        history = model.fit(X, Y, batch_size=8, callbacks=[gmp], verbose=0)
    assert history.history["sparsity"] == [pytest.approx(reached)]
