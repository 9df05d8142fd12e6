"""`kerasprune inspect`: how each weight tensor of a TFLite file is stored and run."""

from __future__ import annotations

import argparse

from kerasprune.cli.json_output import add_json_option, print_result


def add_parser(commands) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="show how each weight tensor of a TFLite file is stored and run",
        description="List the weight tensors of a TFLite file: sparse or dense, block "
        "shape, op, whether they run on a sparse kernel or are expanded by DENSIFY; "
        "file size raw and gzipped.",
    )
    inspect.add_argument("tflite", help="path to a .tflite file")
    add_json_option(inspect)
    inspect.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import tflite_export

    print_result(tflite_export.inspect(args.tflite), args.json)
    return 0
