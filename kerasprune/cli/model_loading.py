"""Loading a `.keras` file for a command, after importing the modules its custom layers need."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import zipfile
import zlib


def add_import_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import", dest="imports", action="append", default=[], metavar="MODULE",
        help="import this module first (repeatable), so that the custom layers it registers "
        "with Keras load; modules are found from the current folder too",
    )


def check_keras_file(path: str) -> None:
    """Refuse a missing file, one that is not a `.keras` archive, or one whose config.json
    is not JSON, before importing Keras."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    if not _is_keras_archive(path):
        raise ValueError(
            f"{path!r} is not a .keras file: a .keras file is a zip archive holding "
            "config.json, and this one is not (corrupt, truncated, or another format such as "
            ".h5 or a SavedModel)."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            json.loads(archive.read("config.json"))
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ValueError(f"{path!r} is a corrupt .keras file: its config.json cannot be read "
                         f"as JSON ({error}).") from None


def load_keras_model(path: str, imports: list[str]):
    """Import `imports`, then load the model at `path` (kerasprune's classes registered)."""
    check_keras_file(path)
    import keras

    import kerasprune
    import kerasprune.tfmot  # noqa: F401  registers PruneLowMagnitude

    kerasprune._load_api()  # registers PruneWrapper and the patterns for loading

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in imports:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ImportError(f"--import {name}: {error}") from error
    return keras.saving.load_model(path)


def _is_keras_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return "config.json" in archive.namelist()
