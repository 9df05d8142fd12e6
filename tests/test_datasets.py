"""Dataset loaders on real local data."""

import gzip

import numpy as np
import pytest

from kerasprune import datasets


def test_mnist_idx_from_the_shared_test_set(mnist_dir):
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_idx(mnist_dir)
    assert x_train.shape == (8000, 28, 28, 1) and x_test.shape == (2000, 28, 28, 1)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() == 1.0
    assert set(np.unique(y_test)) == set(range(10))
    (a, _), _ = datasets.split_mnist_test(mnist_dir)
    np.testing.assert_array_equal(a, x_train)


def test_load_mnist_with_data_dir_reads_idx(mnist_dir):
    (_, y_train), _ = datasets.load_mnist(data_dir=mnist_dir)
    assert y_train[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first MNIST test labels


def test_full_idx_folder_with_train_files(tmp_path, mnist_dir):
    for stem in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        data = gzip.open(mnist_dir / f"t10k-{stem}.gz").read()
        (tmp_path / f"t10k-{stem}").write_bytes(data)  # uncompressed works too
        (tmp_path / f"train-{stem}.gz").write_bytes(gzip.compress(data))
    (x_train, _), (x_test, _) = datasets.load_mnist_idx(tmp_path)
    assert len(x_train) == len(x_test) == 10000


def test_bad_idx_files_are_rejected(tmp_path):
    bad = tmp_path / "x.idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(bad)
    with pytest.raises(FileNotFoundError):
        datasets.load_mnist_idx(tmp_path / "missing")


def test_digits_are_embedded_and_split():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    assert x_train.shape[1:] == (8, 8, 1) and len(x_train) + len(x_test) == 1797
    assert x_train.max() <= 1.0 and set(np.unique(y_train)) == set(range(10))
