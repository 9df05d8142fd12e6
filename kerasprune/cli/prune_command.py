"""`kerasprune prune`: train a model with pruning by a YAML recipe and write everything out.

    kerasprune prune model.keras --recipe recipe.yaml --data data.npz -o out

writes `out/pruned.keras` (the pruned model, masks included), `out/shrunk.keras` when the
recipe shrinks, `out/pruned.tflite` (what the recipe exports, converted by its `export`
section), `out/report.md` (sparsity table, dense vs pruned TFLite table, plots), the plots
as PNG, and `out/recipe.yaml` (the recipe it ran).

Everything that can be checked is checked before training starts: the output folder,
the recipe (its export settings included), the data file and its layout, the model file,
the data's shape against the model's input, the recipe's layer selection against the model
(`kerasprune.prune` runs before `fit`), and that the plots can be drawn.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kerasprune.cli.console import Console
from kerasprune.cli.data import LAYOUT, load_data
from kerasprune.cli.model_loading import add_import_option, check_keras_file, load_keras_model
from kerasprune.cli.options import count


def add_parser(commands) -> argparse.ArgumentParser:
    prune = commands.add_parser(
        "prune",
        help="prune a .keras model by a YAML recipe; write the model, TFLite file and report",
        description="Train MODEL with pruning as RECIPE describes (method, layers, training, "
        f"shrink, export) on DATA ({LAYOUT}; x and y are split 80/20 into training and "
        "test data), and write pruned.keras, pruned.tflite, report.md with its plots, and "
        "recipe.yaml into the OUTPUT folder. Everything is checked before training.",
    )
    prune.add_argument("model", help="path to a .keras file (the dense model)")
    prune.add_argument("--recipe", required=True, metavar="RECIPE.yaml", help="the run")
    prune.add_argument("--data", required=True, metavar="DATA.npz", help="training/test arrays")
    prune.add_argument("-o", "--output", required=True,
                       help="folder to write into (created if missing)")
    prune.add_argument("--runs", type=count("runs", 1), default=100,
                       help="timed TFLite invokes per model and protocol in the report "
                       "(default 100)")
    add_import_option(prune)
    prune.set_defaults(run=run)
    return prune


def run(args: argparse.Namespace, console: Console) -> int:
    check_output_folder(args.output)
    from kerasprune.recipe import Recipe

    recipe = Recipe.load(args.recipe)
    (x, y), (x_test, y_test) = load_data(args.data).train_test()
    check_keras_file(args.model)
    _check_plotting()
    model = load_keras_model(args.model, args.imports)
    check_input_shape(model, x, args.data)
    from tflite_export.conversion import check_quantize_fits

    check_quantize_fits(model, recipe.export["quantize"])  # before training, not after
    from kerasprune.cli.run_report import write_run

    pruned, callback, _ = recipe.run(model, x, y, validation_data=(x_test, y_test),
                                     verbose=console.progress)
    summary = write_run(Path(args.output), recipe, model, pruned, callback, (x_test, y_test),
                        train_samples=x, runs=args.runs, verbose=console.progress,
                        argv=args.argv)
    console.result(summary.text(), summary.facts())
    return 0


# Everything `write_run` may write (checked before training: a run never overwrites one).
RESULT_FILES = ("pruned.keras", "shrunk.keras", "pruned.tflite", "recipe.yaml", "report.md",
                "layer_sparsity.png", "comparison.png", "schedule.png")


def check_output_folder(path: str) -> None:
    """The output must be a folder (or not exist yet) under a writable parent, holding no
    earlier run's results."""
    if not path.strip():
        raise ValueError(f"-o must be the path of a folder for the results. Received: "
                         f"-o {path!r}")
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(
            f"-o {path!r} is a file; kerasprune prune writes a folder of results "
            "(pruned.keras, pruned.tflite, report.md, ...): give a folder path."
        )
    previous = sorted(name for name in RESULT_FILES
                      if os.path.exists(os.path.join(path, name)))
    if previous:
        raise FileExistsError(
            f"-o {path!r} already holds the results of a run ({', '.join(previous)}), "
            "which this run would overwrite: give a new folder, or move them away first.")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise PermissionError(f"-o {path!r} cannot be created: {existing!r} is not a "
                              "writable folder.")


def check_input_shape(model, x, path: str) -> None:
    """Refuse data whose sample shape differs from a single-input model's input."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1 or not hasattr(x, "shape"):
        return
    expected = tuple(inputs[0].shape[1:])
    fits = len(expected) == x.ndim - 1 and all(
        e is None or e == a for e, a in zip(expected, x.shape[1:]))
    if not fits:
        wanted = ", ".join("None" if e is None else str(e) for e in expected)
        raise ValueError(f"--data {path!r}: model '{model.name}' takes inputs of shape "
                         f"(batch, {wanted}). Received: samples of shape {x.shape}")


def _check_plotting() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(f"kerasprune prune draws its report's plots with matplotlib, "
                          f"which cannot be imported ({error}): pip install matplotlib") from None
