"""`kerasprune prune`: train a model with pruning by a YAML recipe and write everything out.

    kerasprune prune model.keras --recipe recipe.yaml --data data.npz -o out

writes `out/pruned.keras` (the pruned model, masks included), `out/pruned.tflite`
(converted by the recipe's `export` section), `out/report.md` (sparsity table, dense vs
pruned TFLite table, plots), the plots as PNG, and `out/recipe.yaml` (the recipe it ran).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kerasprune.cli.model_loading import add_import_option, load_keras_model


def add_parser(commands) -> None:
    prune = commands.add_parser(
        "prune",
        help="prune a .keras model by a YAML recipe; write the model, TFLite file and report",
        description="Train MODEL with pruning as RECIPE describes (method, layers, training, "
        "export), on the arrays of DATA (x_train, y_train, x_test, y_test; or x, y whose "
        "last 20%% is the test split), and write pruned.keras, pruned.tflite, report.md with "
        "its plots, and recipe.yaml into OUTPUT.",
    )
    prune.add_argument("model", help="path to a .keras file (the dense model)")
    prune.add_argument("--recipe", required=True, metavar="RECIPE.yaml", help="the run")
    prune.add_argument("--data", required=True, metavar="DATA.npz", help="training/test arrays")
    prune.add_argument("-o", "--output", required=True, help="folder to write into")
    prune.add_argument("--runs", type=int, default=100,
                       help="timed TFLite invokes per model in the report (default 100)")
    prune.add_argument("--verbose", type=int, default=2, help="fit's verbosity (default 2)")
    add_import_option(prune)
    prune.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kerasprune.cli.run_report import write_run
    from kerasprune.recipe import Recipe

    recipe = Recipe.load(args.recipe)  # checked before anything is loaded or trained
    (x, y), (x_test, y_test) = load_training_data(args.data)
    model = load_keras_model(args.model, args.imports)
    pruned, callback, history = recipe.run(model, x, y, validation_data=(x_test, y_test),
                                           verbose=args.verbose)
    written = write_run(Path(args.output), recipe, model, pruned, callback, (x_test, y_test),
                        train_samples=x, runs=args.runs)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def load_training_data(path: str):
    """`((x_train, y_train), (x_test, y_test))` from an `.npz` file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"No data file at --data {path!r}.")
    with np.load(path) as data:
        names = set(data.files)
        if {"x_train", "y_train", "x_test", "y_test"} <= names:
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
        if {"x", "y"} <= names:
            x, y = data["x"], data["y"]
            cut = len(x) * 4 // 5
            if not 0 < cut < len(x) or len(y) != len(x):
                raise ValueError(f"--data {path!r}: x and y must hold the same number (>= 2) "
                                 f"of samples; found {len(x)} and {len(y)}.")
            return (x[:cut], y[:cut]), (x[cut:], y[cut:])
    raise ValueError(f"--data {path!r} must hold arrays x_train, y_train, x_test, y_test (or x "
                     f"and y); found {sorted(names)}")
