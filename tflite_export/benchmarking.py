"""Latency and accuracy of a TFLite model through the LiteRT interpreter.

Latency is per `invoke()` on one sample (batch 1), measured two ways, since a
memory-bound model's time depends on what ran just before it:

- interleaved: the configurations (or models) alternate invoke by invoke, so a
  change in machine load hits all of them alike, but each invoke may find its
  weights evicted from the caches by the other model;
- blocked: each configuration runs `block` consecutive invokes after a few
  untimed ones, the configurations alternating block by block: the speed of a
  model that runs alone, as deployed.

Headline figures should quote the more conservative of the two. Accuracy and
output agreement run the whole data set.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import warnings
from typing import Any, Sequence

import numpy as np

from kerasprune.core.caller import user_stacklevel
from tflite_export.interpreter import (
    BACKENDS,
    check_inputs,
    is_count,
    load_interpreter,
    model_input_details,
    model_output_details,
    read_model,
    run,
    run_outputs,
)
from tflite_export.parity import RUNTIMES_TOLERANCE, output_mismatch
from tflite_export.progress import progress_bar


@dataclasses.dataclass(frozen=True)
class Timing:
    """Latency of one interpreter configuration.

    Attributes:
        xnnpack: whether the default XNNPACK delegate was asked for.
        backend: implementation that ran (see `interpreter.BACKENDS`).
        resolver: what really ran: "xnnpack" or "builtin" (XNNPACK refused).
        median_us: median latency of one invoke, interleaved protocol, microseconds.
        p90_us: 90th percentile, interleaved protocol, microseconds.
        notes: fallbacks taken on the way (backend missing, delegate refused).
        blocked_median_us: median latency in the blocked protocol, microseconds.
        blocked_p90_us: 90th percentile in the blocked protocol, microseconds.
        mismatch: how this setting's outputs differ from the built-in kernels' on the
            benchmark's inputs, or None when they agree (such a setting is never
            recommended).
    """

    xnnpack: bool
    backend: str
    resolver: str
    median_us: float
    p90_us: float
    notes: tuple[str, ...]
    blocked_median_us: float = float("nan")
    blocked_p90_us: float = float("nan")
    mismatch: str | None = None

    @property
    def conservative_us(self) -> float:
        """The larger of the two protocols' medians."""
        return max(self.median_us, self.blocked_median_us)

    @property
    def setting(self) -> str:
        """What ran, in words: "XNNPACK" or "built-in kernels"."""
        return "XNNPACK" if self.resolver == "xnnpack" else "built-in kernels"


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
            class (argmax; for one output, above 0.5), or None without a Keras model.
        num_threads: interpreter threads of the timings.
        block: consecutive invokes per block in the blocked protocol.
        runs: timed invokes per setting and protocol.
        warmup: untimed invokes per setting first.
    """

    timings: tuple[Timing, ...]
    file_bytes: int
    accuracy: float | None
    max_abs_diff: float | None
    agreement: float | None
    num_threads: int = 1
    block: int = 50
    runs: int = 100
    warmup: int = 10

    @property
    def protocol(self) -> str:
        """How the timings were measured (`protocol_line`)."""
        return protocol_line(self.num_threads, self.block, self.runs, self.warmup)

    @property
    def fastest(self) -> Timing:
        """The timing with the lowest conservative latency (worse of the two protocols),
        among the settings that compute like the built-in kernels (all, if none does)."""
        right = [t for t in self.timings if t.mismatch is None] or self.timings
        return min(right, key=lambda t: t.conservative_us)

    @property
    def recommendation(self) -> str:
        """Which runtime setting to deploy this file with, and by how much it wins."""
        best = self.fastest
        if best.mismatch is not None:
            return (f"recommended: none of the timed settings; {best.setting} computes wrong "
                    f"({best.mismatch}): time with built-in kernels (xnnpack=(False,))")
        how = ("the default resolver (XNNPACK)" if best.resolver == "xnnpack" else
               "built-in kernels: OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES")
        others = [t for t in self.timings if t.resolver != best.resolver]
        versus = "; ".join(f"{format_us(t.conservative_us)} us with {t.setting}"
                           + (" (computes wrong)" if t.mismatch else "") for t in others)
        return (f"recommended: {how}, {format_us(best.conservative_us)} us per invoke"
                + (f" (vs {versus})" if versus else "")
                + f", {self.num_threads} thread(s), the worse of the two protocols")

    def to_dict(self) -> dict:
        """Every fact of the table and the lines under it, as plain data (for JSON)."""
        best = self.fastest
        return {
            **dataclasses.asdict(self),
            "protocol": self.protocol,
            "recommended": {"setting": best.setting, "resolver": best.resolver,
                            "backend": best.backend, "latency_us": best.conservative_us},
            "recommendation": self.recommendation,
        }

    def to_markdown(self) -> str:
        """The timings as a markdown table, the protocol, the recommendation, accuracy."""
        lines = [
            "| XNNPACK asked | ran with | backend | interleaved median us | p90 us "
            "| blocked median us | p90 us |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for t in self.timings:
            lines.append(
                f"| {'on' if t.xnnpack else 'off'} | {t.resolver} | {t.backend} | "
                f"{format_us(t.median_us)} | {format_us(t.p90_us)} | "
                f"{format_us(t.blocked_median_us)} | {format_us(t.blocked_p90_us)} |"
            )
        lines.append("")
        lines.append(self.protocol)
        lines.append(self.recommendation)
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
        lines.extend(f"warning: {wrong_setting_text(t)}" for t in self.timings if t.mismatch)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def protocol_line(num_threads: int, block: int, runs: int, warmup: int) -> str:
    """The sentence that says how a latency table was measured."""
    return (
        f"Latency: one sample per invoke, {num_threads} thread(s), {runs} timed invokes per "
        f"configuration and protocol after {warmup} untimed ones; interleaved = the "
        f"configurations alternate invoke by invoke; blocked = {block} consecutive invokes "
        "per configuration after untimed warm-up ones, alternating block by block."
    )


def time_blocked(
    interpreters: Sequence[Any], *, runs: int, warmup: int, block: int = 50, progress=None
) -> list[np.ndarray]:
    """Invoke times in seconds, one array per interpreter, timed in blocks.

    Each interpreter in turn runs `warmup` untimed invokes then `block` timed
    consecutive ones, until each has `runs` timed invokes. Each interpreter must
    already hold its input tensors. `progress` (a progress bar) advances by the timed
    invokes after each block.

    Example:
    times = time_blocked([a.interpreter, b.interpreter], runs=100, warmup=5)
    """
    times = [[] for _ in interpreters]
    while len(times[0]) < runs:
        count = min(block, runs - len(times[0]))
        for i, interpreter in enumerate(interpreters):
            for _ in range(warmup):
                interpreter.invoke()
            for _ in range(count):
                start = time.perf_counter()
                interpreter.invoke()
                times[i].append(time.perf_counter() - start)
            if progress is not None:
                progress.add(count)
    return [np.array(t) for t in times]


def time_interleaved(interpreters: Sequence[Any], *, runs: int, warmup: int,
                     progress=None) -> list[np.ndarray]:
    """Invoke times in seconds, one array per interpreter, timed round-robin.

    Each interpreter must already hold its input tensors. `progress` (a progress bar)
    advances by the timed invokes every 10 rounds.

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
        if progress is not None and (r % 10 == 9 or r == runs - 1):
            progress.add(len(interpreters) * (r % 10 + 1))
    return list(times)


