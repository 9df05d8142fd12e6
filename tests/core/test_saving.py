"""A pruned model saves as .keras and resumes training with the same masks."""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
from tests.helpers import compile_classifier, masks_of, small_cnn


def test_keras_round_trip_restores_masks_and_resumes(tmp_path, digits):
    (x, y), (xt, _) = digits
    model = compile_classifier(kerasprune.prune(small_cnn(), scope="global", block_shape=(2, 1)))
    callback = kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=2)
    stop = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, l: setattr(model, "stop_training", e == 2))
    model.fit(x, y, epochs=4, batch_size=64, callbacks=[callback, stop], verbose=0)
    path = tmp_path / "pruned.keras"
    model.save(path)

    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(xt, verbose=0), model.predict(xt, verbose=0),
                               atol=1e-6)
    for a, b in zip(masks_of(model), masks_of(loaded)):
        np.testing.assert_array_equal(a, b)
    wrapper = kerasprune.prune_wrappers(loaded)[0]
    assert wrapper.scope == "global" and wrapper.pattern.block_shape == (2, 1)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)

    # Resume: the last epoch of fine-tuning, masks unchanged, pruned weights still zero.
    before = masks_of(loaded)
    history = loaded.fit(x, y, epochs=4, initial_epoch=3, batch_size=64,
                         callbacks=[kerasprune.PruningCallback(
                             0.8, stabilization_epochs=0, pruning_epochs=2, finetune_epochs=2)],
                         verbose=0)
    assert history.history["stage"] == [2]
    for mask, after in zip(before, masks_of(loaded)):
        np.testing.assert_array_equal(mask, after)
    for w in kerasprune.prune_wrappers(loaded):
        for v, m in zip(w.pruned_weights, w.masks):
            assert np.all(np.asarray(v)[np.asarray(m) == 0] == 0)


