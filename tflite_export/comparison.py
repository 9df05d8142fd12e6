"""Dense vs pruned, side by side: the table at the end of the README's main job."""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Mapping

import numpy as np

from tflite_export.benchmarking import (
    as_list,
    check_block,
    check_counts,
    check_data,
    check_label_range,
    format_us,
    is_keras_model,
    median_p90,
    protocol_line,
    set_single_sample,
    time_blocked,
    time_interleaved,
    top1,
    warn_if_not_finite,
)
from tflite_export.inspection import inspect
from tflite_export.interpreter import (
    check_inputs,
    load_interpreter,
    model_input_details,
    model_output_details,
    read_model,
    run,
)
from tflite_export.progress import progress_bar


@dataclasses.dataclass(frozen=True)
class ComparisonRow:
    """One model of a `Comparison`.

    Attributes:
        name: the key given to `compare`.
        file_bytes: TFLite flatbuffer size.
        gzip_bytes: size after gzip.
        median_us: median latency of one single-sample invoke, models interleaved
            invoke by invoke, microseconds.
        p90_us: 90th percentile latency, interleaved, microseconds.
        accuracy: top-1 accuracy of the TFLite model, or None without labels.
        weights: how the weight tensors run, e.g. "2 sparse kernel, 1 dense".
        runtime: interpreter backend and resolver that ran, e.g. "ai_edge_litert/xnnpack".
        blocked_median_us: median latency with each model timed in blocks of
            consecutive invokes (see `tflite_export.benchmarking`), microseconds.
        blocked_p90_us: 90th percentile latency, blocked, microseconds.
    """

    name: str
    file_bytes: int
    gzip_bytes: int
    median_us: float
    p90_us: float
    accuracy: float | None
    weights: str
    runtime: str
    blocked_median_us: float = float("nan")
    blocked_p90_us: float = float("nan")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Result of `compare`; prints as a markdown table (readable as plain text)."""

    rows: tuple[ComparisonRow, ...]
    num_threads: int
    notes: tuple[str, ...] = ()
    block: int = 50
    runs: int = 100
    warmup: int = 10

    @property
    def protocol(self) -> str:
        """How the latencies were measured (`protocol_line`)."""
        return protocol_line(self.num_threads, self.block, self.runs, self.warmup)

    def speedup(self, name: str, protocol: str = "conservative") -> float:
        """Baseline latency / `name`'s: "interleaved", "blocked", or "conservative"
        (the lower of the two ratios)."""
        base, row = self.rows[0], self[name]
        interleaved = base.median_us / row.median_us
        blocked = base.blocked_median_us / row.blocked_median_us
        ratios = {"interleaved": interleaved, "blocked": blocked,
                  "conservative": min(interleaved, blocked)}
        if protocol not in ratios:
            raise ValueError(f"Expected protocol in {sorted(ratios)}. Received: {protocol!r}")
        return ratios[protocol]

    def __getitem__(self, name: str) -> ComparisonRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"No model named {name!r}; models: {[r.name for r in self.rows]}")

    def to_dict(self) -> dict:
        """Every fact of the table as plain data (for JSON): each row with its speed-ups
        and size ratio against the baseline (the first row)."""
        base = self.rows[0]
        rows = [{**dataclasses.asdict(r),
                 "size_vs_baseline": r.file_bytes / base.file_bytes,
                 "speedup": {p: self.speedup(r.name, p)
                             for p in ("interleaved", "blocked", "conservative")}}
                for r in self.rows]
        return {"baseline": base.name, "rows": rows, "num_threads": self.num_threads,
                "block": self.block, "runs": self.runs, "warmup": self.warmup,
                "protocol": self.protocol,
                "notes": list(self.notes)}

    def to_markdown(self) -> str:
        """The rows as a markdown table, then the notes."""
        base = self.rows[0]
        lines = [
            f"| model | TFLite bytes | size vs {base.name} | gzip bytes "
            "| interleaved median us | p90 us | blocked median us | p90 us "
            f"| speed-up vs {base.name}, interleaved / blocked | accuracy | weights | runtime |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for r in self.rows:
            accuracy = "-" if r.accuracy is None else f"{r.accuracy:.4f}"
            lines.append(
                f"| {r.name} | {r.file_bytes:,} | {r.file_bytes / base.file_bytes:.3f} | "
                f"{r.gzip_bytes:,} | {format_us(r.median_us)} | {format_us(r.p90_us)} | "
                f"{format_us(r.blocked_median_us)} | {format_us(r.blocked_p90_us)} | "
                f"{self.speedup(r.name, 'interleaved'):.2f}x / "
                f"{self.speedup(r.name, 'blocked'):.2f}x | {accuracy} | {r.weights} | {r.runtime} |"
            )
        lines.append("")
        lines.append(self.protocol)
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def compare(
    models: "Mapping[str, keras.Model | bytes | str | os.PathLike]",
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    num_threads: int = 1,
    runs: int = 100,
    warmup: int = 10,
    xnnpack: bool = True,
    block: int = 50,
    verbose: int | str = "auto",
) -> Comparison:
    """Converts each model to sparse TFLite and tabulates size, latency, accuracy.

    Keras models (pruned ones may still hold `PruneWrapper` layers) go through
    `convert(model, sparse=True)`; bytes or paths are taken as TFLite files.
    Each model runs with the default XNNPACK delegate, or with built-in
    kernels when XNNPACK refuses it (noted) or `xnnpack=False`. Ratios are against the first model.

    Args:
        models: name -> Keras model, TFLite bytes or .tflite path; the first
            is the baseline (usually the dense model).
        x: samples with a batch axis; latency uses the first one.
        y: integer labels for `x`, for the accuracy column.
        num_threads: interpreter threads.
        runs: timed invokes per model and protocol (interleaved, then blocked).
        warmup: untimed invokes per model first (and before every block).
        xnnpack: run with the default XNNPACK delegate (False: built-in kernels).
        block: consecutive timed invokes per block in the blocked protocol.
        verbose: 1 shows Keras' progress bars (one per conversion, one over the timed
            invokes), 0 nothing; `"auto"` shows them when stdout is a terminal.

    Example:
    table = compare({"dense": dense, "pruned": pruned}, x_test, y_test)
    print(table)
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError(
            f"Expected models to be a non-empty dict of name -> model. Received: {models!r}"
        )
    check_data(x, y)
    check_counts(runs, warmup)
    check_block(block)
    contents = {name: _tflite(name, model, verbose) for name, model in models.items()}
    loaded = {
        name: load_interpreter(c, num_threads=num_threads, xnnpack=xnnpack)
        for name, c in contents.items()
    }
    arrays = as_list(x)
    for name, item in loaded.items():
        try:
            check_inputs(model_input_details(item.interpreter), arrays)
            check_label_range(model_output_details(item.interpreter), y)
        except ValueError as error:  # which of the models does not take x (or y)
            raise ValueError(f"models[{name!r}] does not take the data given: {error}") from None
        set_single_sample(item.interpreter, x)
    interpreters = [i.interpreter for i in loaded.values()]
    progress = progress_bar(2 * runs * len(interpreters), verbose, unit_name="invoke")
    times = time_interleaved(interpreters, runs=runs, warmup=warmup, progress=progress)
    blocked = time_blocked(interpreters, runs=runs, warmup=min(warmup, block), block=block,
                           progress=progress)
    rows = []
    for (name, item), seconds, block_seconds in zip(loaded.items(), times, blocked):
        report = inspect(contents[name])
        outputs = run(item.interpreter, arrays)
        warn_if_not_finite(outputs, name=f"models[{name!r}]")
        accuracy = top1(outputs, y) if y is not None else None
        rows.append(
            ComparisonRow(
                name,
                report.file_bytes,
                report.gzip_bytes,
                *median_p90(seconds),
                accuracy,
                report.summary(),
                f"{item.backend}/{item.resolver}",
                *median_p90(block_seconds),
            )
        )
    notes = tuple(f"{name}: {n}" for name, item in loaded.items() for n in item.notes)
    return Comparison(tuple(rows), num_threads, notes, block, runs, warmup)


def _tflite(name: str, model, verbose) -> bytes:
    if is_keras_model(model):
        from tflite_export.conversion import convert
        from tflite_export.sparse_kernels import SparsityWarning

        # The dense baseline would warn that nothing is sparse; the table says it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SparsityWarning)
            return convert(model, sparse=True, verbose=verbose)
    if isinstance(model, (bytes, bytearray, str, os.PathLike)):
        return read_model(model)
    raise TypeError(
        f"Expected models[{name!r}] to be a keras.Model, TFLite bytes or a path. "
        f"Received: {type(model).__name__}"
    )