def set_single_sample(interpreter: Any, inputs: np.ndarray | Sequence[np.ndarray]) -> None:
    """Feeds the first sample of `inputs` (batch of 1) to the interpreter."""
    run(interpreter, [a[:1] for a in as_list(inputs)])


def benchmark(
    model_or_bytes: "keras.Model | bytes | str | os.PathLike",
    inputs: np.ndarray | Sequence[np.ndarray],
    *,
    y: np.ndarray | None = None,
    keras_model: "keras.Model | None" = None,
    num_threads: int = 1,
    runs: int = 100,
    warmup: int = 10,
    xnnpack: Sequence[bool] = (True, False),
    backends: Sequence[str] = BACKENDS,
    block: int = 50,
    verbose: int | str = "auto",
) -> BenchmarkReport:
    """Times a TFLite model with XNNPACK on and off, and checks its outputs.

    A Keras model is first converted with `convert(model)` (sparse) and is
    then also the reference for output agreement. Both protocols (interleaved and
    blocked, see the module docstring) time every setting; `report.recommendation`
    names the setting that is fastest by the worse of the two, among those whose outputs
    agree with the built-in kernels' (a setting that computes wrong is warned about, never
    recommended; accuracy and agreement are then the built-in kernels').

    Args:
        model_or_bytes: a Keras model, TFLite bytes, or a .tflite path.
        inputs: samples with a batch axis (a list of arrays for several
            inputs, or a dict by input name). Latency uses the first sample; accuracy
            all of them.
        y: integer labels for `inputs`; gives `accuracy`.
        keras_model: reference Keras model when `model_or_bytes` is a file. With
            several outputs, `max_abs_diff` is over all of them; `accuracy` and
            `agreement` read the first.
        num_threads: interpreter threads.
        runs: timed invokes per configuration and protocol.
        warmup: untimed invokes first (and before every block).
        xnnpack: XNNPACK settings to time. When XNNPACK refuses the model
            (int8 sparse FULLY_CONNECTED), built-in kernels run and the timing
            says so in `resolver` and `notes`.
        backends: interpreter implementations to try, in order.
        block: consecutive timed invokes per block in the blocked protocol.
        verbose: 1 shows Keras' progress bar over the timed invokes, 0 nothing;
            `"auto"` shows it when stdout is a terminal.

    Example:
    report = benchmark(pruned_model, x_test, y=y_test)
    print(report)
    print(report.recommendation)
    """
    check_counts(runs, warmup)
    check_block(block)
    if not _is_bool_sequence(xnnpack):
        raise ValueError(
            "Expected xnnpack to be a non-empty sequence of booleans. "
            f"Received: xnnpack={xnnpack!r}"
        )
    check_data(inputs, y)
    if is_keras_model(model_or_bytes):
        from tflite_export.conversion import convert

        keras_model = keras_model or model_or_bytes
        content = convert(model_or_bytes, verbose=verbose)
    else:
        content = read_model(model_or_bytes)
    loaded = [
        load_interpreter(content, num_threads=num_threads, xnnpack=v, backends=backends)
        for v in xnnpack
    ]
    check_inputs(model_input_details(loaded[0].interpreter), as_list(inputs))
    check_label_range(model_output_details(loaded[0].interpreter), y)
    for item in loaded:
        set_single_sample(item.interpreter, inputs)
    interpreters = [item.interpreter for item in loaded]
    progress = progress_bar(2 * runs * len(interpreters), verbose, unit_name="invoke")
    times = time_interleaved(interpreters, runs=runs, warmup=warmup, progress=progress)
    blocked = time_blocked(interpreters, runs=runs, warmup=min(warmup, block), block=block,
                           progress=progress)
    every_output, mismatches = _outputs_and_mismatches(content, loaded, inputs, num_threads,
                                                       backends)
    timings = tuple(
        Timing(v, item.backend, item.resolver, *median_p90(t), tuple(item.notes), *median_p90(b),
               mismatch)
        for v, item, t, b, mismatch in zip(xnnpack, loaded, times, blocked, mismatches)
    )
    for timing in timings:
        if timing.mismatch:
            warnings.warn(wrong_setting_text(timing), UserWarning,
                          stacklevel=user_stacklevel())
    outputs = every_output[0]
    accuracy = top1(outputs, y) if y is not None else None
    max_abs_diff = agreement = expected = None
    if keras_model is not None:
        # several outputs: the largest difference over all, the agreement of the first
        every_expected = _flat_outputs(keras_model.predict(inputs, batch_size=256, verbose=0))
        _check_same_outputs(every_output, every_expected)
        expected = every_expected[0]
        max_abs_diff = max(float(np.max(np.abs(o - e)))
                           for o, e in zip(every_output, every_expected))
        agreement = float(np.mean(predicted_classes(outputs) == predicted_classes(expected)))
    warn_if_not_finite(outputs, expected)
    return BenchmarkReport(timings, len(content), accuracy, max_abs_diff, agreement,
                           num_threads, block, runs, warmup)


