"""What `kerasprune prune` writes: the model, its TFLite file, plots and a markdown report."""

from __future__ import annotations

import dataclasses
import shlex
import warnings
from pathlib import Path

import numpy as np


@dataclasses.dataclass
class RunSummary:
    """The facts of a pruning run, printed as text or JSON by the command."""

    written: list
    method: str
    sparsity: float
    model_sparsity: float
    accuracy: float | None
    theoretical_speedup: float
    shrunk: bool
    weights: str
    comparison: object
    loss: float | None = None

    def measured(self) -> str:
        """The Keras test accuracy, or the loss where no accuracy is computed (regression)."""
        if self.accuracy is not None:
            return f"; Keras test accuracy {self.accuracy:.4f}"
        if self.loss is None:
            return ""
        return f"; Keras test loss {self.loss:.4g} (no accuracy: y is not class labels)"

    def facts(self) -> dict:
        return {
            "written": [str(p) for p in self.written], "method": self.method,
            "sparsity": self.sparsity, "model_sparsity": self.model_sparsity,
            "accuracy": self.accuracy, "loss": self.loss,
            "theoretical_speedup": self.theoretical_speedup,
            "shrunk": self.shrunk, "tflite_weights": self.weights,
            "tflite": self.comparison.to_dict(),
        }

    def text(self) -> str:
        row = self.comparison["pruned"]
        return "\n".join([
            f"{self.method}: {self.sparsity:.2%} of the prunable weights pruned{self.measured()}",
            f"theoretical speed-up {self.theoretical_speedup:.2f}x (dense / remaining "
            "multiply-accumulates" + (", after shrink)" if self.shrunk else ")"),
            f"TFLite speed-up vs dense: {self.comparison.speedup('pruned', 'interleaved'):.2f}x "
            f"interleaved, {self.comparison.speedup('pruned', 'blocked'):.2f}x blocked; "
            f"file {row.file_bytes:,} B ({row.file_bytes / self.comparison.rows[0].file_bytes:.3f}"
            f" of dense); weights: {self.weights}",
            "wrote " + ", ".join(str(p) for p in self.written),
        ])


def write_run(out: Path, recipe, dense, pruned, callback, test_data, *, train_samples,
              runs: int = 100, verbose: int = 0, argv: list[str] = ()) -> RunSummary:
    """Write the outputs of a pruning run into `out`; returns what the command prints.
    `argv` is the command's arguments, quoted in the report. The trained model and the recipe
    are written first: if a later step fails, report.md names the failure and it is raised."""
    out.mkdir(parents=True, exist_ok=True)
    exported = recipe.exported_model(pruned)
    paths = {"pruned.keras": out / "pruned.keras"}
    pruned.save(paths["pruned.keras"])
    if recipe.shrink:
        paths["shrunk.keras"] = out / "shrunk.keras"
        exported.save(paths["shrunk.keras"])
    paths["recipe.yaml"] = out / "recipe.yaml"
    recipe.save(paths["recipe.yaml"])
    try:
        return _export_and_report(out, paths, recipe, dense, pruned, exported, callback,
                                  test_data, train_samples, runs, verbose, argv)
    except Exception as error:  # the trained model is kept: report.md names the failure
        paths["report.md"] = out / "report.md"
        paths["report.md"].write_text(
            f"# kerasprune prune: failed after training\n\n`kerasprune {' '.join(argv)}`\n\n"
            f"Training finished; the trained model is in pruned.keras and the recipe in "
            f"recipe.yaml, but the steps after it failed:\n\n    {type(error).__name__}: "
            f"{error}\n")
        raise


