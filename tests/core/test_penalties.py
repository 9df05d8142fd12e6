"""Elastic net and sparse group lasso: values and gradients equal their closed forms."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
from kerasprune.core.group_lasso import GroupLasso
from kerasprune.core.penalties import ElasticNet, SparseGroupLasso, check_penalty

W = np.array([[3.0, -0.5, 1.0], [4.0, 2.0, -1.5]], "float32")


def gradient(penalty, weight):
    variable = tf.Variable(weight)
    with tf.GradientTape() as tape:
        value = penalty(variable)
    return tape.gradient(value, variable).numpy()


def test_elastic_net_value_and_gradient():
    penalty = ElasticNet(0.2, l1_ratio=0.3)
    w = W.astype(np.float64)
    expected = 0.2 * (0.3 * np.abs(w).sum() + 0.7 / 2 * np.square(w).sum())
    assert float(penalty(W)) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(gradient(penalty, W), 0.2 * (0.3 * np.sign(w) + 0.7 * w),
                               rtol=1e-6)


def test_sparse_group_lasso_value_and_gradient_over_channels():
    penalty = SparseGroupLasso(0.1, l1_ratio=0.25, pattern=kerasprune.Channels())
    w = W.astype(np.float64)
    norms = np.linalg.norm(w, axis=0)  # one group per output channel (column), size 2
    expected = 0.1 * (0.75 * np.sqrt(2) * norms.sum() + 0.25 * np.abs(w).sum())
    assert float(penalty(W)) == pytest.approx(expected, rel=1e-5)
    closed = 0.1 * (0.75 * np.sqrt(2) * w / norms + 0.25 * np.sign(w))
    np.testing.assert_allclose(gradient(penalty, W), closed, rtol=1e-5)


def test_sparse_group_lasso_ends_are_group_lasso_and_l1():
    channels = kerasprune.Channels()
    assert float(SparseGroupLasso(0.1, 0.0, channels)(W)) == pytest.approx(
        float(GroupLasso(0.1, channels)(W)), rel=1e-6)
    assert float(SparseGroupLasso(0.1, 1.0, channels)(W)) == pytest.approx(
        0.1 * np.abs(W).sum(), rel=1e-6)


def test_prune_attaches_each_kind_over_the_wrappers_pattern_and_saves(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    for penalty in (ElasticNet(1e-3, 0.5), SparseGroupLasso(1e-3, 0.5), 1e-3):
        pruned = kerasprune.prune(model, pattern=kerasprune.Channels(), penalty=penalty)
        wrapper = kerasprune.prune_wrappers(pruned)[0]
        attached = wrapper.pruned_weights[0].regularizer.penalty
        if isinstance(attached, SparseGroupLasso):
            assert attached.pattern is wrapper.pattern  # the wrapper's groups
        pruned.save(tmp_path / "p.keras")
        loaded = kerasprune.prune_wrappers(keras.saving.load_model(tmp_path / "p.keras"))[0]
        assert type(loaded.penalty) is type(wrapper.penalty)
        assert loaded.get_config()["penalty"] == wrapper.get_config()["penalty"]


def test_penalty_callback_prunes_with_elastic_net(digits):
    (x, y), _ = digits
    pruned = kerasprune.prune(keras.Sequential([
        keras.Input((7, 7, 1)), keras.layers.Flatten(), keras.layers.Dense(16, name="h"),
        keras.layers.Dense(10)]), penalty=ElasticNet(1e-3, l1_ratio=0.9))
    pruned.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = kerasprune.PenaltyPruningCallback(0.01, penalty_epochs=1, finetune_epochs=0,
                                                 target_sparsity=0.5)
    history = pruned.fit(x[:256], y[:256], epochs=1, callbacks=[callback], verbose=0)
    assert history.history["sparsity"][-1] == pytest.approx(0.5, abs=1e-3)


def test_bad_penalties_are_refused():
    with pytest.raises(ValueError, match="Received: penalty='l1'"):
        check_penalty("l1")
    with pytest.raises(ValueError, match="Received: l1_ratio=2"):
        ElasticNet(1e-3, l1_ratio=2)
    with pytest.raises(ValueError, match="strength"):
        SparseGroupLasso(-1.0)
    spelled = check_penalty({"class_name": "ElasticNet", "config": {"strength": 0.1}})
    assert isinstance(spelled, ElasticNet) and spelled.l1_ratio == 0.5
