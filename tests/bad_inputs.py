"""What the bad-input tables (`test_bad_inputs_api.py`, `test_bad_inputs_export.py`) share.

Each row of their `CASES` tables is a call a hostile (or hurried) user could make. It
must raise the error given, with a message matching the pattern (which names the argument
or the layer and what is allowed), or give the documented warning; and every model
involved must be bit-for-bit what it was before (weights, masks, optimizer step), every
input file unchanged and no output file written. `check_refused` checks one row.
"""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
import tflite_export
from kerasprune import Channels, PruneWrapper, PruningCallback
from kerasprune.cli import main
from kerasprune.quantization import quantize_model
from kerasprune.recipe import Recipe

X = np.random.default_rng(0).random((16, 8), dtype=np.float32)
Y = np.arange(16) % 3
GMP = dict(stabilization_epochs=0, pruning_epochs=1, finetune_epochs=0)
IMP = dict(original_learning_rate=0.1, original_epochs=3)


class CommandFailed(Exception):
    """The CLI exited with a non-zero status; the message is what it printed."""


class Det(keras.layers.Layer):
    """A layer TFLite has no built-in kernel for (a matrix determinant)."""

    def call(self, x):
        return tf.linalg.det(tf.reshape(x, (-1, 2, 2)))[:, None] + x[:, :4]


class Tiny(keras.Model):
    """A subclassed model (shrink cannot rebuild those) holding a wrapper by hand."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = PruneWrapper(keras.layers.Dense(3))

    def call(self, x):
        return self.dense(x)


def plain():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, name="d1"),
                             keras.layers.Dropout(0.1, name="drop"),
                             keras.layers.Dense(3, name="d2")], name="plain")


def compiled(model, learning_rate=0.1):
    model.compile(keras.optimizers.SGD(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class Gain(keras.layers.Layer):
    """A custom layer with a weight and no pruning declaration (no get_prunable_weights)."""

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.gain


def gain_model():
    inputs = keras.Input((8,))
    x = Gain(name="gain")(keras.layers.Dense(8, name="d1")(inputs))
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x))


@pytest.fixture(scope="session")
def ctx(tmp_path_factory):
    """Every model and file the cases use, built once."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    c = {"plain": plain(), "unbuilt": keras.Sequential([keras.layers.Dense(3)]),
         "pruned": compiled(kerasprune.prune(plain())),
         "scheduled": compiled(kerasprune.prune(plain()),
                               keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)),
         "doubled": compiled(kerasprune.prune(plain(), sparsity_overrides={"d1": "2x"})),
         "nan": compiled(kerasprune.prune(plain())),
         "taylor": compiled(kerasprune.prune(plain(), pattern=Channels("taylor"))),
         "unstructured": kerasprune.one_shot_prune(plain(), 0.5),
         "gain": gain_model(),
         "tiny": Tiny(), "folder": folder,
         "qat": quantize_model(kerasprune.prune(plain()))}
    kernel = kerasprune.prune_wrappers(c["nan"])[0].layer.kernel
    kernel.assign(np.where(np.eye(8, 6) > 0, np.nan, np.asarray(kernel)))
    inputs = keras.Input((8,))
    c["gain_alone"] = keras.Model(inputs, Gain(name="gain")(inputs))
    inputs = keras.Input((8,))
    c["det"] = keras.Model(inputs, Det(name="det")(inputs))
    normalized = PruneWrapper(keras.layers.BatchNormalization(name="bn"), follows="missing")(
        PruneWrapper(keras.layers.Dense(4, name="dd"))(inputs))
    c["follower"] = keras.Model(inputs, normalized)
    c["tiny"](X[:2, :4])
    c["content"] = tflite_export.convert(c["plain"], sparse=False)
    files = {"ok.keras": None, "bad.keras": b"not a zip " * 50, "model.tflite": c["content"],
             "not.tflite": b"\0" * 64}
    for name, content in files.items():
        if content is None:
            c["plain"].save(folder / name)
        else:
            (folder / name).write_bytes(content)
    for name, x in {"rep.npy": X, "rep_nan.npy": np.full_like(X, np.nan),
                    "rep_wide.npy": X[:, :5]}.items():
        np.save(folder / name, x)
    np.savez(folder / "data.npz", x=X, y=Y)
    Recipe.from_callback(PruningCallback(0.5, **GMP)).save(folder / "recipe.yaml")
    (folder / "bad_recipe.yaml").write_text(
        "method: gmp\ncallback: {target_sparsity: 1.0, stabilization_epochs: 0, "
        "pruning_epochs: 1, finetune_epochs: 0}\n")
    np.savez(folder / "wide.npz", x=np.ones((16, 12), np.float32), y=Y)
    np.savez(folder / "onehot.npz", x=X, y=np.eye(3)[Y])
    np.savez(folder / "no_x.npz", inputs=X)
    np.savez(folder / "labels.npz", x=X, y=Y + 3)  # beyond the model's 3 outputs
    np.savez(folder / "nan.npz", x=np.full_like(X, np.nan), y=Y)
    return c


