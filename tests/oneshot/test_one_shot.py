"""one_shot_prune: prune once by magnitude, no training."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.criterion_data import loss_gradients
from kerasprune.oneshot.one_shot import one_shot_prune


def mlp() -> keras.Model:
    return keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, name="a"),
                             keras.layers.Dense(8, name="b")])


def test_prunes_a_copy_globally_by_magnitude():
    model = mlp()
    original = [np.array(w) for w in model.weights]
    pruned = one_shot_prune(model, 0.8, scope="global")
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


def _snip_case():
    """Input feature 0 is always zero in the data, so its weights (the largest) have zero
    gradient: SNIP calls them useless, magnitude calls them the most important."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, use_bias=False, name="d")])
    kernel = np.array([[9.0, 9.0], [0.5, -0.4], [0.3, 0.2], [-0.6, 0.1]], "float32")
    model.get_layer("d").set_weights([kernel])
    model.compile(loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    x[:, 0] = 0.0
    y = rng.normal(size=(32, 2)).astype("float32")
    return model, kernel, x, y


def test_snip_prunes_by_gradient_times_weight_where_magnitude_keeps_large_weights():
    model, kernel, x, y = _snip_case()
    by_magnitude = one_shot_prune(model, 0.25, scope="global")
    by_snip = one_shot_prune(model, 0.25, criterion="snip", data=(x, y), scope="global")
    magnitude_mask = kerasprune.prune_wrappers(by_magnitude)[0].masks[0].numpy()
    snip_mask = kerasprune.prune_wrappers(by_snip)[0].masks[0].numpy()
    assert magnitude_mask[0].all() and snip_mask[0].sum() == 0  # row 0: kept vs pruned
    assert snip_mask.sum() == magnitude_mask.sum() == 6  # exactly 25% of 8 pruned each
    # Beyond the constructed rows, SNIP keeps the weights of largest |g * w|.
    grad = 2.0 / (32 * 2) * x.T @ (x @ kernel - y)  # d(mse)/d(kernel), one batch of 32
    snip_scores = np.abs(grad * kernel)
    assert snip_scores[snip_mask == 1].min() >= snip_scores[snip_mask == 0].max()


def test_snip_at_half_sparsity_is_one_global_threshold_on_saliency():
    model = mlp()
    model.compile(loss="mse")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 16)), rng.normal(size=(64, 8))
    pruned = one_shot_prune(model, 0.5, criterion="snip", data=(x, y), scope="global")
    assert kerasprune.sparsity_report(pruned).total == 0.5
    grads = loss_gradients(model, x, y, batch_size=64)
    kept, dropped = [], []
    for layer, wrapper in zip(model.layers, kerasprune.prune_wrappers(pruned)):
        assert wrapper.criterion == "snip"
        saliency = np.abs(grads[layer.kernel.path][0] * layer.kernel.numpy())
        mask = wrapper.masks[0].numpy() == 1
        kept.append(saliency[mask])
        dropped.append(saliency[~mask])
    assert np.concatenate(kept).min() >= np.concatenate(dropped).max()


def test_snip_needs_data_a_loss_and_a_plain_model():
    model, _, x, y = _snip_case()
    with pytest.raises(ValueError, match=r"pass data=\(x, y\)"):
        one_shot_prune(model, 0.5, criterion="snip")
    with pytest.raises(ValueError, match="compile it first"):
        one_shot_prune(mlp(), 0.5, criterion="snip", data=(np.tile(x, (1, 4)), y))
    with pytest.raises(ValueError, match="criterion"):
        one_shot_prune(model, 0.5, criterion="grasp2", data=(x, y))
    with pytest.raises(ValueError, match="already pruning-ready"):
        one_shot_prune(kerasprune.prune(model), 0.5, criterion="snip", data=(x, y))
    with pytest.raises(TypeError, match="`data` must be"):
        one_shot_prune(model, 0.5, criterion="snip", data=x)


@pytest.mark.parametrize("criterion", ["magnitude", "snip", "obd", "wanda", "sparsegpt"])
@pytest.mark.parametrize("pattern", [None, kerasprune.NM(2, 4), kerasprune.Blocks((4, 1))])
def test_every_criterion_prunes_every_weight_pattern_to_the_target(criterion, pattern):
    model = mlp()
    model.compile(loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 16)), rng.normal(size=(64, 8))
    pruned = one_shot_prune(model, 0.5, criterion=criterion, data=(x, y), pattern=pattern)
    for wrapper in kerasprune.prune_wrappers(pruned):
        assert wrapper.criterion == criterion
        mask = np.asarray(wrapper.masks[0])
        assert mask.mean() == 0.5
        if isinstance(pattern, kerasprune.NM):
            assert np.all(mask.reshape(-1, 4, mask.shape[-1]).sum(axis=1) == 2)


