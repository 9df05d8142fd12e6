"""one_shot_prune: prune once by magnitude, no training."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.one_shot import one_shot_prune


def mlp() -> keras.Model:
    return keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, name="a"),
                             keras.layers.Dense(8, name="b")])


def test_prunes_a_copy_globally_by_magnitude():
    model = mlp()
    original = [np.array(w) for w in model.weights]
    pruned = one_shot_prune(model, 0.8)
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.8, abs=1e-3)
    for before, after in zip(original, model.weights):  # the input model is untouched
        np.testing.assert_array_equal(before, np.array(after))
    kernels = np.concatenate([np.abs(original[0]).ravel(), np.abs(original[2]).ravel()])
    survivors = np.concatenate([np.abs(np.array(v)).ravel() for w in kerasprune.prune_wrappers(pruned)
                                for v in w.pruned_weights])
    kept = survivors[survivors > 0]
    assert kept.min() >= np.sort(kernels)[int(0.8 * kernels.size) - 1]  # one global threshold
    x = np.random.rand(4, 16).astype("float32")
    np.testing.assert_allclose(pruned(x), kerasprune.strip(pruned)(x), rtol=1e-5, atol=1e-6)


def test_layer_scope_prunes_each_layer_to_the_target():
    pruned = one_shot_prune(mlp(), 0.5, scope="layer")
    assert [row.sparsity for row in kerasprune.sparsity_report(pruned).rows] == [0.5, 0.5]


def test_pruning_ready_model_is_pruned_in_place_and_masks_only_grow():
    model = kerasprune.prune(mlp(), scope="global")
    first = one_shot_prune(model, 0.5)
    assert first is model
    masks = [np.array(m) for w in kerasprune.prune_wrappers(model) for m in w.masks]
    one_shot_prune(model, 0.7)
    for old, w_mask in zip(masks, [m for w in kerasprune.prune_wrappers(model) for m in w.masks]):
        assert np.all(np.array(w_mask) <= old)
    assert kerasprune.sparsity_report(model).total == pytest.approx(0.7, abs=1e-3)


@pytest.mark.parametrize("sparsity", [1.0, -0.1, "0.5"])
def test_bad_sparsity_is_refused(sparsity):
    with pytest.raises(ValueError, match="sparsity="):
        one_shot_prune(mlp(), sparsity)


def test_not_a_model_is_refused():
    with pytest.raises(TypeError, match="keras.Model"):
        one_shot_prune(keras.layers.Dense(3), 0.5)