def cli(c, *argv):
    """Run the CLI with `{name}` replaced by files of the fixture folder."""
    args = [a.format(**{p.name.replace(".", "_"): str(p) for p in c["folder"].iterdir()},
                     missing=str(c["folder"] / "missing.keras"),
                     out=str(c["folder"] / "out.tflite"),
                     no_folder=str(c["folder"] / "no_such_folder" / "out.tflite"))
            for a in argv]
    try:
        code = main(args)
    except SystemExit as exit:  # argparse refuses unknown choices and missing arguments
        code = exit.code
    if code:
        raise CommandFailed(f"exit {code}")
    return code


def fit(model, callback, **kwargs):
    return model.fit(X, Y, epochs=1, batch_size=8, verbose=0, callbacks=[callback], **kwargs)


def fit_generator(model):
    def batches():
        while True:
            yield X[:8], Y[:8]
    return model.fit(batches(), epochs=1, verbose=0, callbacks=[PruningCallback(0.5, **GMP)])


def state(c) -> dict:
    """Every weight of every model (by path), optimizer steps, and every file's bytes."""
    snapshot = {}
    for key, model in c.items():
        if isinstance(model, keras.Model) and model.built:
            snapshot.update({f"{key}:{v.path}": np.array(v) for v in model.weights})
            if getattr(model, "optimizer", None) is not None:
                snapshot[f"{key}:step"] = int(model.optimizer.iterations)
    snapshot.update({f"file:{p.name}": p.read_bytes() for p in c["folder"].iterdir()})
    return snapshot


def check_refused(ctx, capsys, call, expected, message) -> None:
    """`call(ctx)` raises `expected` (or warns it) matching `message`; nothing changes."""
    output = ctx["folder"] / "out.tflite"
    output.unlink(missing_ok=True)  # written by an earlier case that failed: not this one's
    before = state(ctx)
    if issubclass(expected, Warning):
        with pytest.warns(expected, match=message):
            call(ctx)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(expected) as caught:
                call(ctx)
        text = str(caught.value)
        if expected is CommandFailed:
            text += capsys.readouterr().err  # the CLI prints its error to stderr
        assert re.search(message, text, flags=re.DOTALL), f"{text!r} does not match {message!r}"
    after = state(ctx)
    # A callback may swap the model's resume state for its own (zeros, a run not started:
    # a started one is refused); nothing else that existed changes.
    assert [k for k in after if k not in before and "pruning_state" not in k] == []
    for key, value in before.items():
        if "pruning_state" in key and key not in after:
            assert not np.any(value), f"{key} held a started run and was dropped"
            continue
        assert np.array_equal(value, after[key], equal_nan=isinstance(value, np.ndarray) and
                              value.dtype.kind == "f"), f"{key} changed"
    assert not output.exists(), "an output file was written"
