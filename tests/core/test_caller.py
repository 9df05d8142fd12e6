"""user_stacklevel: a warning raised deep in kerasprune names the user's line."""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
import kerasprune.core.caller as caller
from kerasprune import Channels
from kerasprune.retrain import LLR


def test_a_warning_points_at_the_first_line_outside_kerasprune():
    assert caller.user_stacklevel() == 1  # called from here: this line is the user's
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        exec(compile("import warnings; warnings.warn('x', stacklevel=level())",
                     caller.__file__, "exec"), {"level": caller.user_stacklevel})
    assert record[0].filename == __file__  # the inner frame counts as kerasprune's


class _Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.out = keras.layers.Dense(4), keras.layers.Dense(2)

    def call(self, x):
        return self.out(self.hidden(x))


def _subclassed():
    model = _Subclassed()
    model(np.zeros((1, 1), "float32"))
    return model


def _dense(units, hidden=4, **prune):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(hidden, name="a"),
                              keras.layers.Dense(units, name="out")])
    return kerasprune.prune(model, **prune)


@pytest.mark.parametrize("make, sparsity, match", [
    (lambda: _dense(3, pattern=Channels("l1")), 0.5, "leaves these pruned layers whole"),
    (lambda: _dense(4, hidden=2, pattern=Channels(target="params", min_channels=0),
                    exclude=["out"]), 0.9, "removing every prunable channel group"),
    (lambda: kerasprune.prune(_subclassed(), pattern=Channels("l1")), 0.5,
     "has no graph of layers"),
])
def test_channel_pruning_warnings_name_the_users_line(make, sparsity, match):
    # (Not run under `make mutation`: there the first frame outside kerasprune is mutmut's.)
    model = make()
    with pytest.warns(UserWarning, match=match) as record:
        kerasprune.update_masks(model, sparsity)
    assert [w.filename for w in record if match in str(w.message)] == [__file__]


class _Gain(keras.layers.Layer):
    """A layer with a weight kerasprune does not know how to prune."""

    def build(self, shape):
        self.gain = self.add_weight(shape=(shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.gain


def _with_gain():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2)(_Gain()(keras.layers.Dense(4)(inputs))))


def _fit_stopped_early():
    model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    model.compile("sgd", "mse")
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=0)
    model.fit(np.ones((4, 4)), np.ones((4, 2)), epochs=1, callbacks=[callback], verbose=0)


def _emptied():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="small"),
                              keras.layers.Dense(2, name="large")])
    model.get_layer("small").kernel.assign(np.full((4, 4), 1e-3))
    kerasprune.update_masks(kerasprune.prune(model, scope="global", min_density=0.0), 0.7)


class _ScalarSteps(keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        return 0.1 if float(step) < 30_000 else 0.01  # Python control flow: one step at a time


def _sampled_schedule():
    LLR(_ScalarSteps(), retrain_steps=100, original_steps=50_000)


def _dense_tflite():
    from tflite_export import convert

    convert(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))


@pytest.mark.parametrize("call, match", [
    (lambda: kerasprune.prune(_with_gain()), "left dense because"),
    (_emptied, "fully pruned"),
    (lambda: kerasprune.shrink(_dense(2)), "shrink removed nothing"),
    (_fit_stopped_early, "fit stopped after epoch 1"),  # raised by a callback inside fit
    (_dense_tflite, "Sparsity was asked for"),
    (_sampled_schedule, "may be missed slightly"),
])
def test_warnings_name_the_users_line_whether_kerasprune_keras_or_the_converter_raise_them(
        call, match):
    with pytest.warns(UserWarning, match=match) as record:
        call()
    assert {w.filename for w in record if match in str(w.message)} == {__file__}
