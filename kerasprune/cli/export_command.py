"""`kerasprune export`: convert a `.keras` model to a TFLite file, sparse by default."""

from __future__ import annotations

import argparse
import os

from kerasprune.cli.console import Console
from kerasprune.cli.data import LAYOUT
from kerasprune.cli.model_loading import add_import_option, load_keras_model

QUANTIZE = ("float16", "dynamic", "int8")


def add_parser(commands) -> argparse.ArgumentParser:
    export = commands.add_parser(
        "export",
        help="convert a .keras model to TFLite (sparse by default)",
        description="Convert a .keras model (pruned or not) to a TFLite file. kerasprune "
        "wrappers are stripped; weights with >= 30 percent zeros are stored sparse.",
    )
    export.add_argument("model", help="path to a .keras file")
    export.add_argument("-o", "--output", required=True, help="path of the .tflite file to write")
    export.add_argument("--quantize", choices=QUANTIZE, default=None,
                        help="quantization (int8 needs --representative-data, except for a "
                        "quantization-aware model)")
    export.add_argument("--representative-data", metavar="FILE",
                        help=f"input samples to calibrate int8: a .npy array (samples first) "
                        f"or {LAYOUT} (x_train or x is used)")
    export.add_argument("--dense", action="store_true", help="do not encode sparse weights")
    add_import_option(export)
    export.set_defaults(run=run)
    return export


def run(args: argparse.Namespace, console: Console) -> int:
    check_arguments(args)
    representative = None
    if args.representative_data:
        from kerasprune.cli.data import load_samples

        representative = load_samples(args.representative_data)
    # a file needs no optimizer: a compiled model's would only print Keras' warnings
    model = load_keras_model(args.model, args.imports, compile=False)
    from kerasprune.quantization import quantize_wrappers

    if args.quantize == "int8" and representative is None and not quantize_wrappers(model):
        raise ValueError(
            "--quantize int8 needs --representative-data (a few hundred input samples to "
            "calibrate activation ranges, the representative_data of tflite_export.convert), "
            "except for a quantization-aware model (kerasprune.quantization), which brings "
            "its trained ranges."
        )
    from tflite_export.conversion import convert
    from tflite_export.inspection import inspect

    content = convert(model, sparse=not args.dense, quantize=args.quantize,
                      representative_data=representative, verbose=console.progress)
    with open(args.output, "wb") as f:
        f.write(content)
    report = inspect(content)
    text = (f"wrote {args.output}: {report.file_bytes:,} B (gzip {report.gzip_bytes:,} B); "
            f"weights: {report.summary()}")
    console.result(text, {"output": args.output, **report.to_dict()})
    return 0


# Suffixes of Keras files, which a TFLite file must not be written under.
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse option combinations and paths that would fail, or be ignored, after loading."""
    if args.representative_data and args.quantize != "int8":
        raise ValueError(
            "--representative-data calibrates --quantize int8 only; with "
            f"--quantize {args.quantize} it would be ignored. Add --quantize int8 or drop it."
        )
    check_output_file(args.output)
    if os.path.exists(args.model) and os.path.exists(args.output) and os.path.samefile(
            args.model, args.output):
        raise FileExistsError(
            f"--output {args.output!r} is the model file itself: the TFLite file would "
            "overwrite the .keras model. Give another path (such as model.tflite).")
    if args.output.lower().endswith(KERAS_SUFFIXES):
        raise ValueError(
            f"--output {args.output!r} names a Keras model file, and export writes a TFLite "
            "flatbuffer (a model there would be lost, and the file would not load as Keras). "
            "Give a path ending in .tflite.")


def check_output_file(path: str, option: str = "--output") -> None:
    """A file path whose folder exists and that is not a folder itself (nor names one by a
    trailing slash, existing or not)."""
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise IsADirectoryError(f"{option} {path!r} is a folder; give the path of a file to "
                                "write (such as model.tflite).")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"The folder of {option} {path!r} does not exist.")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"The folder of {option} {path!r} is not writable.")