@keras.saving.register_keras_serializable(package="tests")
class HandPruned(keras.Model):
    """A subclassed model that uses PruneWrapper by hand in its own code."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = kerasprune.PruneWrapper(keras.layers.Dense(16, activation="relu"))
        self.out = kerasprune.PruneWrapper(keras.layers.Dense(3), sparsity_override=0.5)

    def call(self, x):
        return self.out(self.hidden(x))


def test_subclassed_model_with_wrappers_by_hand_round_trips(tmp_path):
    model = HandPruned()
    x = np.random.rand(32, 6).astype("float32")
    model(x)
    kerasprune.update_masks(model, 0.75)
    path = tmp_path / "hand.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    rows = kerasprune.sparsity_report(loaded).rows
    assert [round(r.sparsity, 2) for r in rows] == [0.75, 0.5]


@pytest.mark.parametrize("obj", [
    kerasprune.PolynomialDecay(0.1, 0.9, 10, 110, power=2, frequency=20),
    kerasprune.ConstantSparsity(0.5, 5, 50, 5),
    kerasprune.Blocks((4, 1)),
    kerasprune.Unstructured(),
    kerasprune.Unstructured("snip"),
])
def test_public_objects_serialize(obj):
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(clone) is type(obj) and clone.get_config() == obj.get_config()


def test_wrapper_config_round_trips():
    wrapper = kerasprune.PruneWrapper(keras.layers.Dense(4), scope="global", sparsity_scale=0.5,
                                      pattern=kerasprune.Blocks((4, 1)))
    clone = kerasprune.PruneWrapper.from_config(wrapper.get_config())
    assert (clone.scope, clone.sparsity_scale, clone.pattern.block_shape) == ("global", 0.5, (4, 1))
    assert clone.layer.units == 4


def test_stripped_model_saves_without_kerasprune(tmp_path, digits):
    pruned = kerasprune.prune(small_cnn())
    kerasprune.update_masks(pruned, 0.5)
    path = tmp_path / "plain.keras"
    kerasprune.strip(pruned).save(path)
    import zipfile
    with zipfile.ZipFile(path) as archive:
        assert b"kerasprune" not in archive.read("config.json")


def test_callback_resume_state_survives_a_keras_file(tmp_path, digits):
    (x, y), _ = digits
    model = kerasprune.prune(small_cnn(), scope="global")
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    imp = kerasprune.IMPCallback(0.75, cycles=2, epochs_per_cycle=1, dense_epochs=1,
                                 retrain_schedule="allr", original_learning_rate=0.05)
    model.fit(x[:256], y[:256], epochs=2, batch_size=64, callbacks=[imp], verbose=0)
    model.save(tmp_path / "half.keras")
    loaded = keras.saving.load_model(tmp_path / "half.keras")
    state = kerasprune.prune_wrappers(model)[0].pruning_state
    restored = kerasprune.prune_wrappers(loaded)[0].pruning_state
    assert restored.spec == state.spec and restored.read("cycles_done") == 1.0
    for name in state.spec:
        np.testing.assert_array_equal(restored.read(name), state.read(name))


def test_wrapper_config_holds_every_option():
    # `seed` decides which weights criterion="random" prunes: a restored wrapper keeps it.
    options = dict(weight_names=["kernel"], scope="erk", sparsity_override=0.3, min_density=0.2,
                   mask_dtype="uint8", penalty=1e-3, criterion="random", seed=7)
    pattern = kerasprune.Blocks((2, 1))
    wrappers = [
        (kerasprune.PruneWrapper(keras.layers.Dense(4), pattern=pattern, **options), options),
        (kerasprune.PruneWrapper(keras.layers.BatchNormalization(), follows="conv"),
         {"follows": "conv"}),
    ]
    for wrapper, given in wrappers:
        config = wrapper.get_config()
        assert {name: config[name] for name in given} == given
        restored = kerasprune.PruneWrapper.from_config(dict(config))  # Keras pops "layer"
        assert restored.get_config() == config
    restored = kerasprune.PruneWrapper.from_config(wrappers[0][0].get_config())
    assert repr(restored.pattern) == repr(pattern) == "Blocks((2, 1))"


def test_a_saved_penalty_still_acts_after_loading(tmp_path):
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]),
                             penalty=0.1)
    model.save(tmp_path / "penalized.keras")
    loaded = keras.saving.load_model(tmp_path / "penalized.keras")
    assert [w.penalized for w in kerasprune.prune_wrappers(loaded)] == [True]
    penalty = float(sum(model.losses))
    assert penalty > 0 and float(sum(loaded.losses)) == pytest.approx(penalty)


def test_weights_of_a_model_pruned_on_other_layers_are_refused_by_name(tmp_path):
    """Keras matches a `.weights.h5` file's layers by order and type: a wrapper that finds
    no masks at its place names itself and the likely cause (not "expected 2 variables")."""
    def model():
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="d1"),
                                 keras.layers.Dense(3, name="d2")])

    saved = kerasprune.prune(model(), layers=["d1"])
    saved.save_weights(tmp_path / "d1.weights.h5")
    same = kerasprune.prune(model(), layers=["d1"])
    same.load_weights(tmp_path / "d1.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(same.get_weights(), saved.get_weights()))
    with pytest.raises(ValueError, match=r"Layer 'd2' \(the pruning wrapper of 'd2'\) "
                                         r"finds 0 saved variables .* saved from a model "
                                         r"pruned on other layers"):
        kerasprune.prune(model()).load_weights(tmp_path / "d1.weights.h5")


def test_a_legacy_h5_file_keeps_masks_and_resume_state(tmp_path):
    """A legacy `.h5` saves the resume state's values among the first wrapper's weights:
    loading rebuilds that state, so the file loads with its predictions, masks and state."""
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 8), dtype=np.float32), rng.random((32, 1), dtype=np.float32)
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
                                               keras.layers.Dense(1)]))
    model.compile(keras.optimizers.SGD(0.01), keras.losses.MeanSquaredError())
    gmp = kerasprune.PruningCallback(0.7, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=1)
    with pytest.warns(UserWarning, match="fit stopped after epoch 1"):
        model.fit(x, y, batch_size=8, epochs=1, callbacks=[gmp], verbose=0)
    model.save(tmp_path / "mid.h5")
    loaded = keras.saving.load_model(tmp_path / "mid.h5")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    for mine, theirs in zip(masks_of(model), masks_of(loaded)):
        np.testing.assert_array_equal(mine, theirs)
    state = kerasprune.prune_wrappers(loaded)[0].pruning_state
    assert float(state.read("epochs_done")) == 1.0
    assert state.owner == kerasprune.prune_wrappers(model)[0].pruning_state.owner


FRESH_LOAD = """
import importlib, json, pkgutil, sys
import warnings

