"""CriterionData: loss gradients and per-channel output statistics on a data sample."""

import numpy as np
import keras
import pytest

import kerasprune
from kerasprune import CriterionData
from kerasprune.core.criterion_data import channel_activity, loss_gradients

RNG = np.random.default_rng(0)


def test_loss_gradients_match_the_analytic_gradient():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, use_bias=False)])
    model.compile(loss="mse")
    x = RNG.normal(size=(40, 5)).astype("float32")
    y = np.zeros((40, 3), "float32")
    grads = loss_gradients(model, x, y, batch_size=20)
    kernel = model.layers[0].kernel.numpy()
    path = model.layers[0].kernel.path
    assert len(grads[path]) == 2  # one gradient per batch
    for batch, grad in zip((x[:20], x[20:]), grads[path]):
        expected = 2.0 / (20 * 3) * batch.T @ (batch @ kernel)
        np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


def test_channel_activity_matches_the_layer_outputs():
    inputs = keras.Input((6, 6, 2))
    conv = keras.layers.Conv2D(3, 3, name="conv")(inputs)  # linear: negatives count as zeros
    dense = keras.layers.Dense(4, activation="relu", name="dense")(keras.layers.Flatten()(conv))
    model = keras.Model(inputs, dense)
    pruned = kerasprune.prune(model)
    x = RNG.normal(size=(10, 6, 6, 2)).astype("float32")
    activity = channel_activity(pruned, x, batch_size=4)  # three uneven batches
    probe = keras.Model(model.inputs, [model.get_layer("conv").output, dense])
    for wrapper, out in zip(kerasprune.prune_wrappers(pruned), probe.predict(x, verbose=0)):
        flat = out.reshape(-1, out.shape[-1])
        stats = activity[wrapper.layer.kernel.path]
        np.testing.assert_allclose(stats.zero_fraction, (flat <= 0).mean(axis=0))
        np.testing.assert_allclose(stats.mean, np.maximum(flat, 0).mean(axis=0), rtol=1e-5)
    assert "call" not in kerasprune.prune_wrappers(pruned)[0].__dict__


def test_criterion_data_gives_only_what_the_patterns_need():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.Dense(2)])
    x, y = RNG.normal(size=(8, 4)), RNG.normal(size=(8, 2))
    plain = kerasprune.prune(model)
    plain.compile("sgd", "mse")
    assert CriterionData(x, y).for_update(plain) == {}
    taylor = kerasprune.prune(model, pattern=kerasprune.Channels("taylor"))
    taylor.compile("sgd", "mse")
    data = CriterionData(x, y, batch_size=4).for_update(taylor)
    assert sorted(data) == ["gradients"] and all(len(g) == 2 for g in data["gradients"].values())
    with pytest.raises(ValueError, match="need targets"):
        CriterionData(x).for_update(taylor)


def test_criterion_data_validates_its_sample():
    with pytest.raises(ValueError, match=r"equal length.* \(3 samples\), y .* \(2 samples\)"):
        CriterionData(np.ones((3, 2)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="non-empty"):
        CriterionData(np.ones((0, 2)))
    with pytest.raises(ValueError, match="batch_size"):
        CriterionData(np.ones((3, 2)), batch_size=0)


@pytest.mark.parametrize("criterion", ["wanda", "snip"])
def test_update_masks_names_the_way_to_give_it_data_and_that_way_works(criterion):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="d")])
    pruned = kerasprune.prune(model, criterion=criterion)
    pruned.compile(loss="mse")
    with pytest.raises(ValueError, match=r"CriterionData\(x(, y)?\)\.for_update\(model\)` to "
                                         r"update_masks"):
        kerasprune.update_masks(pruned, 0.5)
    x, y = RNG.normal(size=(16, 8)), RNG.normal(size=(16, 4))
    data = CriterionData(x, y).for_update(pruned)
    assert kerasprune.update_masks(pruned, 0.5, **data) == 0.5
