"""Weight criteria: `prune(model, criterion=...)`, each score checked against its closed form."""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.criterion_data import CriterionData, input_norms, needed_data
from kerasprune.core.weight_criteria import saliency

RNG = np.random.default_rng(0)


def dense_model(kernel: np.ndarray) -> keras.Model:
    model = keras.Sequential([keras.Input((kernel.shape[0],)),
                              keras.layers.Dense(kernel.shape[1], use_bias=False, name="d")])
    model.get_layer("d").kernel.assign(kernel)
    return model


def mask_of(model) -> np.ndarray:
    return np.asarray(kerasprune.prune_wrappers(model)[0].masks[0])


def test_wanda_keeps_small_weights_on_loud_inputs_and_prunes_large_ones_on_quiet_inputs():
    # Feature 0 is loud (norm 10), feature 1 quiet (norm 0.1): |w| * ||x_j|| decides.
    kernel = np.array([[0.5, -0.4], [3.0, 2.0]], "float32")
    x = np.array([[10.0, 0.1], [0.0, 0.0]], "float32")
    wanda = kerasprune.one_shot_prune(dense_model(kernel), 0.5, criterion="wanda", data=(x,))
    magnitude = kerasprune.one_shot_prune(dense_model(kernel), 0.5)
    assert mask_of(wanda).tolist() == [[1, 1], [0, 0]]
    assert mask_of(magnitude).tolist() == [[0, 0], [1, 1]]


def test_wanda_on_a_convolution_uses_the_norms_of_the_unfolded_input():
    conv = keras.layers.Conv2D(2, 2, padding="same", use_bias=False, name="c")
    model = keras.Sequential([keras.Input((4, 4, 3)), conv])
    x = RNG.normal(size=(5, 4, 4, 3)).astype("float32")
    pruned = kerasprune.prune(model, criterion="wanda")
    kernel = kerasprune.prune_wrappers(pruned)[0].layer.kernel
    norms = input_norms(pruned, x)[kernel.path]
    # Brute force: for kernel entry (a, b, c), the squared input at every output position
    # shifted by (a, b), with the zero padding "same" adds after the last row and column.
    padded = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)])
    expected = np.zeros((2, 2, 3, 1))
    for a in range(2):
        for b in range(2):
            expected[a, b, :, 0] = np.square(padded[:, a:a + 4, b:b + 4, :]).sum(axis=(0, 1, 2))
    np.testing.assert_allclose(norms, expected, rtol=1e-5)
    kerasprune.update_masks(pruned, 0.5, input_norms={kernel.path: norms})
    score = np.abs(np.asarray(conv.kernel)) * np.sqrt(expected)  # before pruning
    mask = mask_of(pruned) == 1
    assert score[mask].min() >= score[~mask].max()


def test_obd_scores_by_the_layer_wise_diagonal_hessian():
    kernel = RNG.normal(size=(6, 3)).astype("float32")
    x = RNG.normal(size=(40, 6)).astype("float32") * np.array([1, 5, 0.2, 1, 3, 0.5], "float32")
    pruned = kerasprune.one_shot_prune(dense_model(kernel), 0.5, criterion="obd", data=(x,),
                                       block_shape=(2, 1))
    # OBD: w^2 H_jj / 2 with H = 2 X^T X; blocks of 2 inputs pool it by their mean.
    score = np.square(kernel) * np.sum(np.square(x), axis=0)[:, None]
    blocks = score.reshape(3, 2, 3).mean(axis=1)
    kept = mask_of(pruned).reshape(3, 2, 3)[:, 0, :] == 1
    assert kept.sum() == 4 or kept.sum() == 5  # 9 blocks of 2: 4.5 blocks pruned
    assert blocks[kept].min() >= blocks[~kept].max()


def test_every_weight_pattern_pools_the_criterion():
    kernel = RNG.normal(size=(8, 4)).astype("float32")
    x = RNG.normal(size=(32, 8)).astype("float32") * np.linspace(0.1, 4, 8).astype("float32")
    score = np.abs(kernel) * np.sqrt(np.square(x).sum(axis=0))[:, None]
    nm = kerasprune.one_shot_prune(dense_model(kernel), 0.5, criterion="wanda", data=(x,),
                                   pattern=kerasprune.NM(2, 4))
    mask = mask_of(nm).reshape(2, 4, 4)  # runs of 4 inputs per output
    assert np.all(mask.sum(axis=1) == 2)
    runs = score.reshape(2, 4, 4)
    assert np.all(np.where(mask == 1, runs, np.inf).min(axis=1)
                  >= np.where(mask == 0, runs, -np.inf).max(axis=1))


