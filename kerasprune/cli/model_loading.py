"""Loading a `.keras` file for a command, after importing the modules its custom layers need."""

from __future__ import annotations

import argparse
import importlib
import os
import sys


def add_import_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import", dest="imports", action="append", default=[], metavar="MODULE",
        help="import this module first (repeatable), so that the custom layers it registers "
        "with Keras load; modules are found from the current folder too",
    )


def load_keras_model(path: str, imports: list[str]):
    """Import `imports`, then load the model at `path` (kerasprune's classes registered)."""
    import keras

    import kerasprune  # noqa: F401  registers PruneWrapper and the patterns for loading
    import kerasprune.tfmot  # noqa: F401  registers PruneLowMagnitude

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in imports:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ImportError(f"--import {name}: {error}") from error
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    return keras.saving.load_model(path)
