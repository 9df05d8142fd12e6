"""`kerasprune export`: convert a `.keras` model to a TFLite file, sparse by default."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

from kerasprune.cli.model_loading import add_import_option, load_keras_model


def add_parser(commands) -> None:
    export = commands.add_parser(
        "export",
        help="convert a .keras model to TFLite (sparse by default)",
        description="Convert a .keras model (pruned or not) to a TFLite file. kerasprune "
        "wrappers are stripped; weights with >= 30%% zeros are stored sparse.",
    )
    export.add_argument("model", help="path to a .keras file")
    export.add_argument("-o", "--output", required=True, help="path of the .tflite file to write")
    export.add_argument("--quantize", choices=["float16", "dynamic", "int8"], default=None,
                        help="quantization (int8 needs --representative-data)")
    export.add_argument("--representative-data", metavar="FILE.npy",
                        help="input samples (batch axis first) to calibrate int8")
    export.add_argument("--dense", action="store_true", help="do not encode sparse weights")
    add_import_option(export)
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import tflite_export

    check_arguments(args)
    representative = _load_array(args.representative_data) if args.representative_data else None
    model = load_keras_model(args.model, args.imports)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", tflite_export.SparsityWarning)
        content = tflite_export.convert(
            model, sparse=not args.dense, quantize=args.quantize,
            representative_data=representative,
        )
    with open(args.output, "wb") as f:
        f.write(content)
    report = tflite_export.inspect(content)
    print(f"wrote {args.output}: {report.file_bytes:,} B (gzip {report.gzip_bytes:,} B); "
          f"weights: {report.summary()}")
    for w in caught:
        if issubclass(w.category, tflite_export.SparsityWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse option combinations and paths that would fail, or be ignored, after loading."""
    if args.representative_data and args.quantize != "int8":
        raise ValueError(
            "--representative-data calibrates --quantize int8 only; with "
            f"--quantize {args.quantize} it would be ignored. Add --quantize int8 or drop it."
        )
    if args.representative_data and not os.path.isfile(args.representative_data):
        raise FileNotFoundError(f"No file at --representative-data {args.representative_data!r}.")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"The folder of --output {args.output!r} does not exist.")


def _load_array(path: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        array = error
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"--representative-data {path!r} must be a .npy file holding one array "
            f"(samples first). Received: {type(array).__name__}"
        )
    return array
