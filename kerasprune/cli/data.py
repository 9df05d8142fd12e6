"""One `.npz` layout for every command that reads data (`prune`, `bench`, `export`).

A data file holds either

- `x` and `y`: samples (batch axis first) and integer labels; or
- `x_train`, `y_train`, `x_test`, `y_test`: a split made beforehand.

Each command takes what it needs from it: `prune` trains on `x_train` (or the first 80%
of `x`) and tests on the rest; `bench` evaluates on `x_test`/`y_test` (or all of `x`/`y`);
`export --representative-data` calibrates int8 on `x_train` (or `x`), and also takes a
`.npy` file of samples. Labels are optional where only inputs are needed. `examples.
quickstart` (`make demo`) writes such a file, `out/data.npz`.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib
from typing import Any

LAYOUT = "a .npz file with arrays x and y (or x_train, y_train, x_test, y_test)"
SPLIT = ("x_train", "y_train", "x_test", "y_test")
TRAIN_FRACTION = 0.8


@dataclasses.dataclass(frozen=True)
class Data:
    """The arrays of a data file; labels are None when the file has none.

    `x`, `y` are the file's own arrays when it holds `x` and `y` (None for a split file).
    """

    path: str
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    x: Any = None
    y: Any = None

    def train_test(self, option: str = "--data"):
        """`((x_train, y_train), (x_test, y_test))`; refuses a file without labels."""
        if self.y_train is None or self.y_test is None:
            raise ValueError(f"{option} {self.path!r} must hold labels (y, or y_train and "
                             "y_test) to train on.")
        if len(self.x_train) == 0 or len(self.x_test) == 0:
            raise ValueError(f"{option} {self.path!r}: training and test data must both hold "
                             f"samples; found {len(self.x_train)} and {len(self.x_test)} (x and "
                             f"y are split {TRAIN_FRACTION:.0%} / {1 - TRAIN_FRACTION:.0%}).")
        return (self.x_train, self.y_train), (self.x_test, self.y_test)

    def evaluation(self):
        """`(x, y)` that `bench` measures accuracy on: the test split, or all of x and y."""
        return (self.x_test, self.y_test) if self.x is None else (self.x, self.y)


def load_data(path: str, option: str = "--data") -> Data:
    """Read a data file in the one layout (see the module docstring).

    Example:

    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.npz")
    >>> np.savez(path, x=np.zeros((10, 3)), y=np.arange(10))
    >>> data = load_data(path)
    >>> len(data.x_train), len(data.x_test)
    (8, 2)
    """
    import numpy as np

    if not os.path.isfile(path):
        raise FileNotFoundError(f"No data file at {option} {path!r}.")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{option} {path!r} is not a .npz file (truncated?): {error}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{option} {path!r} must be {LAYOUT}, not a single .npy array.")
    with loaded:
        arrays = {name: _read_array(loaded, name, path, option) for name in loaded.files}
    if {"x_train", "x_test"} <= set(arrays):
        data = Data(path, *(arrays.get(name) for name in SPLIT))
    elif "x" in arrays:
        data = _split(path, arrays["x"], arrays.get("y"), option)
    else:
        raise ValueError(f"{option} {path!r} must hold an array named 'x' (and 'y'), or "
                         f"x_train, y_train, x_test, y_test; found {sorted(arrays)}.")
    _check_lengths(data, option)
    return data


def load_samples(path: str, option: str = "--representative-data"):
    """Input samples: a `.npy` array, or the training inputs of a data file."""
    import numpy as np

    if path.endswith(".npz"):
        return load_data(path, option).x_train
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No file at {option} {path!r}.")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        array = error
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"{option} {path!r} must be a .npy file holding one array (samples first), or "
            f"{LAYOUT}. Received: {type(array).__name__}"
        )
    return array


def _read_array(loaded, name: str, path: str, option: str):
    try:
        return loaded[name]
    except ValueError as error:
        if "allow_pickle" in str(error):  # numpy refuses object arrays without pickle
            raise ValueError(f"{option} {path!r}: array {name!r} holds Python objects, which "
                             "are not loaded (pickle runs code); save numbers, such as int "
                             "class labels.") from None
        raise ValueError(f"{option} {path!r}: array {name!r} cannot be read: {error}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{option} {path!r}: array {name!r} cannot be read (truncated or "
                         f"corrupt file?): {error}") from None


def _split(path: str, x, y, option: str) -> Data:
    if y is not None and len(y) != len(x):
        raise ValueError(f"{option} {path!r}: one label per sample expected; x and y hold "
                         f"{len(x)} samples and {len(y)} labels.")
    cut = int(len(x) * TRAIN_FRACTION)
    if y is None:
        return Data(path, x[:cut], None, x[cut:], None, x, None)
    return Data(path, x[:cut], y[:cut], x[cut:], y[cut:], x, y)


def _check_lengths(data: Data, option: str) -> None:
    for x, y, names in ((data.x_train, data.y_train, "x_train/y_train"),
                        (data.x_test, data.y_test, "x_test/y_test")):
        if y is not None and len(y) != len(x):
            raise ValueError(f"{option} {data.path!r}: one label per sample expected; "
                             f"{names} hold {len(x)} samples and {len(y)} labels.")
