"""Datasets for the examples and benchmarks: embedded digits, MNIST from IDX files or Keras.

Every loader returns `((x_train, y_train), (x_test, y_test))` with float32 images in
[0, 1] of shape (n, height, width, 1) and int64 labels.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzipped), the format MNIST is distributed in.

    Example:

    >>> images = read_idx("../shared/data/mnist/t10k-images-idx3-ubyte.gz")
    >>> images.shape
    (10000, 28, 28)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4]!r}).")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    values = np.frombuffer(data, dtype=_IDX_DTYPES[data[2]], offset=4 + 4 * ndim)
    if values.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(shape))} values.")
    return values.reshape(shape)


def _images(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.float32) / 255.0)[..., None]


def _find(directory: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"No {stem}[.gz] in {directory}")


def load_mnist_idx(directory: str | os.PathLike) -> Split:
    """MNIST from a folder of IDX files (`train-*` and/or `t10k-*`, gzipped or not).

    When the folder holds only the test set (as `../shared/data/mnist` does), the first
    8,000 test images become the training split and the last 2,000 the test split.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_mnist_idx("../shared/data/mnist")
    >>> len(x_train), len(x_test)
    (8000, 2000)
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"`directory` is not a folder: {directory}")
    x_test = _images(read_idx(_find(directory, "t10k-images-idx3-ubyte")))
    y_test = read_idx(_find(directory, "t10k-labels-idx1-ubyte")).astype(np.int64)
    try:
        x_train = _images(read_idx(_find(directory, "train-images-idx3-ubyte")))
        y_train = read_idx(_find(directory, "train-labels-idx1-ubyte")).astype(np.int64)
    except FileNotFoundError:
        return split_arrays(x_test, y_test, n_train=8000)
    return (x_train, y_train), (x_test, y_test)


def split_arrays(x: np.ndarray, y: np.ndarray, n_train: int) -> Split:
    """First `n_train` samples for training, the rest for testing."""
    if not 0 < n_train < len(x):
        raise ValueError(f"`n_train` must be in (0, {len(x)}). Received: n_train={n_train}")
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def split_mnist_test(directory: str | os.PathLike = "../shared/data/mnist", n_train: int = 8000) -> Split:
    """The benchmarks' split of the MNIST test set: 8,000 train / 2,000 test images."""
    directory = Path(directory)
    x = _images(read_idx(_find(directory, "t10k-images-idx3-ubyte")))
    y = read_idx(_find(directory, "t10k-labels-idx1-ubyte")).astype(np.int64)
    return split_arrays(x, y, n_train)


def load_mnist(data_dir: str | os.PathLike | None = None) -> Split:
    """MNIST from `data_dir` (IDX files) when given, else `keras.datasets.mnist` (downloads).

    Example:

    (x_train, y_train), (x_test, y_test) = load_mnist()
    """
    if data_dir is not None:
        return load_mnist_idx(data_dir)
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return (_images(x_train), y_train.astype(np.int64)), (_images(x_test), y_test.astype(np.int64))


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Split:
    """scikit-learn's 1,797 real 8x8 handwritten digits, shipped inside the package.

    Pixel values 0..16 are scaled to [0, 1]; the split is stratified by a fixed seed.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape[1:]
    (8, 8, 1)
    """
    from sklearn.datasets import load_digits as sklearn_digits

    if not 0 < test_fraction < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1). Received: {test_fraction}")
    digits = sklearn_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])