def test_snip_and_obd_and_wanda_declare_the_data_they_need():
    model = dense_model(np.ones((2, 2), "float32"))
    assert needed_data(kerasprune.prune(model)) == []
    assert needed_data(kerasprune.prune(model, criterion="snip")) == ["gradients"]
    assert needed_data(kerasprune.prune(model, criterion="obd")) == ["input_norms"]
    assert needed_data(kerasprune.prune(model, criterion="wanda")) == ["input_norms"]
    assert needed_data(kerasprune.prune(model, criterion="sparsegpt")) == ["calibration"]
    data = CriterionData(np.ones((4, 2)))
    assert sorted(data.for_update(kerasprune.prune(model, criterion="wanda"))) == ["input_norms"]
    assert data.for_update(kerasprune.prune(model, criterion="sparsegpt")) == {}


def test_gmp_scores_with_the_criterion_and_the_callbacks_data():
    (x, y) = RNG.normal(size=(64, 8)).astype("float32"), RNG.normal(size=(64, 4))
    x[:, :4] *= 20.0  # loud inputs: Wanda keeps their weights
    model = kerasprune.prune(dense_model(RNG.normal(size=(8, 4)).astype("float32")),
                             criterion="wanda")
    model.compile("sgd", "mse")
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0, data=CriterionData(x[:32]))
    model.fit(x, y, epochs=gmp.total_epochs, callbacks=[gmp], verbose=0)
    mask = mask_of(model)
    assert mask.mean() == 0.5 and mask[:4].mean() > mask[4:].mean()
    with pytest.raises(ValueError, match="needs input_norms on data"):
        unfed = kerasprune.prune(dense_model(np.ones((8, 4), "float32")), criterion="wanda")
        unfed.compile("sgd", "mse")
        unfed.fit(x, y, callbacks=[kerasprune.PruningCallback(0.5, stabilization_epochs=0,
                                                              pruning_epochs=1,
                                                              finetune_epochs=0)], verbose=0)


def test_the_criterion_is_saved_with_the_wrapper(tmp_path):
    model = kerasprune.prune(dense_model(np.ones((4, 2), "float32")), criterion="wanda",
                             pattern=kerasprune.NM(2, 4))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert kerasprune.prune_wrappers(loaded)[0].criterion == "wanda"


def test_bad_criteria_are_refused_before_anything_is_built():
    model = dense_model(np.ones((4, 2), "float32"))
    with pytest.raises(ValueError, match=r"`criterion` must be one of .*Received: criterion="):
        kerasprune.prune(model, criterion="grasp2")
    with pytest.raises(ValueError, match="Channels.*own criterion"):
        kerasprune.prune(model, criterion="wanda", pattern=kerasprune.Channels())
    with pytest.raises(ValueError, match="give `criterion='snip'`"):
        kerasprune.prune(model, criterion="wanda", pattern=kerasprune.Unstructured("snip"))
    embedding = keras.Sequential([keras.Input((3,), dtype="int32"),
                                  keras.layers.Embedding(10, 4, name="emb")])
    with pytest.raises(ValueError, match=r"'emb/embeddings'.*exclude=\['emb'\]"):
        kerasprune.one_shot_prune(embedding, 0.5, criterion="wanda",
                                  data=(np.zeros((4, 3), "int32"),))


def test_unstructured_snip_is_deprecated_and_still_scores_by_snip():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pattern = kerasprune.Unstructured("snip")
    assert any(issubclass(w.category, DeprecationWarning) and "criterion='snip'" in str(w.message)
               for w in caught)
    model = kerasprune.prune(dense_model(np.array([[1.0, 2.0], [3.0, 4.0]], "float32")),
                             pattern=pattern)
    wrapper = kerasprune.prune_wrappers(model)[0]
    assert wrapper.criterion == "snip"
    gradients = {wrapper.layer.kernel.path: [np.array([[4.0, 1.0], [0.1, 1.0]])]}
    kerasprune.update_masks(model, 0.5, gradients=gradients)
    assert mask_of(model).tolist() == [[1.0, 0.0], [0.0, 1.0]]  # |w * g| = [[4, 2], [.3, 4]]


def test_saliency_refuses_missing_data_with_the_fix():
    with pytest.raises(ValueError, match=r"CriterionData\(x\)"):
        saliency("wanda", np.ones((2, 2)))
    with pytest.raises(ValueError, match="loss gradients"):
        saliency("snip", np.ones((2, 2)), gradients=[np.ones((3, 2))])
