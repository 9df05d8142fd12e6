"""Structured one-shot with reconstruction: the consumers of removed channels refit exactly."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.oneshot.reconstruction import reconstruct

RNG = np.random.default_rng(0)


def mlp() -> keras.Model:
    return keras.Sequential([keras.Input((10,)), keras.layers.Dense(24, "relu", name="a"),
                             keras.layers.Dense(16, "relu", name="b"),
                             keras.layers.Dense(3, name="logits")])


def cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Conv2D(12, 3, activation="relu", name="conv1"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Conv2D(12, 3, activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4, name="logits")])


MIXING = RNG.normal(size=(3, 10))


def correlated(n, shape):
    """Inputs with 3 main directions across their features (one distribution)."""
    base = RNG.normal(size=(n, *shape[:-1], 3)) @ MIXING[:, : shape[-1]]
    return (base + 0.1 * RNG.normal(size=(n, *shape))).astype("float32")


def test_the_refit_is_the_least_squares_solution_toward_the_dense_outputs():
    dense = mlp()
    x = correlated(256, (10,))
    pruned = kerasprune.prune(dense, pattern=kerasprune.Channels(), layers=["b"])
    kerasprune.update_masks(pruned, 0.5)
    assert reconstruct(pruned, dense, x, dampening=1e-9) == ["logits"]
    hidden = np.asarray(keras.Model(pruned.inputs, pruned.get_layer("prune_b").output)([x]))
    target = np.asarray(dense(x))
    features = np.concatenate([hidden, np.ones((len(x), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(features, target, rcond=None)
    logits = pruned.get_layer("logits")
    fitted = hidden @ np.asarray(logits.kernel) + np.asarray(logits.bias)
    np.testing.assert_allclose(fitted, features @ solution, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("build, shape", [(mlp, (10,)), (cnn, (8, 8, 3))])
def test_reconstruction_loses_far_less_and_shrinks_exactly(build, shape):
    dense = build()
    x, x_test = correlated(512, shape), correlated(256, shape)
    if build is cnn:  # a trained-like BatchNormalization: not the identity
        dense.get_layer("bn").set_weights([RNG.uniform(0.5, 2, 12), RNG.normal(size=12),
                                           RNG.normal(size=12), RNG.uniform(0.5, 2, 12)])
    reference = np.asarray(dense(x_test))
    errors = {}
    for refit in (False, True):
        pruned = kerasprune.one_shot_prune(dense, 0.5, pattern=kerasprune.Channels(),
                                           exclude=["logits"], data=(x,), reconstruct=refit)
        small = kerasprune.shrink(pruned)
        np.testing.assert_allclose(small(x_test), pruned(x_test), rtol=1e-4, atol=1e-4)
        errors[refit] = float(np.mean(np.square(np.asarray(small(x_test)) - reference)))
        assert small.count_params() < dense.count_params()
    assert errors[True] < 0.5 * errors[False]


def test_reconstruct_needs_channels_and_data():
    with pytest.raises(ValueError, match=r"pattern=kerasprune.Channels"):
        kerasprune.one_shot_prune(mlp(), 0.5, data=(np.ones((4, 10)),), reconstruct=True)
    # l1 needs no data: reconstruct=True is what does, and the message says so
    with pytest.raises(ValueError, match=r"^reconstruct=True refits .*: pass data="):
        kerasprune.one_shot_prune(mlp(), 0.5, pattern=kerasprune.Channels(), reconstruct=True,
                                  exclude=["logits"])
