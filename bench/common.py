"""Shared helpers for the benchmarks: the FACTS.md CNN, the MNIST 8k/2k split, epoch timing,
machine info and writing one marked section of bench/RESULTS.md.

The CNN builder and the timer take the Keras module as an argument, so the same code builds
and times a Keras 3 model (`import keras`) and a Keras 2 one (`import tf_keras`).

Example:

>>> import keras, common
>>> (x_train, y_train), (x_test, y_test) = common.load_split()  # doctest: +SKIP
>>> model = common.build_cnn(keras)
>>> common.compile_cnn(keras, model)
>>> timer = common.EpochTimer(keras)
>>> model.fit(x_train, y_train, epochs=2, callbacks=timer.around([]))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import fcntl
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
DEFAULT_MNIST_DIR = BENCH_DIR.parent.parent / "shared" / "data" / "mnist"
RESULTS_HEADER = (
    "# kerasprune benchmark results\n\n"
    "Each section is written by one script in bench/ (its command is in the section); "
    "rerun the script to refresh it.\n"
)


def load_split(data_dir: str | os.PathLike = DEFAULT_MNIST_DIR, n_train: int = 8000):
    """The benchmarks' MNIST split: first 8,000 test images to train, last 2,000 to test."""
    from kerasprune.datasets import split_mnist_test

    return split_mnist_test(data_dir, n_train=n_train)


def build_cnn(keras_module, input_shape=(28, 28, 1), classes: int = 10):
    """FACTS.md CNN: Conv32-Pool-Conv64-Pool-Dense256-Dense10 (logits), in `keras_module`."""
    layers = keras_module.layers
    return keras_module.Sequential(
        [
            keras_module.Input(input_shape),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(256, activation="relu", name="dense1"),
            layers.Dense(classes, name="logits"),
        ]
    )


def compile_cnn(keras_module, model, learning_rate: float = 1e-3) -> None:
    """Adam(1e-3), sparse categorical cross-entropy on logits, accuracy."""
    model.compile(
        optimizer=keras_module.optimizers.Adam(learning_rate),
        loss=keras_module.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of `model` (Keras 3 or tf_keras) on (x, y)."""
    logits = model.predict(x, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def kernel_sparsity(model) -> float:
    """Fraction of exact zeros over all `kernel` weights of the model's layers.

    A wrapper layer (kerasprune's or TFMOT's) counts with the kernel of its inner `.layer`.
    """
    zeros = total = 0
    for layer in model.layers:
        layer = getattr(layer, "layer", layer)
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            values = np.asarray(kernel.numpy())
            zeros += int(values.size - np.count_nonzero(values))
            total += int(values.size)
    return zeros / total if total else 0.0


class EpochTimer:
    """Wall time and process CPU time of every epoch, around all other callbacks of a `fit`.

    `around(callbacks)` returns `[start, *callbacks, stop]`: Keras calls callbacks in list
    order, so the time includes what the other callbacks do at epoch begin and end.
    `keras_module` is `keras` (Keras 3) or `tf_keras`. CPU time (all threads of this
    process) is less disturbed than wall time when other programs share the cores.
    """

    def __init__(self, keras_module):
        self.keras_module = keras_module
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self._start = self._cpu_start = 0.0

    def around(self, callbacks: list) -> list:
        hook = _hook_class(self.keras_module)
        return [hook(on_epoch_begin=self._begin), *callbacks, hook(on_epoch_end=self._end)]

    def _begin(self, epoch, logs=None):
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    def _end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)
        self.cpu_times.append(time.process_time() - self._cpu_start)


def _hook_class(keras_module):
    """A callback class of `keras_module` that forwards the two epoch hooks to functions."""

    class Hook(keras_module.callbacks.Callback):
        def __init__(self, on_epoch_begin=None, on_epoch_end=None):
            super().__init__()
            self._begin_fn, self._end_fn = on_epoch_begin, on_epoch_end

        def on_epoch_begin(self, epoch, logs=None):
            if self._begin_fn:
                self._begin_fn(epoch, logs)

        def on_epoch_end(self, epoch, logs=None):
            if self._end_fn:
                self._end_fn(epoch, logs)

    return Hook


def machine_info() -> str:
    """One line: date, nproc, CPU model, Python, TensorFlow and Keras versions."""
    import keras
    import tensorflow as tf

    cpu = platform.processor() or "unknown CPU"
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if found:
            cpu = found.group(1).strip()
    except OSError:
        pass
    today = datetime.date.today().isoformat()
    return (
        f"{today}; nproc {os.cpu_count()}; CPU {cpu}; Python {platform.python_version()}; "
        f"TensorFlow {tf.__version__}; Keras {keras.__version__}"
    )


def command_line() -> str:
    """The command that ran this script, as it could be typed again."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(BENCH_DIR.parent)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def write_section(name: str, text: str, path: str | os.PathLike = RESULTS) -> None:
    """Replace the block between `<!-- begin name -->` and `<!-- end name -->` in `path`.

    Creates the file (with a short header) or appends the block when it is missing;
    every other section is left byte for byte as it was.
    """
    path = Path(path)
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    # Benchmarks may finish at the same time: lock, so no writer loses another's section.
    lock = os.open(path.resolve().parent, os.O_RDONLY)  # the folder: no stray lock file
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = path.read_text() if path.exists() else RESULTS_HEADER
        start, stop = old.find(begin), old.find(end)
        if start >= 0 and stop > start:
            new = old[:start] + block + old[stop + len(end):]
        else:
            new = old.rstrip("\n") + "\n\n" + block + "\n"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(new)
        os.replace(tmp, path)
    finally:
        os.close(lock)