def _export_and_report(out, paths, recipe, dense, pruned, exported, callback, test_data,
                       train_samples, runs, verbose, argv) -> RunSummary:
    from tflite_export.comparison import compare
    from tflite_export.conversion import convert
    from tflite_export.inspection import inspect

    from kerasprune import plot
    from kerasprune.core.report import sparsity_report

    x_test, y_test = test_data
    export = recipe.export
    representative = train_samples[:100] if export["quantize"] == "int8" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        content = convert(exported, sparse=export["sparse"], quantize=export["quantize"],
                          representative_data=representative, verbose=verbose)
    for warning in caught:  # shown by the command, and kept in the report
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    paths["pruned.tflite"] = out / "pruned.tflite"
    paths["pruned.tflite"].write_bytes(content)
    labels = class_labels(y_test)
    comparison = compare({"dense": dense, "pruned": content}, x_test, labels,
                         runs=runs, warmup=min(10, runs), verbose=verbose)
    figures = {"layer_sparsity.png": plot.layer_sparsity(pruned),
               "comparison.png": plot.tflite_comparison(comparison)}
    if callback is not None:
        figures["schedule.png"] = plot.schedule(callback)
    for name, figure in figures.items():
        paths[name] = out / name
        figure.savefig(paths[name], dpi=100)
    report = sparsity_report(pruned)
    speedup = (sparsity_report(exported, baseline=dense) if recipe.shrink else report).speedup
    evaluated = pruned.evaluate(x_test, y_test, verbose=0, return_dict=True)
    summary = RunSummary(
        [], recipe.method, report.total, report.model_sparsity, _accuracy(pruned, x_test, labels),
        speedup, recipe.shrink, inspect(content).summary(), comparison,
        evaluated.get("loss"))
    paths["report.md"] = out / "report.md"
    notes = [str(w.message) for w in caught]
    paths["report.md"].write_text(_report(recipe, report, summary, sorted(figures), notes,
                                          argv))
    summary.written = list(paths.values())
    return summary


def _accuracy(model, x, labels) -> float | None:
    """The Keras accuracy on `labels` (None where accuracy is not defined), computed here:
    the recipe's metrics may not include it."""
    if labels is None:
        return None
    from tflite_export.benchmarking import top1

    predicted = model.predict(x, batch_size=256, verbose=0)
    return top1(np.asarray(predicted[0] if isinstance(predicted, (list, tuple)) else predicted),
                labels)


def class_labels(y):
    """Integer class labels for `y` where accuracy is defined (integer labels, one-hot
    rows, binary 0/1 columns); None otherwise (regression), so only the loss is reported."""
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] > 1:
        one_hot = np.all((labels == 0) | (labels == 1)) and np.all(labels.sum(axis=1) == 1)
        return labels.argmax(axis=1) if one_hot else None
    labels = labels.reshape(len(labels), -1)[:, 0] if labels.ndim == 2 else labels
    whole = np.issubdtype(labels.dtype, np.number) and bool(np.all(labels == np.round(labels)))
    return labels.astype("int64") if labels.ndim == 1 and whole else None


def _report(recipe, report, summary: RunSummary, figures: list[str], notes: list[str],
            argv) -> str:
    command = " ".join(shlex.quote(a) for a in ["kerasprune", *argv])
    target = recipe.callback.get("target_sparsity", recipe.callback.get("sparsity"))
    comparison = summary.comparison
    lines = [
        "# kerasprune prune report",
        "",
        f"Command: `{command}`  ",
        f"Method: `{recipe.method}`, target sparsity {target}"
        + ("; the pruned channels were removed (`shrink`)" if recipe.shrink else "")
        + "; the recipe that ran is [recipe.yaml](recipe.yaml).",
        "",
        "## Sparsity",
        "",
        f"Reached {report.total:.2%} of the prunable weights "
        f"({report.model_sparsity:.2%} of all weights)"
        + summary.measured() + " (pruned model).",
        f"Theoretical speed-up {summary.theoretical_speedup:.2f}x (dense / remaining "
        "multiply-accumulates).",
        "",
        "```",
        str(report),
        "```",
        "",
        *[f"![{name[:-4]}]({name})\n" for name in figures if name != "comparison.png"],
        "## TFLite: dense vs pruned",
        "",
        comparison.to_markdown(),
        "",
        f"pruned.tflite weights: {summary.weights} (DENSIFY weights are expanded at load "
        "time and run at dense speed; only a sparse kernel or removed channels run faster).",
        *[f"warning: {n}" for n in notes],
        "",
        "![dense vs pruned](comparison.png)",
        "",
    ]
    return "\n".join(lines)
