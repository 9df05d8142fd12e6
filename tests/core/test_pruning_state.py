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
