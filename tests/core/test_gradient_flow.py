"""Specification of the weight criteria for pruning before training: GraSP (w * Hg),
SynFlow (|w * dR/dw|, iterative) and random, on cases whose answer is known exactly."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
from kerasprune.core.criterion_data import CriterionData, needed_data, update_data
from kerasprune.core.gradient_flow import (
    hessian_gradients,
    synflow_gradients,
    synflow_targets,
)
from kerasprune.core.weight_criteria import saliency

RNG = np.random.default_rng(0)


def small_cnn(**prune_options) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, activation="tanh", name="conv"),
        keras.layers.Flatten(), keras.layers.Dense(3, name="logits")])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return kerasprune.prune(model, **prune_options) if prune_options else model


def test_grasp_hessian_gradient_product_equals_double_backprop():
    model = small_cnn(criterion="grasp")
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = RNG.normal(size=(32, 6, 6, 1)).astype("float32"), RNG.integers(0, 3, 32)
    wrappers = kerasprune.prune_wrappers(model)
    variables = [v for w in wrappers for v in w.pruned_weights]
    before = [np.array(v) for v in variables]
    products = hessian_gradients(model, x, y, wrappers, batch_size=32)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x), training=False)
        grads = inner.gradient(loss, [v.value for v in variables])
        flow = tf.add_n([tf.reduce_sum(g * tf.stop_gradient(g)) for g in grads])
    exact = outer.gradient(flow, [v.value for v in variables])
    for variable, expected, value in zip(variables, exact, before):
        np.testing.assert_allclose(products[variable.path][0], expected, rtol=0,
                                   atol=2e-3 * np.abs(expected).max())
        np.testing.assert_array_equal(np.asarray(variable), value)  # restored exactly


def test_grasp_prunes_the_weights_whose_removal_helps_gradient_flow_most():
    # GraSP removes the largest -w * Hg, i.e. keeps the largest w * Hg (signed).
    w = np.array([[1.0, -2.0, 0.5, 3.0]])
    hg = np.array([[1.0, 1.0, -4.0, 0.1]])
    np.testing.assert_allclose(saliency("grasp", w, [hg]), [[1.0, -2.0, -2.0, 0.3]])
    model = kerasprune.prune(keras.Sequential([keras.Input((1,)), keras.layers.Dense(
        4, use_bias=False)]), criterion="grasp")
    model.layers[0].layer.kernel.assign(w)
    kerasprune.update_masks(model, 0.5, gradients={model.layers[0].layer.kernel.path: [hg]})
    assert np.asarray(model.layers[0].masks[0]).tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_grasp_is_refused_with_patterns_that_pool_magnitudes():
    with pytest.raises(ValueError, match="signed.*unstructured"):
        small_cnn(criterion="grasp", block_shape=(2, 1))


def test_synflow_gradient_is_the_path_sum_of_absolute_weights():
    # R = 1^T |W2| |W1| 1: dR/dW1[i, j] = sum_k |W2[j, k]|, dR/dW2[j, k] = sum_i |W1[i, j]|.
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(2, use_bias=False, name="a"),
        keras.layers.Dense(2, use_bias=False, activation="softmax", name="b")])
    w1, w2 = RNG.normal(size=(3, 2)), RNG.normal(size=(2, 2))
    model.get_layer("a").set_weights([w1])
    model.get_layer("b").set_weights([w2])
    pruned = kerasprune.prune(model, criterion="synflow")
    a, b = (w.layer.kernel for w in kerasprune.prune_wrappers(pruned))
    grads = synflow_gradients(pruned, kerasprune.prune_wrappers(pruned))
    np.testing.assert_allclose(grads[a.path][0], np.tile(np.abs(w2).sum(1), (3, 1)), rtol=1e-5)
    np.testing.assert_allclose(grads[b.path][0], np.tile(np.abs(w1).sum(0)[:, None], (1, 2)),
                               rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(a), w1.astype("float32"))  # signs restored
    assert kerasprune.prune_wrappers(pruned)[1].layer.activation is keras.activations.softmax


def test_one_shot_synflow_runs_its_rounds_on_an_exponential_schedule():
    targets = synflow_targets(0.99, 100)
    assert len(targets) == 100 and targets[-1] == pytest.approx(0.99)
    assert targets[49] == pytest.approx(0.9)  # density 0.01 ** (50/100)
    model = small_cnn()
    pruned = kerasprune.one_shot_prune(model, 0.9, criterion="synflow", scope="global")
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.9, abs=1e-3)
    assert needed_data(pruned) == []  # data-free


def test_synflow_without_a_known_input_shape_asks_for_data():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.ones((1, 3)))
    pruned = kerasprune.prune(net, criterion="synflow")
    with pytest.raises(ValueError, match=r"data=\(x,\)"):
        update_data(pruned, None)
    assert sorted(update_data(pruned, CriterionData(np.ones((4, 3))))) == ["gradients"]


def test_random_order_is_fixed_by_the_seed_and_differs_between_tensors():
    w = np.ones((4, 5))
    a = saliency("random", w, seed=1, name="d/0")
    np.testing.assert_array_equal(a, saliency("random", w, seed=1, name="d/0"))
    assert not np.array_equal(a, saliency("random", w, seed=2, name="d/0"))
    assert not np.array_equal(a, saliency("random", w, seed=1, name="e/0"))


def test_gradual_random_removal_grows_masks_along_one_order_whatever_the_weights():
    def masks(seed):
        model = small_cnn(criterion="random", seed=seed)
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        callback = kerasprune.PruningCallback(0.75, stabilization_epochs=0, pruning_epochs=2,
                                              finetune_epochs=0, update_every=2)
        x, y = RNG.normal(size=(64, 6, 6, 1)), RNG.integers(0, 3, 64)
        model.fit(x, y, batch_size=16, epochs=2, callbacks=[callback], verbose=0)
        return [np.asarray(m) for w in kerasprune.prune_wrappers(model) for m in w.masks]

    first, again, other = masks(3), masks(3), masks(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert np.mean([1 - m.mean() for m in first]) == pytest.approx(0.75, abs=0.01)


def test_the_seed_and_new_criteria_are_saved_with_the_wrapper(tmp_path):
    model = small_cnn(criterion="random", seed=5)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [(w.criterion, w.seed) for w in kerasprune.prune_wrappers(loaded)] == [
        ("random", 5), ("random", 5)]
    with pytest.raises(ValueError, match="seed"):
        small_cnn(criterion="random", seed=-1)


def test_grasp_without_data_is_refused_before_any_mask_changes():
    model = small_cnn()
    with pytest.raises(ValueError, match=r"data=\(x, y\)"):
        kerasprune.one_shot_prune(model, 0.5, criterion="grasp")
    pruned = small_cnn(criterion="grasp")
    with pytest.raises(ValueError, match="Hessian-gradient product"):
        kerasprune.update_masks(pruned, 0.5)
    assert all(np.all(np.asarray(m) == 1) for w in kerasprune.prune_wrappers(pruned)
               for m in w.masks)


def test_gmp_with_grasp_scores_from_the_callbacks_data():
    model = small_cnn(criterion="grasp")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = RNG.normal(size=(64, 6, 6, 1)), RNG.integers(0, 3, 64)
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=0, data=CriterionData(x, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=32, epochs=1, callbacks=[callback], verbose=0)
    assert kerasprune.sparsity_report(model).total == pytest.approx(0.5, abs=0.01)
