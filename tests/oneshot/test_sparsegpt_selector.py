"""SparseGPT through the engine: sequential calibration, scopes, patterns, callbacks, KerasHub."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.linear_views import LinearView
from kerasprune.core.patterns import Unstructured
from kerasprune.oneshot.sparsegpt import MaskChoice, sparsegpt
from kerasprune.oneshot.sparsegpt_selector import tensor_targets

RNG = np.random.default_rng(0)


def mlp() -> keras.Model:
    return keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, "relu", name="a"),
                             keras.layers.Dense(8, "relu", name="b"),
                             keras.layers.Dense(4, name="c")])


def cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((8, 8, 4)), keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                                                    name="conv1"),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2"),
        keras.layers.Flatten(), keras.layers.Dense(10, name="logits")])


def kernels(model) -> dict:
    return {w.layer.name: (np.asarray(w.pruned_weights[0]), np.asarray(w.masks[0]))
            for w in kerasprune.prune_wrappers(model)}


def test_each_layer_is_calibrated_on_inputs_through_the_layers_pruned_before_it():
    x = RNG.normal(size=(64, 12)).astype("float32")
    dense = mlp()
    pruned = kerasprune.one_shot_prune(dense, 0.5, criterion="sparsegpt", data=(x,))
    a = kerasprune.prune_wrappers(pruned)[0].layer
    assert a.name == "a"
    hidden = np.maximum(x @ np.asarray(a.kernel) + np.asarray(a.bias), 0)  # pruned a
    original_b = np.asarray(dense.get_layer("b").kernel, np.float64)
    expected, pruned_b = sparsegpt(
        original_b, hidden.T.astype(np.float64) @ hidden,
        MaskChoice(Unstructured(), LinearView((16, 8), (0,)), 0.5, None))
    kernel, mask = kernels(pruned)["b"]
    np.testing.assert_allclose(kernel, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(mask, ~pruned_b)
    dense_hidden = np.maximum(x @ np.asarray(dense.get_layer("a").kernel)
                              + np.asarray(dense.get_layer("a").bias), 0)
    not_sequential, _ = sparsegpt(
        original_b, dense_hidden.T.astype(np.float64) @ dense_hidden,
        MaskChoice(Unstructured(), LinearView((16, 8), (0,)), 0.5, None))
    assert not np.allclose(kernel, not_sequential, atol=1e-5)


@pytest.mark.parametrize("pattern, sparsity", [(None, 0.5), (None, 0.8),
                                               (kerasprune.Blocks((4, 1)), 0.5)])
def test_masks_are_exact_at_the_target_and_beat_magnitude_on_a_cnn(pattern, sparsity):
    x = RNG.normal(size=(96, 8, 8, 4)).astype("float32")
    dense = cnn()
    by_obs = kerasprune.one_shot_prune(dense, sparsity, criterion="sparsegpt", data=(x,),
                                       pattern=pattern)
    by_magnitude = kerasprune.one_shot_prune(dense, sparsity, pattern=pattern)
    for name, (kernel, mask) in kernels(by_obs).items():
        # exact: round(s * n) weights, to the nearest whole block of 4
        assert abs(int((mask == 0).sum()) - sparsity * mask.size) <= (2 if pattern else 0.5)
        assert np.all(kernel[mask == 0] == 0)
    reference = np.asarray(dense(x))
    error = {name: float(np.mean(np.square(np.asarray(m(x)) - reference)))
             for name, m in (("obs", by_obs), ("magnitude", by_magnitude))}
    assert error["obs"] < 0.9 * error["magnitude"]


def test_two_four_is_valid_in_every_pruned_kernel():
    x = RNG.normal(size=(64, 8, 8, 4)).astype("float32")
    pruned = kerasprune.one_shot_prune(cnn(), 0.5, criterion="sparsegpt", data=(x,),
                                       pattern=kerasprune.NM(2, 4))
    for name, (kernel, mask) in kernels(pruned).items():
        runs = np.moveaxis(mask, -2, -1).reshape(-1, 4)
        assert np.all(runs.sum(axis=1) == 2), name
        assert np.all(kernel[mask == 0] == 0)


def test_a_shared_scope_gives_each_tensor_what_magnitude_would_and_sparsegpt_chooses_inside():
    x = RNG.normal(size=(64, 12)).astype("float32")
    dense = mlp()
    by_obs = kerasprune.one_shot_prune(dense, 0.7, criterion="sparsegpt", data=(x,),
                                       scope="global")
    by_magnitude = kerasprune.one_shot_prune(dense, 0.7, scope="global")
    obs, magnitude = kernels(by_obs), kernels(by_magnitude)
    assert kerasprune.sparsity_report(by_obs).total == pytest.approx(0.7, abs=1 / 340)
    assert len({round(1 - m.mean(), 3) for _, m in obs.values()}) > 1  # not uniform
    for name, (_, mask) in obs.items():
        assert mask.mean() == magnitude[name][1].mean()  # the same share per tensor
        assert not np.array_equal(mask, magnitude[name][1])  # chosen by OBS inside it
    shares = tensor_targets(kerasprune.prune_wrappers(kerasprune.prune(dense, scope="lamp")),
                            0.7, 0.7)
    assert sorted(round(v, 3) for v in shares.values()) != [0.7, 0.7, 0.7]


def test_layers_without_input_features_are_refused_before_any_mask_changes():
    inputs = keras.Input((5,), dtype="int32")
    hidden = keras.layers.Embedding(20, 8, name="emb")(inputs)
    outputs = keras.layers.Dense(4, name="d")(hidden)
    model = kerasprune.prune(keras.Model(inputs, outputs), criterion="sparsegpt")
    x = RNG.integers(0, 20, size=(16, 5))
    with pytest.raises(ValueError, match=r"'emb/embeddings' \(Embedding\).*exclude=\['emb'\]"):
        kerasprune.one_shot_prune(model, 0.5, data=(x,))
    assert all(np.all(np.asarray(m) == 1) for w in kerasprune.prune_wrappers(model)
               for m in w.masks)
    kept = kerasprune.one_shot_prune(keras.Model(inputs, outputs), 0.5, criterion="sparsegpt",
                                     data=(x,), exclude=["emb"])
    assert kerasprune.sparsity_report(kept).total == 0.5


def test_imp_prunes_with_sparsegpt_each_cycle_from_the_callbacks_data():
    x = RNG.normal(size=(128, 12)).astype("float32")
    y = RNG.integers(0, 4, size=128)
    model = kerasprune.prune(mlp(), criterion="sparsegpt")
    model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    imp = kerasprune.IMPCallback(0.75, cycles=2, epochs_per_cycle=1, retrain_schedule=None,
                                 data=kerasprune.CriterionData(x[:64]))
    model.fit(x, y, epochs=imp.total_epochs, batch_size=32, callbacks=[imp], verbose=0)
    for wrapper in kerasprune.prune_wrappers(model):
        assert 1 - np.asarray(wrapper.masks[0]).mean() == pytest.approx(0.75, abs=0.02)
    with pytest.raises(ValueError, match="needs calibration on data"):
        model.fit(x, y, epochs=1, callbacks=[kerasprune.IMPCallback(
            0.8, cycles=1, epochs_per_cycle=1, retrain_schedule=None)], verbose=0)


def test_a_kerashub_decoder_is_pruned_block_by_block():
    keras_hub = pytest.importorskip("keras_hub")
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=64, num_layers=2, num_heads=4,
                                             hidden_dim=16, intermediate_dim=32,
                                             max_sequence_length=8)
    lm = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    ids = RNG.integers(0, 64, size=(8, 8))
    x = {"token_ids": ids, "padding_mask": np.ones_like(ids, bool)}
    pruned = kerasprune.one_shot_prune(lm, 0.5, criterion="sparsegpt", data=(x,),
                                       pattern=kerasprune.NM(2, 4),
                                       exclude=["token_embedding", "position_embedding"])
    (first, second) = sorted(kerasprune.prune_wrappers(pruned), key=lambda w: w.layer.name)
    assert first.layer.name == "transformer_layer_0" and len(first.masks) == 6
    for wrapper in (first, second):
        for name, mask in zip(wrapper.weight_names, wrapper.masks):
            # runs along the input axis: hidden, axis 0, of the [hidden, heads, dim]
            # query, key and value kernels; axis -2 of the others
            axis = 0 if name.split("/")[-2] in ("query", "key", "value") else -2
            runs = np.moveaxis(np.asarray(mask), axis, -1).reshape(-1, 4)
            assert np.all(runs.sum(axis=1) == 2), name
    assert np.all(np.isfinite(np.asarray(pruned(x))))


def test_projections_reading_one_input_share_one_factor_and_get_their_own_updates(monkeypatch):
    from kerasprune.oneshot import sparsegpt_selector

    factored = []
    original = sparsegpt_selector.inverse_factor
    monkeypatch.setattr(sparsegpt_selector, "inverse_factor",
                        lambda gram, *a, **k: factored.append(gram.shape) or original(
                            gram, *a, **k))
    inputs = keras.Input((3, 8))
    model = keras.Model(inputs, keras.layers.MultiHeadAttention(2, 4, name="mha")(inputs,
                                                                                 inputs))
    x = RNG.normal(size=(6, 3, 8)).astype("float32")
    pruned = kerasprune.one_shot_prune(model, 0.5, criterion="sparsegpt", data=(x,))
    assert factored == [(8, 8), (8, 8)]  # query, key and value share one; the output its own
    features = x.reshape(-1, 8)
    gram = (features.T @ features).astype(np.float64)
    (wrapper,) = kerasprune.prune_wrappers(pruned)
    mha = model.get_layer("mha")
    for sub in ("query", "key", "value"):
        kernel = np.asarray(getattr(mha, f"_{sub}_dense").kernel, np.float64)  # [8, 2, 4]
        view = LinearView(kernel.shape, (0,))
        expected, _ = sparsegpt(view.matrix(kernel), gram,
                                MaskChoice(Unstructured(), view, 0.5, None))
        index = wrapper.weight_names.index(f"{sub}/kernel")
        np.testing.assert_allclose(np.asarray(wrapper.pruned_weights[index]),
                                   view.kernel(expected), rtol=1e-4, atol=1e-5)
