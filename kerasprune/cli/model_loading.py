"""Loading a `.keras` file for a command, after importing the modules its custom layers need."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import zipfile
import zlib

#: What Keras imports by a saved object's module name (serialization_lib); `builtins`
#: names Keras' own functions.
KERAS_PACKAGES = ("keras", "keras_hub", "keras_cv", "keras_nlp", "builtins")


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


def load_keras_model(path: str, imports: list[str], *, compile: bool = True):
    """Import `imports`, then load the model at `path` (kerasprune's classes registered);
    `compile=False` skips its optimizer, loss and metrics (and Keras' warnings about them)."""
    check_keras_file(path)
    import keras

    import kerasprune

    kerasprune._load_api()  # registers every class kerasprune saves

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in imports:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ImportError(f"--import {name}: {error}") from error
    try:
        return keras.saving.load_model(path, compile=compile)
    except (TypeError, ValueError) as error:
        missing = _unregistered(_config(path), set(keras.saving.get_custom_objects()))
        if not missing:
            raise
        name, module = missing[0]
        where = (f"--import {module}" if module != "__main__" else
                 "--import MODULE (it was defined in a script: move it to a module)")
        raise TypeError(
            f"{path!r} uses the class {name!r} (module {module!r}), which is not registered "
            f"with Keras: pass {where}, the module that defines it and registers it with "
            "@keras.saving.register_keras_serializable()."
        ) from error


def _config(path: str):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _unregistered(config, registered: set[str]) -> list[tuple[str, str]]:
    """`(class name, module)` of every object in a saved config that Keras can find neither
    among its own modules nor among the registered classes."""
    if isinstance(config, list):
        children, found = config, []
    elif isinstance(config, dict):
        children, found = list(config.values()), _unregistered_here(config, registered)
    else:
        return []
    for child in children:
        found += [entry for entry in _unregistered(child, registered) if entry not in found]
    return found


def _unregistered_here(config: dict, registered: set[str]) -> list[tuple[str, str]]:
    module, name = config.get("module"), config.get("class_name")
    if not isinstance(module, str) or not isinstance(name, str) or \
            module.split(".")[0] in KERAS_PACKAGES:
        return []
    if name == "function":  # a function saves its name as its config
        name = config.get("config")
    return [] if (config.get("registered_name") or name) in registered else [(name, module)]


def _is_keras_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return "config.json" in archive.namelist()
