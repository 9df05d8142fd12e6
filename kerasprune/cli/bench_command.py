"""`kerasprune bench`: time a TFLite file through the LiteRT interpreter."""

from __future__ import annotations

import argparse
import os

import numpy as np

from kerasprune.cli.json_output import add_json_option, print_result


def add_parser(commands) -> None:
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
    add_json_option(bench)
    bench.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import tflite_export

    x, y = _data(args.data, args.tflite)
    if args.dense:
        result = tflite_export.compare(
            {"dense": args.dense, "model": args.tflite}, x, y,
            num_threads=args.threads, runs=args.runs, warmup=args.warmup,
        )
    else:
        result = tflite_export.benchmark(
            args.tflite, x, y=y, num_threads=args.threads, runs=args.runs, warmup=args.warmup,
        )
    print_result(result, args.json)
    return 0


def _data(path: str | None, tflite: str) -> tuple[np.ndarray, np.ndarray | None]:
    if path is not None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No data file at --data {path!r}.")
        with np.load(path) as data:
            if "x" not in data:
                raise ValueError(f"--data {path!r} must hold an array named 'x' (and 'y'); "
                                 f"found {sorted(data.files)}")
            return data["x"], data["y"] if "y" in data else None
    from tflite_export.interpreter import load_interpreter

    detail = load_interpreter(tflite, xnnpack=False).interpreter.get_input_details()[0]
    shape = [1 if d < 0 else int(d) for d in detail["shape_signature"]]
    return np.random.default_rng(0).random(shape, dtype=np.float32), None
