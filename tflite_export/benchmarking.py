"""Latency and accuracy of a TFLite model through the LiteRT interpreter.

Latency is per `invoke()` on one sample (batch 1), after warm-up, with the
configurations timed in alternation (round-robin) so a change in machine load
hits all of them alike. Accuracy and output agreement run the whole data set.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Sequence

import keras
import numpy as np

from tflite_export.conversion import convert
from tflite_export.interpreter import BACKENDS, load_interpreter, read_model, run


@dataclasses.dataclass(frozen=True)
class Timing:
    """Latency of one interpreter configuration.

    Attributes:
        xnnpack: whether the default XNNPACK delegate was asked for.
        backend: implementation that ran (see `interpreter.BACKENDS`).
        resolver: what really ran: "xnnpack" or "builtin" (XNNPACK refused).
        median_us: median latency of one invoke, microseconds.
        p90_us: 90th percentile, microseconds.
        notes: fallbacks taken on the way (backend missing, delegate refused).
    """

    xnnpack: bool
    backend: str
    resolver: str
    median_us: float
    p90_us: float
    notes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BenchmarkReport:
    """Result of `benchmark`.

    Attributes:
        timings: one `Timing` per XNNPACK setting asked.
        file_bytes: size of the TFLite flatbuffer.
        accuracy: top-1 accuracy on (inputs, y), or None without `y`.
        max_abs_diff: largest |TFLite - Keras| output difference, or None
            without a Keras model to compare with.
        agreement: fraction of samples where TFLite and Keras pick the same
            class (argmax), or None without a Keras model.
    """

    timings: tuple[Timing, ...]
    file_bytes: int
    accuracy: float | None
    max_abs_diff: float | None
    agreement: float | None

    def to_markdown(self) -> str:
        """The timings as a markdown table, then accuracy and agreement."""
        lines = [
            "| XNNPACK asked | ran with | backend | median us | p90 us |",
            "|---|---|---|---|---|",
        ]
        for t in self.timings:
            lines.append(
                f"| {'on' if t.xnnpack else 'off'} | {t.resolver} | {t.backend} | "
                f"{format_us(t.median_us)} | {format_us(t.p90_us)} |"
            )
        lines.append("")
        lines.append(f"file: {self.file_bytes:,} B")
        if self.accuracy is not None:
            lines.append(f"accuracy: {self.accuracy:.4f}")
        if self.max_abs_diff is not None:
            lines.append(
                f"vs Keras: max abs diff {self.max_abs_diff:.3g}, "
                f"same argmax {self.agreement:.4f}"
            )
        notes = sorted({n for t in self.timings for n in t.notes})
        lines.extend(f"note: {n}" for n in notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def time_interleaved(interpreters: Sequence[Any], *, runs: int, warmup: int) -> list[np.ndarray]:
    """Invoke times in seconds, one array per interpreter, timed round-robin.

    Each interpreter must already hold its input tensors.

    Example:
    pair = [a.interpreter, b.interpreter]
    times = time_interleaved(pair, runs=100, warmup=10)
    """
    for interpreter in interpreters:
        for _ in range(warmup):
            interpreter.invoke()
    times = np.zeros((len(interpreters), runs))
    for r in range(runs):
        for i, interpreter in enumerate(interpreters):
            start = time.perf_counter()
            interpreter.invoke()
            times[i, r] = time.perf_counter() - start
    return list(times)


def time_blocked(
    interpreters: Sequence[Any], *, runs: int, warmup: int, rounds: int = 5
) -> list[np.ndarray]:
    """Invoke times in seconds, one array per interpreter, timed in blocks.

    Each round times every interpreter in turn: `warmup` untimed invokes, then a block of
    `runs // rounds` consecutive timed invokes, so each model runs with warm caches (the
    way a deployed model runs), while alternating the blocks over `rounds` spreads a
    change in machine load over all models.

    Example:
    pair = [a.interpreter, b.interpreter]
    times = time_blocked(pair, runs=100, warmup=10)
    """
    per_block = max(1, runs // rounds)
    times: list[list[float]] = [[] for _ in interpreters]
    for _ in range(rounds):
        for i, interpreter in enumerate(interpreters):
            for _ in range(warmup):
                interpreter.invoke()
            for _ in range(per_block):
                start = time.perf_counter()
                interpreter.invoke()
                times[i].append(time.perf_counter() - start)
    return [np.array(t) for t in times]


def set_single_sample(interpreter: Any, inputs: np.ndarray | Sequence[np.ndarray]) -> None:
    """Feeds the first sample of `inputs` (batch of 1) to the interpreter."""
    run(interpreter, [a[:1] for a in _as_list(inputs)])


def benchmark(
    model_or_bytes: keras.Model | bytes | str | os.PathLike,
    inputs: np.ndarray | Sequence[np.ndarray],
    *,
    y: np.ndarray | None = None,
    keras_model: keras.Model | None = None,
    num_threads: int = 1,
    runs: int = 100,
    warmup: int = 10,
    xnnpack: Sequence[bool] = (True, False),
    backends: Sequence[str] = BACKENDS,
) -> BenchmarkReport:
    """Times a TFLite model with XNNPACK on and off, and checks its outputs.

    A Keras model is first converted with `convert(model)` (sparse) and is
    then also the reference for output agreement.

    Args:
        model_or_bytes: a Keras model, TFLite bytes, or a .tflite path.
        inputs: samples with a batch axis (a list of arrays for several
            inputs). Latency uses the first sample; accuracy all of them.
        y: integer labels for `inputs`; gives `accuracy`.
        keras_model: reference Keras model when `model_or_bytes` is a file.
        num_threads: interpreter threads.
        runs: timed invokes per configuration.
        warmup: untimed invokes first.
        xnnpack: XNNPACK settings to time. When XNNPACK refuses the model
            (int8 sparse FULLY_CONNECTED), built-in kernels run and the timing
            says so in `resolver` and `notes`.
        backends: interpreter implementations to try, in order.

    Example:
    report = benchmark(pruned_model, x_test, y=y_test)
    print(report)
    """
    check_counts(runs, warmup)
    if not xnnpack or any(not isinstance(v, bool) for v in xnnpack):
        raise ValueError(
            "Expected xnnpack to be a non-empty sequence of booleans. "
            f"Received: xnnpack={xnnpack!r}"
        )
    _check_data(inputs, y)
    if isinstance(model_or_bytes, keras.Model):
        keras_model = keras_model or model_or_bytes
        content = convert(model_or_bytes)
    else:
        content = read_model(model_or_bytes)
    loaded = [
        load_interpreter(content, num_threads=num_threads, xnnpack=v, backends=backends)
        for v in xnnpack
    ]
    for item in loaded:
        set_single_sample(item.interpreter, inputs)
    times = time_interleaved([item.interpreter for item in loaded], runs=runs, warmup=warmup)
    timings = tuple(
        Timing(v, item.backend, item.resolver, *median_p90(t), tuple(item.notes))
        for v, item, t in zip(xnnpack, loaded, times)
    )
    outputs = run(loaded[0].interpreter, inputs)
    accuracy = top1(outputs, y) if y is not None else None
    max_abs_diff = agreement = None
    if keras_model is not None:
        expected = np.asarray(keras_model.predict(inputs, batch_size=256, verbose=0))
        max_abs_diff = float(np.max(np.abs(outputs - expected)))
        agreement = float(np.mean(outputs.argmax(-1) == expected.argmax(-1)))
    return BenchmarkReport(timings, len(content), accuracy, max_abs_diff, agreement)


def top1(outputs: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose argmax equals the integer label."""
    return float(np.mean(outputs.argmax(-1) == np.asarray(y).reshape(-1)))


