"""The `kerasprune` command: export a Keras model to sparse TFLite, inspect it, time it.

Examples:

    kerasprune export pruned.keras -o model.tflite
    kerasprune export pruned.keras -o model.tflite --quantize dynamic
    kerasprune inspect model.tflite
    kerasprune bench model.tflite --dense dense.tflite --data test.npz
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Sequence

import numpy as np


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
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as e:
        print(f"kerasprune {args.command}: error: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasprune",
        description="Export pruned Keras models to sparse TFLite, inspect and benchmark them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    export.set_defaults(run=_export)

    inspect = commands.add_parser(
        "inspect",
        help="show how each weight tensor of a TFLite file is stored and run",
        description="List the weight tensors of a TFLite file: sparse or dense, block "
        "shape, op, whether they run on a sparse kernel or are expanded by DENSIFY; "
        "file size raw and gzipped.",
    )
    inspect.add_argument("tflite", help="path to a .tflite file")
    inspect.set_defaults(run=_inspect)

    bench = commands.add_parser(
        "bench",
        help="time a TFLite file through the LiteRT interpreter",
        description="Median and p90 latency per single-sample invoke. Alone: with XNNPACK on "
        "and off. With --dense: side by side with a dense baseline.",
    )
    bench.add_argument("tflite", help="path to a .tflite file")
    bench.add_argument("--dense", metavar="OTHER.tflite",
                       help="baseline TFLite file to compare with")
    bench.add_argument("--data", metavar="FILE.npz",
                       help="arrays x (inputs) and y (integer labels) for accuracy; "
                       "random inputs when absent")
    bench.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    bench.add_argument("--runs", type=int, default=100, help="timed invokes (default 100)")
    bench.add_argument("--warmup", type=int, default=10, help="untimed invokes first (default 10)")
    bench.set_defaults(run=_bench)
    return parser


def _export(args: argparse.Namespace) -> int:
    import keras

    import kerasprune  # noqa: F401  registers PruneWrapper for loading
    import tflite_export

    _check_export_arguments(args)
    representative = _load_array(args.representative_data) if args.representative_data else None
    model = _load_keras_model(args.model)
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


def _check_export_arguments(args: argparse.Namespace) -> None:
    """Refuse option combinations and paths that would fail, or be ignored, after loading."""
    if args.representative_data and args.quantize != "int8":
        raise ValueError(
            "--representative-data calibrates --quantize int8 only; with "
            f"--quantize {args.quantize} it would be ignored. Add --quantize int8 or drop it."
        )
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"No model file at {args.model!r}.")
    if args.representative_data and not os.path.isfile(args.representative_data):
        raise FileNotFoundError(f"No file at --representative-data {args.representative_data!r}.")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"The folder of --output {args.output!r} does not exist.")


def _load_keras_model(path: str):
    import zipfile

    import keras

    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a .keras file: a .keras file is a zip archive, and this one is "
            "not (corrupt, truncated, or another format such as .h5 or a SavedModel)."
        )
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # Keras raises many kinds for a damaged archive
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(f"Cannot load the Keras model in {path!r}: {first[:300]}") from None


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


def _inspect(args: argparse.Namespace) -> int:
    import tflite_export

    print(tflite_export.inspect(args.tflite))
    return 0


def _bench(args: argparse.Namespace) -> int:
    import tflite_export

    x, y = _data(args.data, args.tflite)
    if args.dense:
        table = tflite_export.compare(
            {"dense": args.dense, "model": args.tflite}, x, y,
            num_threads=args.threads, runs=args.runs, warmup=args.warmup,
        )
        print(table)
    else:
        report = tflite_export.benchmark(
            args.tflite, x, y=y, num_threads=args.threads, runs=args.runs, warmup=args.warmup,
        )
        print(report)
    return 0


def _data(path: str | None, tflite: str) -> tuple[np.ndarray, np.ndarray | None]:
    if path is not None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No data file at --data {path!r}.")
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"--data {path!r} is not a .npz file: {error}") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"--data {path!r} must be a .npz file with arrays x and y, "
                             "not a single .npy array.")
        with data:
            if "x" not in data:
                raise ValueError(f"--data {path!r} must hold an array named 'x' (and 'y'); "
                                 f"found {sorted(data.files)}")
            return data["x"], data["y"] if "y" in data else None
    from tflite_export.interpreter import load_interpreter

    detail = load_interpreter(tflite, xnnpack=False).interpreter.get_input_details()[0]
    shape = [1 if d < 0 else int(d) for d in detail["shape_signature"]]
    return np.random.default_rng(0).random(shape, dtype=np.float32), None


if __name__ == "__main__":
    sys.exit(main())
