"""The `kerasprune` command: prune a model by a recipe, export it to sparse TFLite, inspect
the file, time it. One module per command.

Examples:

    kerasprune prune out/dense.keras --recipe out/recipe.yaml --data out/data.npz -o out/run
    kerasprune export out/pruned.keras -o out/model.tflite --quantize dynamic
    kerasprune inspect out/pruned.tflite --json
    kerasprune bench out/pruned.tflite --dense out/dense.tflite --data out/data.npz
    kerasprune --version

`kerasprune --help` and argument errors answer at once: importing `kerasprune` imports
Keras and TensorFlow, which takes seconds, so when the command starts `kerasprune` defers
that (see `kerasprune._started_as_the_command`) and a command imports them (quietly, see
`console`) only once its arguments are parsed, and only if it needs them (`inspect` and
`bench` of a .tflite file need only LiteRT).
May import: numpy, `kerasprune` (the package alone: its version); inside functions also
`kerasprune.*`, `tflite_export`, keras and matplotlib.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import kerasprune
from kerasprune.cli import bench_command, export_command, inspect_command, prune_command
from kerasprune.cli.console import session
from kerasprune.cli.options import add_common_options

__version__ = kerasprune.__version__

ERRORS = (ValueError, TypeError, OSError, RuntimeError, ImportError)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `kerasprune` command line; returns the exit status.

    Example:

    >>> main(["--version"])
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the run's report
    verbosity = 1 + args.verbose - args.quiet
    with session(verbosity, args.json) as console:
        try:
            return args.run(args, console)
        except BrokenPipeError:  # `kerasprune inspect x --json | head`: the reader left
            return 1
        except ERRORS as error:
            print(f"kerasprune {args.command}: error: {error}", file=sys.stderr)
            return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasprune",
        description="Prune Keras models by a recipe, export them to sparse TFLite, inspect "
        "and benchmark them. Run `kerasprune COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"kerasprune {__version__}")
    add_common_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (prune_command, export_command, inspect_command, bench_command):
        add_common_options(module.add_parser(commands))
    return parser


if __name__ == "__main__":
    sys.exit(main())
