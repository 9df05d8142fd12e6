"""Every model family `prune` accepts resumes from a `.keras` checkpoint exactly.

For each: IMP with ALLR for two epochs, a `ModelCheckpoint` after the first;
`keras.saving.load_model` gives back the predictions, weights, masks, optimizer state and
pruning state, and the loaded model's second epoch ends where the uninterrupted run ended
(`tests.helpers.assert_resumes_from_keras_file`). KerasHub models: tests/test_kerashub.py.
"""

import keras
import numpy as np
import pytest

import kerasprune
from tests.helpers import assert_resumes_from_keras_file, small_cnn


@keras.saving.register_keras_serializable(package="tests")
class Tower(keras.Model):
    """Subclassed, with layers in attributes and in a list, and a config."""

    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.encoder = keras.layers.Dense(units, activation="relu")
        self.heads = [keras.layers.Dense(6), keras.layers.Dense(2)]

    def call(self, x):
        x = self.encoder(x)
        for head in self.heads:
            x = head(x)
        return x

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="tests")
class NoArguments(keras.Model):
    """Subclassed in the most common form: `__init__(self)`, no `**kwargs`."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(2)

    def call(self, x):
        return self.out(self.hidden(x))


@keras.saving.register_keras_serializable(package="tests")
class Sequencer(keras.Model):
    """Subclassed, with recurrent and attention layers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lstm = keras.layers.LSTM(6, return_sequences=True)
        self.attention = keras.layers.MultiHeadAttention(2, 3)
        self.gru = keras.layers.Bidirectional(keras.layers.GRU(3))
        self.out = keras.layers.Dense(2)

    def call(self, x):
        h = self.lstm(x)
        return self.out(self.gru(self.attention(h, h)))


class Unregistered(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def _data(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(32,) + shape).astype("float32"), rng.normal(size=(32, 2)).astype(
        "float32")


def _built(model, shape):
    model(np.zeros((1,) + shape, "float32"))
    return model


def _nested_functional_with_shared_layer():
    inner_in = keras.Input((6,))
    inner = keras.Model(inner_in, keras.layers.Dense(6, name="inner_dense")(inner_in))
    inputs = keras.Input((6,))
    shared = keras.layers.Dense(6, activation="tanh", name="shared")
    outputs = keras.layers.Dense(2, name="out")(inner(shared(shared(inputs))))
    return keras.Model(inputs, outputs)


def _recurrent_functional():
    inputs = keras.Input((5, 4))
    h = keras.layers.LSTM(6, return_sequences=True)(inputs)
    h = keras.layers.MultiHeadAttention(2, 3)(h, h)
    h = keras.layers.TimeDistributed(keras.layers.Dense(4))(h)
    h = keras.layers.Bidirectional(keras.layers.GRU(3))(h)
    h = keras.layers.SimpleRNN(2)(keras.layers.Reshape((6, 1))(h))
    return keras.Model(inputs, h)


def _subclassed_inside_functional():
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(2, name="top")(_built(Tower(), (6,))(inputs)))


FAMILIES = {
    "sequential": (lambda: small_cnn(classes=2), (7, 7, 1)),
    "functional_nested_shared": (_nested_functional_with_shared_layer, (6,)),
    "recurrent_attention": (_recurrent_functional, (5, 4)),
    "subclassed": (lambda: _built(Tower(), (6,)), (6,)),
    "subclassed_without_kwargs": (lambda: _built(NoArguments(), (6,)), (6,)),
    "subclassed_recurrent_attention": (lambda: _built(Sequencer(), (5, 4)), (5, 4)),
    "subclassed_inside_functional": (_subclassed_inside_functional, (6,)),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_pruned_model_resumes_from_its_keras_checkpoint(family, tmp_path):
    build, shape = FAMILIES[family]
    model = build()
    pruned = kerasprune.prune(model, scope="global")
    units = [u for u in kerasprune.core.model_walk.model_units(model)
             if kerasprune.core.registry.prunable_weight_names(u)]
    assert len(kerasprune.prune_wrappers(pruned)) == len(units)  # every prunable layer
    x, y = _data(shape)
    # Recurrent layers trace slowly: their two fits run eagerly (same train step).
    loaded = assert_resumes_from_keras_file(pruned, x, y, tmp_path,
                                            run_eagerly="recurrent" in family)
    assert kerasprune.sparsity_report(loaded).total == pytest.approx(0.75, abs=0.01)


def test_a_keras_applications_model_resumes_from_its_keras_checkpoint(tmp_path):
    # No dropout: Keras does not save a Dropout layer's random state, so a resumed run
    # would draw other dropout masks than the uninterrupted one.
    model = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None,
                                         classes=2, classifier_activation=None, dropout=0.0)
    x, y = _data((32, 32, 3))
    assert_resumes_from_keras_file(kerasprune.prune(model, scope="global"), x, y, tmp_path,
                                   run_eagerly=True)


def test_a_subclassed_model_saved_without_registration_loads_with_custom_objects(tmp_path):
    pruned = kerasprune.prune(_built(Unregistered(), (6,)))
    kerasprune.update_masks(pruned, 0.5)
    pruned.save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match="Could not locate class 'Unregistered'.*register"):
        keras.saving.load_model(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras",
                                     custom_objects={"Unregistered": Unregistered})
    x = np.ones((3, 6), "float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(pruned(x)))
    assert kerasprune.sparsity_report(loaded).total == 0.5


def test_a_pruned_subclassed_model_keeps_its_class_and_strips_back_to_it(tmp_path):
    model = _built(Tower(name="tower"), (6,))
    pruned = kerasprune.prune(model)
    assert isinstance(pruned, Tower) and type(pruned).__name__ == "Tower"
    plain = kerasprune.strip(pruned)
    assert type(plain) is Tower
    plain.save(tmp_path / "plain.keras")
    import zipfile
    with zipfile.ZipFile(tmp_path / "plain.keras") as archive:
        assert b"kerasprune" not in archive.read("config.json")
    assert type(keras.saving.load_model(tmp_path / "plain.keras")) is Tower


@keras.saving.register_keras_serializable(package="tests")
class ConfigFailsLater(keras.Model):
    """Its config cannot be written once `broken` is set (e.g. state the user changed)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)
        self.broken = False

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        if self.broken:
            raise ValueError("this config cannot be written now")
        return super().get_config()


def test_a_failing_save_leaves_the_previous_checkpoint_whole(tmp_path):
    """Keras opens (and empties) the file before it serializes the model: a pruned
    subclassed model serializes first, so the last good checkpoint survives."""
    pruned = kerasprune.prune(_built(ConfigFailsLater(), (6,)))
    path = tmp_path / "ckpt.keras"
    pruned.save(path)
    size = path.stat().st_size
    pruned.broken = True
    with pytest.raises(ValueError, match="cannot be written now"):
        pruned.save(path)
    assert path.stat().st_size == size
    assert kerasprune.prune_wrappers(keras.saving.load_model(path))
