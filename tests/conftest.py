import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def digits():
    """Real MNIST digits shipped with the repository, pooled to 7x7, split 2,400 / 600."""
    from examples.datasets import load_embedded_mnist

    return load_embedded_mnist(pool=4)


@pytest.fixture(scope="session")
def mnist():
    """The same real digits at full 28x28 resolution."""
    from examples.datasets import load_embedded_mnist

    return load_embedded_mnist()
