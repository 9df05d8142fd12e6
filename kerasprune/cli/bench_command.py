"""`kerasprune bench`: time a TFLite file through the LiteRT interpreter."""

from __future__ import annotations

import argparse

from kerasprune.cli.console import Console
from kerasprune.cli.data import LAYOUT
from kerasprune.cli.options import count


def add_parser(commands) -> argparse.ArgumentParser:
    bench = commands.add_parser(
        "bench",
        help="time a TFLite file through the LiteRT interpreter",
        description="Median and p90 latency per single-sample invoke, in two protocols "
        "(interleaved and blocked). Alone: with XNNPACK on and off, and the setting to "
        "deploy with. With --dense: side by side with a dense baseline, and the speed-up.",
    )
    bench.add_argument("tflite", help="path to a .tflite file")
    bench.add_argument("--dense", metavar="OTHER.tflite",
                       help="baseline TFLite file to compare with")
    bench.add_argument("--data", metavar="DATA.npz",
                       help=f"{LAYOUT}: accuracy on x_test/y_test (or all of x/y); random "
                       "inputs when absent")
    bench.add_argument("--threads", type=count("threads", 1), default=1,
                       help="interpreter threads (default 1)")
    bench.add_argument("--runs", type=count("runs", 1), default=100,
                       help="timed invokes per protocol (default 100)")
    bench.add_argument("--warmup", type=count("warmup", 0), default=10,
                       help="untimed invokes first (default 10)")
    bench.set_defaults(run=run)
    return bench


def run(args: argparse.Namespace, console: Console) -> int:
    from tflite_export.benchmarking import benchmark
    from tflite_export.comparison import compare

    x, y = _evaluation_data(args.data, args.tflite)
    options = dict(num_threads=args.threads, runs=args.runs, warmup=args.warmup,
                   verbose=console.progress)
    if args.dense:
        result = compare({"dense": args.dense, "model": args.tflite}, x, y, **options)
    else:
        result = benchmark(args.tflite, x, y=y, **options)
    console.result(str(result), result.to_dict())
    return 0


def _evaluation_data(path: str | None, tflite: str):
    """The data file's evaluation arrays, or one random sample for each of the model's
    inputs, of its shape and dtype (integer and boolean inputs, token ids and masks,
    hold ones: valid for any vocabulary of two tokens or more)."""
    import numpy as np

    if path is not None:
        from kerasprune.cli.data import load_data

        return load_data(path).evaluation()
    from tflite_export.interpreter import OPEN_SIZE, load_interpreter, model_input_details

    rng = np.random.default_rng(0)
    samples = []
    for detail in model_input_details(load_interpreter(tflite, xnnpack=False).interpreter):
        shape = [int(d) if d >= 0 else 1 if i == 0 else OPEN_SIZE
                 for i, d in enumerate(detail["shape_signature"])]
        dtype = np.dtype(detail["dtype"])
        samples.append(rng.random(shape).astype(dtype) if dtype.kind == "f"
                       else np.ones(shape, dtype))
    return (samples[0] if len(samples) == 1 else samples), None