def test_wanda_in_output_scope_keeps_the_best_half_of_every_output_unit():
    """Wanda's comparison group (Sun et al. 2023): each output's weights ranked by
    |w| * ||x_j|| against each other, the same count pruned in every output."""
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8, name="a"),
                              keras.layers.EinsumDense("ab,bcd->acd", (2, 3), name="e"),
                              keras.layers.Reshape((6, 1)),
                              keras.layers.Conv1D(4, 2, name="c")])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)) * rng.uniform(0.1, 10, size=16)  # unequal feature norms
    pruned = one_shot_prune(model, 0.5, criterion="wanda", data=(x,), scope="output")
    a, e, reshape, _ = pruned.layers  # inputs through the layers pruned before (sequential)
    inputs = {"a": x, "e": a(x)}
    conv_in = np.asarray(reshape(e(inputs["e"]))).reshape(64, 6)
    for wrapper in kerasprune.prune_wrappers(pruned):
        kernel = np.asarray(model.get_layer(wrapper.layer.name).kernel)
        if wrapper.layer.name == "c":  # im2col: feature (t, 0) of output row r is x[r + t]
            norms = np.sqrt([(conv_in[:, t : t + 5] ** 2).sum() for t in range(2)])
            saliency = np.abs(kernel) * norms[:, None, None]
        else:
            norms = np.linalg.norm(np.asarray(inputs[wrapper.layer.name]), axis=0)
            saliency = np.abs(kernel) * norms.reshape((-1,) + (1,) * (kernel.ndim - 1))
        columns = saliency.reshape(-1, np.prod(kernel.shape[-1 if wrapper.layer.name != "e"
                                                              else 1:]))
        mask = np.asarray(wrapper.masks[0]).reshape(columns.shape)
        assert np.all(mask.sum(axis=0) == columns.shape[0] // 2)
        for out in range(columns.shape[1]):  # the kept ones outrank the pruned ones
            assert columns[mask[:, out] == 1, out].min() > columns[mask[:, out] == 0, out].max()
    layer_scope = one_shot_prune(model, 0.5, criterion="wanda", data=(x,))
    counts = np.asarray(kerasprune.prune_wrappers(layer_scope)[0].masks[0]).sum(axis=0)
    assert len(set(counts.tolist())) > 1  # in layer scope the outputs differ


def test_a_causal_lm_is_calibrated_on_a_dict_of_inputs():
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=32, num_layers=1, num_heads=2,
                                             hidden_dim=8, intermediate_dim=16,
                                             max_sequence_length=6)
    lm = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    ids = np.random.default_rng(0).integers(0, 32, size=(6, 6))
    data = kerasprune.CriterionData({"token_ids": ids, "padding_mask": np.ones_like(ids, bool)},
                                    batch_size=4)
    dense = ["token_embedding", "position_embedding"]
    for criterion in ("wanda", "sparsegpt"):
        pruned = one_shot_prune(lm, 0.5, criterion=criterion, data=data, exclude=dense)
        assert kerasprune.sparsity_report(pruned).total == 0.5


def test_recipes_prune_one_shot_by_sparsegpt_and_gmp_by_wanda(digits):
    from kerasprune.recipe import Recipe
    from tests.helpers import small_cnn

    (x, y), _ = digits
    loss = "{class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}"
    one_shot = Recipe.from_yaml(f"method: one-shot\ncallback: {{sparsity: 0.6, criterion: "
                                f"sparsegpt}}\nprune: {{scope: layer}}\ntraining: {{epochs: 0, "
                                f"loss: {loss}}}")
    pruned, _, _ = one_shot.run(small_cnn(), x[:256], y[:256], verbose=0)
    assert kerasprune.prune_wrappers(pruned)[0].criterion == "sparsegpt"
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.6, abs=1e-3)
    gmp = Recipe.from_yaml(
        "method: gmp\ncallback: {target_sparsity: 0.5, stabilization_epochs: 0, "
        "pruning_epochs: 1, finetune_epochs: 0}\nprune: {criterion: wanda, scope: global}\n"
        f"training: {{loss: {loss}}}")
    pruned, _, _ = gmp.run(small_cnn(), x[:256], y[:256], verbose=0)
    assert kerasprune.prune_wrappers(pruned)[0].criterion == "wanda"
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="criterion"):
        Recipe.from_yaml("method: one-shot\ncallback: {sparsity: 0.5, criterion: wanda}\n"
                         "prune: {criterion: sparsegpt}")
    with pytest.raises(ValueError, match="`reconstruct` must be true or false"):
        Recipe.from_yaml("method: one-shot\ncallback: {sparsity: 0.5, reconstruct: 2}")