import keras

def registered():
    return {name for name in keras.saving.get_custom_objects()
            if name.split(">")[0].split(".")[0] == "kerasprune"}

paths, found = sys.argv[1:], {}
try:
    keras.saving.load_model(paths[0])
except Exception as error:  # Keras' own error: no library can step in before it
    found["without"] = str(error)[:300]
import kerasprune
found["loaded"] = [len(keras.saving.load_model(path).layers) for path in paths]
first = registered()
for module in pkgutil.walk_packages(kerasprune.__path__, "kerasprune."):
    if ".cli" not in module.name and not module.name.endswith("__main__"):
        importlib.import_module(module.name)
found["registered"], found["missing"] = len(first), sorted(registered() - first)
print(json.dumps(found))
"""


def test_import_kerasprune_is_all_loading_its_files_needs_in_a_new_process(tmp_path):
    """As the README's saving paragraph says: a new process loads a pruned file only after
    `import kerasprune`, and that import registers every class kerasprune saves."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kerasprune.quantization import quantize_model

    mlp = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), keras.layers.Dense(2)])
    pruned = kerasprune.prune(mlp)
    kerasprune.update_masks(pruned, 0.5)
    paths = [str(tmp_path / "pruned.keras"), str(tmp_path / "qat.keras")]
    pruned.save(paths[0])
    quantize_model(pruned).save(paths[1])
    root = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(
        [sys.executable, "-c", FRESH_LOAD, *paths], cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.splitlines()[-1])
    assert "could not be deserialized" in found.get("without", ""), found
    assert found["loaded"] == [len(pruned.layers), len(mlp.layers)]
    assert found["missing"] == [] and found["registered"] > 20


def _adapted_normalization_model():
    x = np.random.default_rng(0).normal(50, 10, (32, 4)).astype("float32")
    norm = keras.layers.Normalization()
    norm.adapt(x)
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(norm(inputs))), x


def _adapted_lookup_model():
    texts = np.array(["a b c", "b c d", "e f a", "a a d"], dtype=object)
    vectorize = keras.layers.TextVectorization(max_tokens=10, output_sequence_length=4)
    vectorize.adapt(texts)
    inputs = keras.Input((), dtype="string")
    embedded = keras.layers.Embedding(10, 4)(vectorize(inputs))
    outputs = keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling1D()(embedded))
    return keras.Model(inputs, outputs), texts


@pytest.mark.parametrize("build", [_adapted_normalization_model, _adapted_lookup_model])
def test_adapted_preprocessing_state_is_copied_by_prune_and_saved(tmp_path, build):
    model, x = build()
    pruned = kerasprune.prune(model, layers=["out"])
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0))
    pruned.compile("sgd", "mse")
    pruned.fit(x, np.ones((len(x), 2)), epochs=1, verbose=0,
               callbacks=[kerasprune.PruningCallback(0.5, stabilization_epochs=0,
                                                     pruning_epochs=1, finetune_epochs=0)])
    pruned.save(tmp_path / "pruned.keras")
    loaded = keras.saving.load_model(tmp_path / "pruned.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), pruned.predict(x, verbose=0),
                               atol=1e-6)


def test_a_subclassed_model_with_wrappers_by_hand_resumes_from_its_file(tmp_path):
    model = HandPruned()
    x, y = np.random.rand(32, 6).astype("float32"), np.random.rand(32, 3).astype("float32")
    model(x)
    model.compile("sgd", "mse")

    def callback():
        return kerasprune.PruningCallback(0.6, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1)

    model.fit(x, y, epochs=2, callbacks=[callback()], verbose=0)
    model.save(tmp_path / "hand.keras")
    loaded = keras.saving.load_model(tmp_path / "hand.keras")
    state = kerasprune.prune_wrappers(loaded)[0].pruning_state
    assert float(state.read("epochs_done")) == 2
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*resume state.*")
        loaded.fit(x, y, epochs=3, initial_epoch=2, callbacks=[callback()], verbose=0)
