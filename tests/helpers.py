"""Small models and utilities shared by the tests."""

from __future__ import annotations

import keras
import numpy as np


def small_cnn(input_shape=(7, 7, 1), classes=10) -> keras.Model:
    """Conv8-Flatten-Dense32-Dense(classes): trains on 7x7 digits in a second."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(classes, name="logits"),
        ]
    )


class SubclassedDense(keras.Model):
    """One Dense layer in a subclassed model: no graph of layers to follow."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def subclassed_dense(name: str) -> SubclassedDense:
    """A built `SubclassedDense` called `name` (3 input features)."""
    model = SubclassedDense(name=name)
    model(np.zeros((1, 3)))
    return model


def pruning_ready(lr: float = 0.1, scope: str = "global") -> keras.Model:
    """`small_cnn()` wrapped by `kerasprune.prune(scope=scope)`, compiled with SGD(lr, 0.9)."""
    import kerasprune

    return compile_classifier(kerasprune.prune(small_cnn(), scope=scope),
                              keras.optimizers.SGD(lr, momentum=0.9))


def masks_of(model) -> list[np.ndarray]:
    """Copies of every mask of a pruning-ready model, wrapper by wrapper."""
    import kerasprune

    return [np.array(m) for w in kerasprune.prune_wrappers(model) for m in w.masks]


def first_masks(model) -> dict[str, np.ndarray]:
    """`{layer name: its first mask}` of every wrapper of a pruning-ready model."""
    import kerasprune

    return {w.layer.name: np.array(w.masks[0]) for w in kerasprune.prune_wrappers(model)}


def compile_classifier(model, optimizer=None):
    model.compile(
        optimizer or keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def weights_snapshot(model) -> list[np.ndarray]:
    return [np.array(w) for w in model.weights]


def read_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files of `folder`: `{tag: [(step, value)]}`."""
    from pathlib import Path

    import tensorflow as tf

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(folder).glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor) if value.HasField("tensor") else None
                if array is not None and (array.ndim or array.dtype.kind != "f"):
                    continue  # not a scalar (e.g. the model's config Keras writes)
                number = float(array) if array is not None else float(value.simple_value)
                scalars.setdefault(value.tag, []).append((int(event.step), number))
    return scalars
