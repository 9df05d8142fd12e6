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


def compile_classifier(model, optimizer=None):
    model.compile(
        optimizer or keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def weights_snapshot(model) -> list[np.ndarray]:
    return [np.array(w) for w in model.weights]
