"""Plots of a pruning run, each returned as a matplotlib `Figure` (save it with `savefig`).

- `schedule(callback)`: the sparsity and learning rate a pruning callback set over its fit;
- `layer_sparsity(model)`: one bar per pruned weight, with its size and what is left;
- `accuracy_vs_sparsity(curves)`: accuracy against sparsity, one line per method of a sweep;
- `tflite_comparison(comparison)`: latency (both timing protocols) and file size of
  `tflite_export.compare`'s models;
- `sensitivity(result, target=...)`: the per-layer curves of `kerasprune.sensitivity`
  and the allocation for a target.

matplotlib is imported when a plot is drawn, not when kerasprune is imported; the figures are
built without `pyplot`, so no display or global state is involved.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from kerasprune.core.report import sparsity_report
from kerasprune.core.sensitivity_analysis import SensitivityResult
from kerasprune.core.validation import is_number


def _figure(rows: int = 1, cols: int = 1, *, height: float = 3.2, width: float = 6.4,
            sharex: bool = False):
    """A Figure with a grid of axes (in `figure.axes`), without pyplot."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("kerasprune.plot needs matplotlib: pip install matplotlib") from error
    figure = Figure(figsize=(width, height * rows), layout="constrained")
    figure.subplots(rows, cols, squeeze=False, sharex=sharex)
    return figure


def schedule(callback: Any):
    """The sparsity and the learning rate a pruning callback set during its last fit.

    Reads `callback.trace` (steps where the masks changed, and where the learning rate was
    set or read). Both panels share one x axis, from the fit's first step to its end
    (each value holds until the next change, the last one to the end); the x axis is in
    epochs when the epoch length is known, else in steps.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    >>> model.compile("sgd", "mse")
    >>> gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
    ...                                  finetune_epochs=1)
    >>> _ = model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=3, callbacks=[gmp], verbose=0)
    >>> figure = schedule(gmp)
    >>> [axes.get_ylabel() for axes in figure.axes], [float(x) for x in figure.axes[1].get_xlim()]
    (['sparsity', 'learning rate'], [0.0, 3.0])
    """
    trace = getattr(callback, "trace", None)
    if not isinstance(trace, Mapping) or not trace.get("sparsity"):
        raise ValueError(
            "`callback` must be a kerasprune pruning callback that ran a fit (its `trace` is "
            f"filled during fit). Received: callback={callback!r}"
        )
    per_epoch = getattr(callback, "steps_per_epoch", 0) or 0
    scale, unit = (1.0 / per_epoch, "epoch") if per_epoch else (1.0, "step")
    first = min(step for key in ("sparsity", "learning_rate") for step, _ in trace.get(key) or [])
    end = _fit_end(callback, trace)
    figure = _figure(2, 1, height=2.4, sharex=True)
    axes = figure.axes
    for ax, key, label in ((axes[0], "sparsity", "sparsity"),
                           (axes[1], "learning_rate", "learning rate")):
        points = list(trace.get(key) or [])
        if points:
            steps, values = zip(*points, (end, points[-1][1]))  # the last value to the end
            ax.step([s * scale for s in steps], values, where="post", marker=".",
                    markevery=list(range(len(points))))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_xlim(first * scale, end * scale)
    axes[0].set_ylim(0, 1)
    axes[1].set_xlabel(unit)
    axes[0].set_title(f"{type(callback).__name__}: schedule over the fit")
    return figure


def _fit_end(callback: Any, trace: Mapping) -> int:
    """The step after the fit's last one (the last epoch's end when epochs are known)."""
    per_epoch = getattr(callback, "steps_per_epoch", 0) or 0
    epoch = getattr(callback, "epoch", None)
    if per_epoch and isinstance(epoch, int):
        return (epoch + 1) * per_epoch
    return max(step for key in ("sparsity", "learning_rate")
               for step, _ in trace.get(key) or []) + 1


