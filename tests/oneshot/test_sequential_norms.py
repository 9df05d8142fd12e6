"""Wanda and OBD calibrate sequentially: each layer on inputs through the pruned ones."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.selection import select_pruned
from kerasprune.core.weight_criteria import saliency

RNG = np.random.default_rng(0)


def two_blocks() -> keras.Model:
    return keras.Sequential([
        keras.Input((12,)),
        keras.layers.Dense(24, "relu", name="a", bias_initializer="ones",
                           kernel_initializer=keras.initializers.GlorotUniform(1)),
        keras.layers.Dense(6, name="b", kernel_initializer=keras.initializers.GlorotUniform(2))])


def layer_mask(criterion: str, kernel: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """The layer-scope mask of `kernel` at 50% by `criterion` on `inputs` (from scratch)."""
    norms = np.square(inputs).sum(axis=0)[:, None]
    scores = saliency(criterion, kernel, input_norms=norms).ravel()
    return ~select_pruned(scores, 1, None, 0.5).reshape(kernel.shape)


@pytest.mark.parametrize("criterion", ["wanda", "obd"])
def test_the_second_block_is_pruned_on_inputs_through_the_pruned_first(criterion):
    model = two_blocks()
    x = RNG.normal(size=(48, 12)) * RNG.uniform(0.1, 5, size=12)
    pruned = kerasprune.one_shot_prune(model, 0.5, criterion=criterion,
                                       data=kerasprune.CriterionData(x, batch_size=16))
    first, second = kerasprune.prune_wrappers(pruned)
    kernel_a, bias_a = (np.asarray(w) for w in model.get_layer("a").weights)
    kernel_b = np.asarray(model.get_layer("b").kernel)
    assert np.array_equal(np.asarray(first.masks[0]) == 1, layer_mask(criterion, kernel_a, x))
    dense_inputs = np.maximum(x @ kernel_a + bias_a, 0)
    pruned_inputs = np.maximum(x @ (kernel_a * np.asarray(first.masks[0])) + bias_a, 0)
    expected = layer_mask(criterion, kernel_b, pruned_inputs)
    assert not np.array_equal(expected, layer_mask(criterion, kernel_b, dense_inputs))
    assert np.array_equal(np.asarray(second.masks[0]) == 1, expected)


def test_a_global_set_is_scored_at_once_and_reaches_its_target():
    x = RNG.normal(size=(32, 12))
    pruned = kerasprune.one_shot_prune(two_blocks(), 0.6, criterion="wanda", data=(x,),
                                       scope="global")
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.6, abs=1 / 432)

