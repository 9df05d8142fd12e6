"""Data for the examples, benchmarks and tests: real MNIST digits, embedded or from files.

Every loader returns `((x_train, y_train), (x_test, y_test))` with float32 images in
[0, 1] of shape (n, height, width, 1) and int64 labels:

- `load_embedded_mnist()`: 3,000 real MNIST digits shipped in `examples/data` (no
  download), the default of `make demo` and the digits the tests train on;
- `load_mnist_idx(folder)`: MNIST from IDX files (e.g. the full test set);
- `load_mnist()`: the full MNIST through `keras.datasets` (downloads).

`load_docstring_topics()` is the text data of the KerasHub example: real English sentences
that ship with every Python, labelled by topic.
"""

from __future__ import annotations

import gzip
import importlib
import inspect
import os
from pathlib import Path

import numpy as np

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

EMBEDDED_MNIST = Path(__file__).resolve().parent / "data" / "mnist_3k.npz"

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzipped), the format MNIST is distributed in.

    Example:

    images = read_idx("mnist/t10k-images-idx3-ubyte.gz")
    images.shape  # (10000, 28, 28)
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

    When the folder holds only the test set, its first 80% become the training split and
    the rest the test split (8,000 / 2,000 of MNIST's 10,000 test images).

    Example:

    (x_train, y_train), (x_test, y_test) = load_mnist_idx("mnist")
    len(x_train), len(x_test)  # (8000, 2000) from the 10,000-image test set alone
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
        return split_arrays(x_test, y_test, n_train=len(x_test) * 4 // 5)
    return (x_train, y_train), (x_test, y_test)


def split_arrays(x: np.ndarray, y: np.ndarray, n_train: int) -> Split:
    """First `n_train` samples for training, the rest for testing."""
    if not 0 < n_train < len(x):
        raise ValueError(f"`n_train` must be in (0, {len(x)}). Received: n_train={n_train}")
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


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


def load_embedded_mnist(n_train: int = 2400, pool: int = 1) -> Split:
    """The 3,000 real MNIST digits shipped in `examples/data`, split train/test.

    Args:
        n_train: images for training (the first ones); the rest are the test split.
        pool: average-pool the images by this factor (4 gives 7x7 digits, enough for
            the fast test suite).

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_embedded_mnist()
    >>> x_train.shape, x_test.shape
    ((2400, 28, 28, 1), (600, 28, 28, 1))
    >>> load_embedded_mnist(pool=4)[0][0].shape[1:]
    (7, 7, 1)
    """
    with np.load(EMBEDDED_MNIST) as data:
        x, y = _images(data["x"]), data["y"].astype(np.int64)
    if pool > 1:
        n, h, w, c = x.shape
        x = x[:, : h - h % pool, : w - w % pool]
        x = x.reshape(n, h // pool, pool, w // pool, pool, c).mean(axis=(2, 4))
    return split_arrays(x, y, n_train)


# Modules whose docstrings talk about numbers (label 0) or files and the system (label 1).
DOCSTRING_TOPICS = (
    ("math", "cmath", "statistics", "fractions", "decimal", "random"),
    ("os", "os.path", "shutil", "pathlib", "tempfile", "glob", "fnmatch", "filecmp"),
)


def load_docstring_topics(test_fraction: float = 0.2, seed: int = 0):
    """Sentences of the Python standard library's docstrings, labelled by topic.

    The first paragraph of each public function's or class's docstring in modules about
    numbers (label 0: math, statistics, ...) or about files and the system (label 1:
    os, shutil, pathlib, ...): about 400 real English sentences, no download. Returns
    `((x_train, y_train), (x_test, y_test))` with string arrays and int64 labels,
    shuffled with `seed`.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_docstring_topics()
    >>> len(x_train) > 250, sorted(set(y_train.tolist()))
    (True, [0, 1])
    """
    texts, labels = [], []
    for label, modules in enumerate(DOCSTRING_TOPICS):
        found = sorted({s for m in modules for s in _docstring_sentences(m)} - set(texts))
        texts += found
        labels += [label] * len(found)
    order = np.random.default_rng(seed).permutation(len(texts))
    x, y = np.array(texts)[order], np.array(labels, dtype=np.int64)[order]
    return split_arrays(x, y, n_train=int(round(len(x) * (1 - test_fraction))))


def _docstring_sentences(module_name: str) -> set[str]:
    module = importlib.import_module(module_name)
    found = set()
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isroutine(obj) or inspect.isclass(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        first = " ".join(doc.strip().split("\n\n")[0].split())
        if 15 < len(first) < 300 and not first.startswith(f"{name}("):
            found.add(first)
    return found
