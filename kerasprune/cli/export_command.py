"""`kerasprune export`: convert a `.keras` model to a TFLite file, sparse by default."""

from __future__ import annotations

import argparse
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

    model = load_keras_model(args.model, args.imports)
    representative = np.load(args.representative_data) if args.representative_data else None
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