def format_us(microseconds: float) -> str:
    """Microseconds with one decimal below 100, none above."""
    return f"{microseconds:.1f}" if microseconds < 100 else f"{microseconds:.0f}"


def median_p90(seconds: np.ndarray) -> tuple[float, float]:
    """Median and 90th percentile of invoke times given in seconds, in microseconds."""
    return float(np.median(seconds) * 1e6), float(np.percentile(seconds, 90) * 1e6)


def _as_list(inputs) -> list[np.ndarray]:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def check_counts(runs: int, warmup: int) -> None:
    """Refuse a non-positive number of timed invokes or a negative warm-up."""
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"Expected runs to be an int >= 1. Received: runs={runs!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"Expected warmup to be an int >= 0. Received: warmup={warmup!r}")


def _check_data(inputs, y) -> None:
    arrays = _as_list(inputs)
    if not arrays or any(not hasattr(a, "shape") or len(a) == 0 for a in arrays):
        raise ValueError(
            "Expected inputs to be a non-empty array with a batch axis (or a list "
            f"of them). Received: inputs of type {type(inputs).__name__}"
        )
    if y is not None and len(y) != len(arrays[0]):
        raise ValueError(
            f"Expected one label per sample: inputs has {len(arrays[0])} samples, "
            f"y has {len(y)}."
        )
