"""What every benchmark shares: the FACTS.md CNN, the MNIST split, timing, the machine line
and the writer of one section of bench/RESULTS.md.

Benchmarks run as modules from the repository root, e.g. `python -m bench.overhead`, and
take the MNIST folder as `--data-dir` (default: `../shared/data/mnist` beside the
repository). The CNN builder and the timer take the Keras module as an argument, so the
same code builds and times a Keras 3 model (`import keras`) and a Keras 2 one
(`import tf_keras`, for the TFMOT baseline).

Example:

>>> import keras
>>> from bench import common
>>> model = common.build_cnn(keras)
>>> common.compile_cnn(keras, model)
>>> [layer.name for layer in model.layers][:2]
['conv1', 'pool1']
"""

from __future__ import annotations

import argparse
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
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
DEFAULT_MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
RESULTS_HEADER = (
    "# kerasprune benchmark results\n\n"
    "Each section is written by one script in bench/ (its command is in the section); "
    "rerun the script to refresh it.\n"
)


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up log; call before importing keras/tensorflow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    """`--data-dir`: the folder of MNIST IDX files (the full 10,000-image test set)."""
    parser.add_argument(
        "--data-dir", default=str(DEFAULT_MNIST_DIR),
        help="folder of MNIST IDX files (t10k-*; train-* too if present); "
        f"default {DEFAULT_MNIST_DIR}",
    )


def load_split(data_dir: str | os.PathLike = DEFAULT_MNIST_DIR):
    """The benchmarks' MNIST split: of the 10,000 test images, 8,000 train and 2,000 test."""
    from examples.datasets import load_mnist_idx

    return load_mnist_idx(data_dir)


def build_cnn(keras_module, input_shape=(28, 28, 1), classes: int = 10,
              widths: tuple[int, int, int] = (32, 64, 256)):
    """FACTS.md CNN: Conv32-Pool-Conv64-Pool-Dense256-Dense10 (logits), in `keras_module`.

    `widths` sets the two convs' filters and the hidden Dense units (narrower networks
    make pruning harder).
    """
    layers = keras_module.layers
    return keras_module.Sequential(
        [
            keras_module.Input(input_shape),
            layers.Conv2D(widths[0], 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(widths[1], 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(widths[2], activation="relu", name="dense1"),
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


def mean_std(values, scale: float = 1.0, digits: int = 2, ddof: int = 0) -> str:
    """`mean ± std` of `values` (times `scale`), e.g. accuracies as percentages.

    `ddof=1` gives the sample standard deviation (over seeds).
    """
    values = np.asarray(values, dtype=float) * scale
    std = values.std(ddof=ddof) if len(values) > ddof else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
         2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
         2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def paired_interval(a, b) -> tuple[float, float, float]:
    """Mean of the paired differences `a - b` and its 95% t interval `(mean, low, high)`.

    `a[i]` and `b[i]` are results of the same seed (same initialization and data order),
    so the seed-to-seed spread common to both cancels.

    >>> [round(v, 4) for v in paired_interval([0.9, 0.8, 0.7], [0.8, 0.7, 0.7])]
    [0.0667, -0.0768, 0.2101]
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(diff.mean())
    if len(diff) < 2:
        return mean, float("nan"), float("nan")
    t = _T975[len(diff) - 2] if len(diff) - 1 <= len(_T975) else 1.96
    half = t * float(diff.std(ddof=1)) / float(np.sqrt(len(diff)))
    return mean, mean - half, mean + half


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


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        found = None
    return found.group(1).strip() if found else (platform.processor() or "unknown CPU")


def cache_sizes() -> str:
    """L1d/L2/L3 sizes of CPU 0, e.g. 'L1d 32K, L2 512K, L3 32768K' (what latency depends on)."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    sizes = []
    for index in sorted(base.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            sizes.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return ", ".join(sizes) or "unknown"


def machine_info() -> str:
    """One line: nproc, CPU, caches, Python/TensorFlow/Keras/LiteRT versions, load."""
    import keras
    import tensorflow as tf
    from importlib.metadata import PackageNotFoundError, version

    try:
        litert = version("ai-edge-litert")
    except PackageNotFoundError:
        litert = "not installed"
    return (
        f"nproc {len(os.sched_getaffinity(0))}; CPU {cpu_model()} ({cache_sizes()}); "
        f"{platform.system()} {platform.machine()}; Python {platform.python_version()}; "
        f"TensorFlow {tf.__version__}; Keras {keras.__version__}; ai-edge-litert {litert}; "
        f"load average {os.getloadavg()[0]:.1f} when written"
    )


def command_line() -> str:
    """The command that ran this benchmark, as it could be typed again from the repo root."""
    module = Path(sys.argv[0]).resolve()
    try:
        name = ".".join(module.relative_to(ROOT).with_suffix("").parts)
    except ValueError:
        name = str(module)
    return shlex.join(["python", "-m", name, *sys.argv[1:]])


def write_section(name: str, text: str, path: str | os.PathLike = RESULTS,
                  wall_seconds: float | None = None) -> None:
    """Replace the block between `<!-- begin name -->` and `<!-- end name -->` in `path`.

    The block is `text` followed by the command, the date, the wall time (if given) and
    the machine line. Creates the file (with a short header) or appends the block when it
    is missing; every other section is left byte for byte as it was.
    """
    path = Path(path)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    footer = [f"Command: `{command_line()}`  ", f"Date: {date}  "]
    if wall_seconds is not None:
        footer.append(f"Wall time: {wall_seconds / 60:.1f} min  ")
    footer.append(f"Machine: {machine_info()}")
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.strip()}\n\n" + "\n".join(footer) + f"\n{end}"
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
    print(f"wrote section {name!r} of {path}")
