"""`kerasprune inspect`: how each weight tensor of a TFLite file is stored and run."""

from __future__ import annotations

import argparse

from kerasprune.cli.console import Console


def add_parser(commands) -> argparse.ArgumentParser:
    inspect = commands.add_parser(
        "inspect",
        help="show how each weight tensor of a TFLite file is stored and run",
        description="List the weight tensors of a TFLite file by Keras layer: sparse or "
        "dense, block shape, op, whether they run on a sparse kernel or are expanded by "
        "DENSIFY; file size raw and gzipped. --json adds TFLite's own tensor names.",
    )
    inspect.add_argument("tflite", help="path to a .tflite file")
    inspect.set_defaults(run=run)
    return inspect


def run(args: argparse.Namespace, console: Console) -> int:
    from tflite_export.inspection import inspect

    report = inspect(args.tflite)
    console.result(str(report), report.to_dict())
    return 0
