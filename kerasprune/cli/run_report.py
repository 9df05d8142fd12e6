"""What `kerasprune prune` writes: the model, its TFLite file, plots and a markdown report."""

from __future__ import annotations

import shlex
import sys
import warnings
from pathlib import Path


def write_run(out: Path, recipe, dense, pruned, callback, test_data, *, train_samples,
              runs: int = 100) -> list[Path]:
    """Write the outputs of a pruning run into `out`; returns the paths written."""
    import tflite_export

    from kerasprune import plot, sparsity_report

    out.mkdir(parents=True, exist_ok=True)
    x_test, y_test = test_data
    paths = {name: out / name for name in (
        "pruned.keras", "pruned.tflite", "recipe.yaml", "schedule.png", "layer_sparsity.png",
        "comparison.png", "report.md")}
    pruned.save(paths["pruned.keras"])
    export = recipe.export
    representative = train_samples[:100] if export["quantize"] == "int8" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", tflite_export.SparsityWarning)
        content = tflite_export.convert(pruned, sparse=export["sparse"],
                                        quantize=export["quantize"],
                                        representative_data=representative)
    paths["pruned.tflite"].write_bytes(content)
    recipe.save(paths["recipe.yaml"])
    comparison = tflite_export.compare({"dense": dense, "pruned": content}, x_test, y_test,
                                       runs=runs, warmup=min(10, runs))
    figures = {"schedule.png": plot.schedule(callback),
               "layer_sparsity.png": plot.layer_sparsity(pruned),
               "comparison.png": plot.tflite_comparison(comparison)}
    for name, figure in figures.items():
        figure.savefig(paths[name], dpi=100)
    accuracy = pruned.evaluate(x_test, y_test, verbose=0, return_dict=True).get("accuracy")
    notes = [str(w.message) for w in caught
             if issubclass(w.category, tflite_export.SparsityWarning)]
    paths["report.md"].write_text(_report(recipe, sparsity_report(pruned), comparison,
                                          accuracy, tflite_export.inspect(content), notes))
    return list(paths.values())


def _report(recipe, report, comparison, accuracy, inspection, notes) -> str:
    command = " ".join(shlex.quote(a) for a in ["kerasprune", *sys.argv[1:]])
    target = recipe.callback.get("target_sparsity")
    lines = [
        "# kerasprune prune report",
        "",
        f"Command: `{command}`  ",
        f"Method: `{recipe.method}`, target sparsity {target}; the recipe that ran is "
        "[recipe.yaml](recipe.yaml).",
        "",
        "## Sparsity",
        "",
        f"Reached {report.total:.2%} of the prunable weights "
        f"({report.model_sparsity:.2%} of all weights)"
        + (f"; Keras test accuracy of the pruned model {accuracy:.4f}." if accuracy is not None
           else "."),
        "",
        "```",
        str(report),
        "```",
        "",
        "![sparsity per weight](layer_sparsity.png)",
        "",
        "![schedule](schedule.png)",
        "",
        "## TFLite: dense vs pruned",
        "",
        comparison.to_markdown(),
        "",
        f"pruned.tflite weights: {inspection.summary()}.",
        *[f"warning: {n}" for n in notes],
        "",
        "![dense vs pruned](comparison.png)",
        "",
    ]
    return "\n".join(lines)
