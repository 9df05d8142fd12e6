import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST test set shipped beside the repository (../shared/data/mnist)."""
    assert (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(), f"missing {MNIST_DIR}"
    return MNIST_DIR


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's real 8x8 digits, split train/test."""
    from kerasprune.datasets import load_digits

    return load_digits()


def small_cnn(input_shape=(8, 8, 1), classes=10) -> keras.Model:
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