def _outputs_and_mismatches(content, loaded, inputs, num_threads, backends):
    """The built-in kernels' outputs over `inputs` (the reference: accuracy and agreement
    are theirs), and for each loaded interpreter how its outputs differ from them, or None.

    XNNPACK computes some files wrong where the built-in kernels are right (dynamic-range
    files with (16, 1) blocks, for one): a setting is only recommended if it agrees."""
    reference = next((item for item in loaded if item.resolver == "builtin"), None)
    if reference is None:
        reference = load_interpreter(content, num_threads=num_threads, xnnpack=False,
                                     backends=backends)
    expected = run_outputs(reference.interpreter, as_list(inputs))
    mismatches = [None if item.resolver == "builtin" else
                  output_mismatch(run_outputs(item.interpreter, as_list(inputs)), expected,
                                  RUNTIMES_TOLERANCE, "the built-in kernels'")
                  for item in loaded]
    return expected, mismatches


def wrong_setting_text(timing: Timing) -> str:
    """The warning for a setting whose outputs differ from the built-in kernels'."""
    return (f"With {timing.setting}, the file's outputs differ from the built-in kernels' "
            f"on the benchmark's inputs ({timing.mismatch}): "
            "it computes wrong and is not recommended; accuracy and agreement are the built-in "
            "kernels'. Run the file with experimental_op_resolver_type=OpResolverType."
            "BUILTIN_WITHOUT_DEFAULT_DELEGATES, or convert with sparse=False.")


