"""Plots of a pruning run, each returned as a matplotlib `Figure` (save it with `savefig`).

- `schedule(callback)`: the sparsity and learning rate a pruning callback set over its fit;
- `layer_sparsity(model)`: one bar per pruned weight;
- `accuracy_vs_sparsity(curves)`: accuracy against sparsity, one line per method of a sweep;
- `tflite_comparison(comparison)`: latency and file size of `tflite_export.compare`'s models.

matplotlib is imported when a plot is drawn, not when kerasprune is imported; the figures are
built without `pyplot`, so no display or global state is involved.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from kerasprune.core.report import sparsity_report


def _figure(rows: int = 1, cols: int = 1, *, height: float = 3.2, width: float = 6.4):
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("kerasprune.plot needs matplotlib: pip install matplotlib") from error
    figure = Figure(figsize=(width, height * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, axes


def schedule(callback: Any):
    """The sparsity and the learning rate a pruning callback set during its last fit.

    Reads `callback.trace` (steps where the masks changed, and where the learning rate was
    set or read); the x axis is in epochs when the epoch length is known, else in steps.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    >>> model.compile("sgd", "mse")
    >>> gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
    ...                                  finetune_epochs=1)
    >>> _ = model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=3, callbacks=[gmp], verbose=0)
    >>> figure = schedule(gmp)
    >>> [axes.get_ylabel() for axes in figure.axes]
    ['sparsity', 'learning rate']
    """
    trace = getattr(callback, "trace", None)
    if not isinstance(trace, Mapping) or not trace.get("sparsity"):
        raise ValueError(
            "`callback` must be a kerasprune pruning callback that ran a fit (its `trace` is "
            f"filled during fit). Received: callback={callback!r}"
        )
    per_epoch = getattr(callback, "steps_per_epoch", 0) or 0
    scale, unit = (1.0 / per_epoch, "epoch") if per_epoch else (1.0, "step")
    figure, axes = _figure(2, 1, height=2.4)
    for ax, key, label in ((axes[0, 0], "sparsity", "sparsity"),
                           (axes[1, 0], "learning_rate", "learning rate")):
        points = trace.get(key) or []
        if points:
            steps, values = zip(*points)
            ax.step([s * scale for s in steps], values, where="post", marker=".")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1, 0].set_xlabel(unit)
    axes[0, 0].set_title(f"{type(callback).__name__}: schedule over the fit")
    return figure


def layer_sparsity(model):
    """One horizontal bar per prunable weight: its sparsity (from `sparsity_report`).

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)),
    ...                                            keras.layers.Dense(4, name="fc")]))
    >>> _ = kerasprune.update_masks(model, 0.5)
    >>> figure = layer_sparsity(model)
    >>> [float(bar.get_width()) for bar in figure.axes[0].patches]
    [0.5]
    """
    report = sparsity_report(model)
    if not report.rows:
        raise ValueError(f"Model '{model.name}' has no prunable weights to plot.")
    labels = [f"{r.layer}/{r.weight}" for r in report.rows]
    figure, axes = _figure(height=max(1.6, 0.35 * len(labels) + 1.0))
    ax = axes[0, 0]
    ax.barh(labels, [r.sparsity for r in report.rows], color="tab:blue")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("sparsity")
    ax.set_title(f"Sparsity per weight (total {report.total:.1%})")
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
    figure, axes = _figure()
    ax = axes[0, 0]
    for label, points in curves.items():
        pairs = sorted(points.items() if isinstance(points, Mapping) else points)
        if not pairs:
            raise ValueError(f"`curves[{label!r}]` holds no (sparsity, accuracy) pairs.")
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


def tflite_comparison(comparison: Any):
    """Latency (median, p90 whisker) and file size (raw, gzip) of each model of a comparison.

    Args:
        comparison: what `tflite_export.compare` returns (rows with `name`, `median_us`,
            `p90_us`, `file_bytes`, `gzip_bytes`).

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
    figure, axes = _figure(1, 2, width=9.6)
    latency, size = axes[0, 0], axes[0, 1]
    medians = [r.median_us for r in rows]
    whiskers = [[0] * len(rows), [max(r.p90_us - r.median_us, 0.0) for r in rows]]
    latency.bar(names, medians, yerr=whiskers, capsize=4, color="tab:blue")
    latency.set_ylabel("latency per invoke (us)")
    latency.set_title("Median latency (bar), p90 (whisker)")
    positions = range(len(rows))
    size.bar([p - 0.2 for p in positions], [r.file_bytes / 1024 for r in rows], width=0.4,
             label="file")
    size.bar([p + 0.2 for p in positions], [r.gzip_bytes / 1024 for r in rows], width=0.4,
             label="gzip")
    size.set_xticks(list(positions), names)
    size.set_ylabel("KiB")
    size.set_title("TFLite file size")
    size.legend()
    for ax in (latency, size):
        ax.grid(axis="y", alpha=0.3)
    return figure
