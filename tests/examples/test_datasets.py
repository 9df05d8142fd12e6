"""Dataset loaders on the real digits shipped with the repository."""

import gzip

import numpy as np
import pytest

from examples import datasets


def _write_idx(folder, prefix, images, labels, gzipped=True):
    header_x = bytes([0, 0, 0x08, 3]) + b"".join(
        int(n).to_bytes(4, "big") for n in images.shape)
    header_y = bytes([0, 0, 0x08, 1]) + len(labels).to_bytes(4, "big")
    for stem, content in ((f"{prefix}-images-idx3-ubyte", header_x + images.tobytes()),
                          (f"{prefix}-labels-idx1-ubyte", header_y + labels.tobytes())):
        if gzipped:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / stem).write_bytes(content)


@pytest.fixture(scope="module")
def raw_digits():
    with np.load(datasets.EMBEDDED_MNIST) as data:
        return data["x"], data["y"]


def test_embedded_digits_are_real_mnist(raw_digits):
    (x_train, y_train), (x_test, y_test) = datasets.load_embedded_mnist()
    assert x_train.shape == (2400, 28, 28, 1) and x_test.shape == (600, 28, 28, 1)
    assert x_train.dtype == np.float32 and x_train.min() == 0.0 and x_train.max() == 1.0
    assert y_train[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first MNIST test labels
    assert set(np.unique(y_test)) == set(range(10))


def test_pooling_averages_blocks(raw_digits):
    (x_train, _), _ = datasets.load_embedded_mnist(pool=4)
    expected = raw_digits[0][0, :4, 4:8].astype(np.float32).mean() / 255.0
    assert x_train.shape[1:] == (7, 7, 1)
    assert x_train[0, 0, 1, 0] == pytest.approx(expected)


def test_test_set_alone_is_split_8000_2000_like_the_benchmarks(tmp_path, raw_digits):
    x, y = raw_digits
    _write_idx(tmp_path, "t10k", x, y)
    (x_train, y_train), (x_test, _) = datasets.load_mnist_idx(tmp_path)
    assert (len(x_train), len(x_test)) == (2400, 600)
    np.testing.assert_array_equal(y_train[:5], [7, 2, 1, 0, 4])


def test_full_idx_folder_with_train_files(tmp_path, raw_digits):
    x, y = raw_digits
    _write_idx(tmp_path, "t10k", x[:100], y[:100], gzipped=False)  # uncompressed works too
    _write_idx(tmp_path, "train", x[100:], y[100:])
    (x_train, y_train), (x_test, _) = datasets.load_mnist(data_dir=tmp_path)
    assert len(x_train) == len(x) - 100 and len(x_test) == 100
    assert y_train[0] == y[100]


def test_bad_idx_files_are_rejected(tmp_path):
    bad = tmp_path / "x.idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(bad)
    with pytest.raises(FileNotFoundError):
        datasets.load_mnist_idx(tmp_path / "missing")
