"""Movement pruning: scores are the weights' accumulated movement, masks hit the target."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.callbacks.movement_pruning_callback import MovementPruningCallback
from kerasprune.core.mask_update import update
from kerasprune.core.selectors import ToTarget
from kerasprune.structured.channel_patterns import channels_kept
from tests.helpers import compile_classifier, small_cnn


def test_scores_equal_the_closed_form_of_sgd_on_a_linear_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    model = kerasprune.prune(keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, use_bias=False, name="d")]))
    w0 = np.asarray(model.layers[0].layer.kernel).astype(np.float64)
    lr, epochs = 0.05, 3  # one full batch per epoch: 3 steps, the last one fine-tuning
    model.compile(keras.optimizers.SGD(lr), "mse")
    callback = MovementPruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                       finetune_epochs=1)
    model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, callbacks=[callback],
              verbose=0)
    # Two steps before fine-tuning, no mask before the second (the first update comes one
    # interval in): S = sum_t w_t * (w_{t+1} - w_t) = -lr * sum_t w_t * dL/dw_t.
    w, expected = w0, np.zeros_like(w0)
    for _ in range(2):
        gradient = 2 * x.T.astype(np.float64) @ (x @ w - y) / y.size
        expected += -lr * w * gradient
        w = w - lr * gradient
    scores = callback.scores[model.layers[0].layer.kernel.path]
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-7)


def test_masks_keep_the_weights_of_highest_movement_score_not_magnitude():
    model = kerasprune.prune(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]))
    wrapper = kerasprune.prune_wrappers(model)[0]
    wrapper.layer.kernel.assign(np.array([[5.0, 0.1], [4.0, 0.2]], "float32"))
    scores = {wrapper.layer.kernel.path: np.array([[-1.0, 3.0], [-2.0, 2.0]])}
    update(model, ToTarget(scores=scores), 0.5)
    assert wrapper.masks[0].numpy().tolist() == [[0.0, 1.0], [0.0, 1.0]]


def test_channel_scores_are_sums_over_the_channel_and_reach_the_exact_target():
    pattern = kerasprune.Channels(normalize="none", groups=False)
    model = kerasprune.prune(keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(4, name="d"), keras.layers.Dense(1)]),
        layers=["d"], pattern=pattern)
    wrapper = kerasprune.prune_wrappers(model)[0]
    # channel sums: 0, 3, -4, 1 -> the two lowest (2 and 0) go
    score = np.array([[1.0, 1.0, -2.0, 0.5], [-1.0, 2.0, -2.0, 0.5]])
    update(model, ToTarget(scores={wrapper.layer.kernel.path: score}), 0.5)
    assert channels_kept(wrapper.masks[0].numpy()).tolist() == [False, True, False, True]


def test_fit_on_a_cnn_ends_at_the_exact_target(digits):
    (x, y), _ = digits
    pruned = compile_classifier(kerasprune.prune(small_cnn()))
    callback = MovementPruningCallback(0.9, stabilization_epochs=0, pruning_epochs=2,
                                       finetune_epochs=1, update_every=5)
    history = pruned.fit(x[:640], y[:640], epochs=3, batch_size=64, callbacks=[callback],
                         verbose=0)
    assert history.history["sparsity"][-1] == pytest.approx(0.9, abs=1e-3)
    assert history.history["stage"] == [1, 1, 2]
    scores = list(callback.scores.values())
    assert len(scores) == 3 and all(np.any(s != 0) for s in scores)


def test_channels_fit_prunes_whole_channel_groups(digits):
    (x, y), _ = digits
    pruned = compile_classifier(kerasprune.prune(small_cnn(), pattern=kerasprune.Channels()))
    callback = MovementPruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                       finetune_epochs=1, update_every=5)
    with pytest.warns(kerasprune.structured.group_selection.LayersLeftWholeWarning):
        pruned.fit(x[:320], y[:320], epochs=2, batch_size=64, callbacks=[callback],
                   verbose=0)
    shrunk = kerasprune.shrink(pruned)
    assert shrunk.count_params() < small_cnn().count_params()


def test_config_round_trips_and_bad_arguments_are_refused():
    callback = MovementPruningCallback(0.8, stabilization_epochs=1, pruning_epochs=2,
                                       finetune_epochs=1, update_every=4)
    again = MovementPruningCallback.from_config(callback.get_config())
    assert again.get_config() == callback.get_config()
    with pytest.raises(ValueError, match="finetune_epochs.*Received: finetune_epochs=0"):
        MovementPruningCallback(0.8, stabilization_epochs=1, pruning_epochs=2,
                                finetune_epochs=0)
    with pytest.raises(ValueError, match="target_sparsity"):
        MovementPruningCallback(1.5, stabilization_epochs=1, pruning_epochs=2,
                                finetune_epochs=1)
