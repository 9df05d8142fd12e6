"""The `kerasprune` command: prune a model by a recipe, export it to sparse TFLite, inspect
the file, time it. One module per command.

Examples:

    kerasprune prune model.keras --recipe recipe.yaml --data data.npz -o out
    kerasprune export pruned.keras -o model.tflite --quantize dynamic
    kerasprune inspect model.tflite --json
    kerasprune bench model.tflite --dense dense.tflite --data test.npz
    kerasprune --version
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from kerasprune.cli import bench_command, export_command, inspect_command, prune_command


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `kerasprune` command line; returns the exit status.

    Example:
    main(["inspect", "model.tflite"])
    0
    """
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, ImportError) as e:
        print(f"kerasprune {args.command}: error: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    from kerasprune import __version__

    parser = argparse.ArgumentParser(
        prog="kerasprune",
        description="Prune Keras models by a recipe, export them to sparse TFLite, inspect "
        "and benchmark them.",
    )
    parser.add_argument("--version", action="version", version=f"kerasprune {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (prune_command, export_command, inspect_command, bench_command):
        module.add_parser(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