def layer_sparsity(model):
    """One horizontal bar per prunable weight: its sparsity, labelled with its size.

    Each label gives the weight's number of entries, and each bar the nonzeros left, so
    the weights that hold most of the model stand out.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)),
    ...                                            keras.layers.Dense(4, name="fc")]))
    >>> _ = kerasprune.update_masks(model, 0.5)
    >>> figure = layer_sparsity(model)
    >>> [float(bar.get_width()) for bar in figure.axes[0].patches]
    [0.5]
    >>> [label.get_text() for label in figure.axes[0].get_yticklabels()]
    ['fc/kernel (32 weights)']
    """
    report = sparsity_report(model)
    if not report.rows:
        raise ValueError(f"Model '{model.name}' has no prunable weights to plot.")
    sizes = [r.size for r in report.rows]
    labels = [f"{r.layer}/{r.weight} ({n:,} weights)" for r, n in zip(report.rows, sizes)]
    figure = _figure(height=max(1.6, 0.35 * len(labels) + 1.0))
    ax = figure.axes[0]
    bars = ax.barh(labels, [r.sparsity for r in report.rows], color="tab:blue")
    ax.bar_label(bars, [f" {r.nonzeros:,} left" for r in report.rows], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlim(0, 1.2)  # room for the counts right of a fully pruned bar
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("sparsity")
    ax.set_title(f"Sparsity per weight: {report.total:.1%} of {sum(sizes):,} pruned",
                 fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    return figure


def accuracy_vs_sparsity(
    curves: Mapping[str, Sequence[tuple[float, float]] | Mapping[float, float]],
    *,
    dense_accuracy: float | None = None,
):
    """Accuracy against sparsity, one line per method, e.g. from a sweep of targets.

    Args:
        curves: `{label: [(sparsity, accuracy), ...]}` (or `{label: {sparsity: accuracy}}`).
        dense_accuracy: the unpruned model's accuracy, drawn as a dashed line.

    Example:

    >>> figure = accuracy_vs_sparsity({"GMP": [(0.5, 0.98), (0.9, 0.96)]}, dense_accuracy=0.985)
    >>> figure.axes[0].lines[0].get_xdata().tolist()
    [0.5, 0.9]
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(
            "`curves` must be a non-empty dict {label: [(sparsity, accuracy), ...]}. "
            f"Received: curves={curves!r}"
        )
    lines = {label: _curve_pairs(label, points) for label, points in curves.items()}
    if dense_accuracy is not None and not _finite(dense_accuracy):
        raise ValueError("`dense_accuracy` must be a finite number or None. "
                         f"Received: dense_accuracy={dense_accuracy!r}")
    figure = _figure()
    ax = figure.axes[0]
    for label, pairs in lines.items():
        sparsities, accuracies = zip(*pairs)
        ax.plot(sparsities, accuracies, marker="o", label=str(label))
    if dense_accuracy is not None:
        ax.axhline(dense_accuracy, color="gray", linestyle="--", label="dense")
    ax.set_xlabel("sparsity")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs sparsity")
    ax.legend()
    ax.grid(alpha=0.3)
    return figure


def _finite(value: Any) -> bool:
    return is_number(value) and np.isfinite(float(value))


def _curve_pairs(label: Any, points: Any) -> list[tuple[float, float]]:
    """`curves[label]` as sorted (sparsity, accuracy) pairs of finite numbers, or an error
    naming the curve and the first bad point."""
    expected = (f"`curves[{label!r}]` must be a non-empty list of (sparsity, accuracy) pairs "
                "of numbers (or a dict {sparsity: accuracy})")
    if isinstance(points, Mapping):
        points = list(points.items())
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence) or not points:
        raise ValueError(f"{expected}. Received: {points!r}")
    for point in points:
        if (not isinstance(point, (Sequence, np.ndarray)) or isinstance(point, (str, bytes))
                or len(point) != 2 or not all(_finite(v) for v in point)):
            raise ValueError(f"{expected}. Received the point {point!r} in {points!r}")
    outside = [s for s, _ in points if not 0 <= float(s) <= 1]
    if outside:
        raise ValueError(f"`curves[{label!r}]` sparsities must be fractions in [0, 1] (0.9, "
                         f"not 90). Received: {outside}")
    return sorted((float(s), float(a)) for s, a in points)


def tflite_comparison(comparison: Any):
    """Latency in both timing protocols and file size (raw, gzip) of a comparison's models.

    Args:
        comparison: what `tflite_export.compare` returns (rows with `name`, `median_us`,
            `p90_us`, `blocked_median_us`, `blocked_p90_us`, `file_bytes`, `gzip_bytes`).

    The latency panel has one bar per protocol (interleaved: the models alternate invoke
    by invoke; blocked: each runs consecutive invokes, as deployed), with the p90 as a
    whisker, and says how it was measured (one sample per invoke, the thread count).

    Example:

    figure = tflite_comparison(tflite_export.compare({"dense": dense, "pruned": pruned}, x))
    figure.savefig("comparison.png")
    """
    rows = list(getattr(comparison, "rows", ()))
    if not rows:
        raise ValueError(
            "`comparison` must be a tflite_export.Comparison with at least one row. "
            f"Received: comparison={comparison!r}"
        )
    names = [r.name for r in rows]
    figure = _figure(1, 2, width=9.6)
    latency, size = figure.axes
    positions = np.arange(len(rows))
    for offset, protocol, median, p90 in ((-0.2, "interleaved", "median_us", "p90_us"),
                                          (0.2, "blocked", "blocked_median_us",
                                           "blocked_p90_us")):
        medians = [getattr(r, median) for r in rows]
        whiskers = [[0] * len(rows), [max(getattr(r, p90) - m, 0.0) for r, m in zip(rows, medians)]]
        latency.bar(positions + offset, medians, width=0.4, yerr=whiskers, capsize=3,
                    label=protocol)
    latency.set_xticks(positions, names)
    latency.set_ylabel("latency per invoke (us)")
    threads = getattr(comparison, "num_threads", 1)
    latency.set_title(f"Median latency (p90 whisker), 1 sample, {threads} thread(s)",
                      fontsize="medium")
    latency.legend(title="timing protocol", fontsize="small")
    size.bar(positions - 0.2, [r.file_bytes / 1024 for r in rows], width=0.4, label="file")
    size.bar(positions + 0.2, [r.gzip_bytes / 1024 for r in rows], width=0.4, label="gzip")
    size.set_xticks(positions, names)
    size.set_ylabel("KiB")
    size.set_title("TFLite file size", fontsize="medium")
    size.legend(fontsize="small")
    for ax in (latency, size):
        ax.grid(axis="y", alpha=0.3)
    return figure


def sensitivity(result: Any, ax=None, *, target: float | None = None):
    """One curve per layer: the metric's drop against that layer's sparsity, others dense.

    Args:
        result: a `kerasprune.SensitivityResult`.
        ax: a matplotlib Axes to draw on; a new Figure is made when None.
        target: if given, mark each layer's sparsity from `result.overrides(target)` with
            a star on its curve, and give it in the legend (layers the allocation keeps
            dense get no star: they would all sit at (0, 0)).

    Example:

    >>> import numpy as np
    >>> from kerasprune.core.sensitivity_analysis import SensitivityResult
    >>> result = SensitivityResult("loss", 0.1, (0.5, 0.9),
    ...     {"conv": np.array([0.0, 0.3]), "dense": np.array([0.0, 0.05])},
    ...     {"conv": 300, "dense": 3000})
    >>> figure = sensitivity(result, target=0.8)
    >>> [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    ['conv: 50%', 'dense: 83%']
    """
    if not isinstance(result, SensitivityResult):
        raise TypeError("`result` must be a kerasprune.SensitivityResult (what "
                        f"`kerasprune.sensitivity` returns). Received: result={result!r}")
    if ax is None:
        ax = _figure(height=4.0).axes[0]
    grid = (0.0, *result.sparsities)
    chosen = result.overrides(target) if target is not None else {}
    for layer, drops in result.drops.items():
        label = f"{layer}: {chosen[layer]:.0%}" if layer in chosen else layer
        (line,) = ax.plot(grid, (0.0, *drops), marker="o", markersize=4, label=label)
        s = chosen.get(layer, 0.0)
        if s > 0:
            ax.plot([s], [result.predicted_drop({layer: s})], marker="*", markersize=13,
                    markeredgecolor="black", color=line.get_color(), linestyle="none")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("sparsity of the layer (others dense)")
    ax.set_ylabel(f"{result.metric} drop")
    title = "Layer sensitivity"
    if target is not None:
        title += f"; stars and legend: allocation for {target:.0%}"
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", title="layer: allocated" if target is not None else None)
    return ax.figure