def _flat_outputs(predicted) -> list[np.ndarray]:
    """`predict`'s outputs as a list in the file's order (a dict's sorted by name)."""
    if isinstance(predicted, dict):
        return [np.asarray(predicted[name]) for name in sorted(predicted)]
    if isinstance(predicted, (list, tuple)):
        return [np.asarray(p) for p in predicted]
    return [np.asarray(predicted)]


def _check_same_outputs(outputs: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """Refuse a keras_model whose outputs are not the file's (count and shapes)."""
    if [o.shape for o in outputs] != [e.shape for e in expected]:
        raise ValueError(
            "keras_model does not compute the file's outputs: the file gives shapes "
            f"{[o.shape for o in outputs]}, keras_model {[e.shape for e in expected]}. "
            "Pass the model the file was converted from.")


def warn_if_not_finite(outputs: np.ndarray, expected: np.ndarray | None = None,
                       name: str = "The TFLite file") -> None:
    """Warn when the file's outputs hold NaN/Inf (where the Keras model's, if given, are
    finite): accuracy, agreement and max_abs_diff computed on them mean nothing."""
    bad = int(outputs.size - np.count_nonzero(np.isfinite(outputs)))
    if not bad or (expected is not None and not np.isfinite(expected).all()):
        return
    warnings.warn(
        f"{name} outputs {bad} NaN/Inf value(s) of {outputs.size}"
        + (" where the Keras model's are finite" if expected is not None else "")
        + ": its accuracy, agreement and max_abs_diff mean nothing. The file computes "
        "wrong outputs: convert it again with sparse=False (or without quantize).",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def check_label_range(output_details: list[dict], y) -> None:
    """Refuse labels no output row can match (accuracy would be 0 without a word)."""
    if y is None:
        return
    classes = max(2, int(output_details[0]["shape"][-1]))  # one output: binary 0/1
    labels = np.asarray(y).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"Expected y to be class labels in [0, {classes}) for the model's {classes} "
            f"outputs. Received: labels from {labels.min():g} to {labels.max():g}")


def is_keras_model(value: Any) -> bool:
    """True for a `keras.Model`; Keras is not imported for that (a model implies it is)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """Each row's class: its argmax, or for one output (binary) whether it exceeds 0.5, as
    Keras' binary accuracy."""
    if outputs.shape[-1] == 1:
        return (outputs[..., 0] > 0.5).astype("int64")
    return outputs.argmax(-1)


def top1(outputs: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose predicted class equals the integer label."""
    return float(np.mean(predicted_classes(outputs) == np.asarray(y).reshape(-1)))


def format_us(microseconds: float) -> str:
    """Microseconds with one decimal below 100, none above."""
    return f"{microseconds:.1f}" if microseconds < 100 else f"{microseconds:.0f}"


def median_p90(seconds: np.ndarray) -> tuple[float, float]:
    """Median and 90th percentile of invoke times given in seconds, in microseconds."""
    return float(np.median(seconds) * 1e6), float(np.percentile(seconds, 90) * 1e6)


def as_list(inputs) -> list[np.ndarray]:
    """One array per input, in the file's order: a dict's by sorted name (as `convert`
    orders named inputs)."""
    if isinstance(inputs, dict):
        return [inputs[name] for name in sorted(inputs)]
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _is_bool_sequence(values) -> bool:
    """A non-empty sequence of booleans (a list, tuple or numpy array of them)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        return False
    try:
        return len(values) > 0 and all(isinstance(v, (bool, np.bool_)) for v in values)
    except TypeError:  # a 0-d array or tensor
        return False


def check_counts(runs: int, warmup: int) -> None:
    """Refuse a non-positive number of timed invokes or a negative warm-up."""
    if not is_count(runs) or runs < 1:
        raise ValueError(f"Expected runs to be an int >= 1. Received: runs={runs!r}")
    if not is_count(warmup) or warmup < 0:
        raise ValueError(f"Expected warmup to be an int >= 0. Received: warmup={warmup!r}")


def check_block(block: int) -> None:
    """Refuse a block of fewer than one invoke."""
    if not is_count(block) or block < 1:
        raise ValueError(f"Expected block to be an int >= 1. Received: block={block!r}")


def check_data(inputs, y) -> None:
    """Refuse empty inputs, and labels that are not one integer per sample."""
    arrays = as_list(inputs)
    if not arrays or any(not hasattr(a, "shape") or len(a) == 0 for a in arrays):
        raise ValueError(
            "Expected inputs to be a non-empty array with a batch axis (or a list "
            f"of them, or a dict by input name). Received: inputs of type "
            f"{type(inputs).__name__}"
        )
    for array in arrays:
        values = np.asarray(array)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise ValueError(
                "Expected inputs to hold finite values: outputs (and accuracy) computed on "
                f"NaN/Inf are meaningless. Received: {values.size - np.isfinite(values).sum()} "
                f"NaN/Inf values of {values.size}, in an array of shape {values.shape}")
    if y is None:
        return
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    whole = np.issubdtype(labels.dtype, np.number) and bool(np.all(labels == np.round(labels)))
    if labels.ndim != 1 or not whole:
        raise ValueError(
            "Expected y to be integer class labels, one per sample (shape (n,)), not "
            f"one-hot rows or fractions. Received: y of shape {labels.shape} and dtype "
            f"{labels.dtype}"
        )
    if len(labels) != len(arrays[0]):
        raise ValueError(
            f"Expected one label per sample: inputs has {len(arrays[0])} samples, "
            f"y has {len(labels)}."
        )
