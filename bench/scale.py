"""Scale: what a mask update costs as the model grows, and what frequent updates cost in fit.

Part `update` (section `scale-update` of bench/RESULTS.md): one `kerasprune.update_masks`
call, 0 -> 90% (every weight alive: the largest selection) and then 90% -> 95%, on models of about 1M, 10M, 25M and 100M pruned
weights, in each scope. The 25M model is `keras.applications.ResNet50(weights=None)`
through `kerasprune.prune`; the others hold ResNet50's 54 kernel shapes with every channel
width scaled (x0.167, x0.611, x2.021; the 3 input channels and 1000 classes kept). Each
measurement runs in a fresh subprocess: wall and CPU time of the call, and its peak extra
memory = the peak resident set during the call (VmHWM, reset just before it through
/proc/self/clear_refs) minus the resident set before it, after one update of a tiny model
of the same kind (TensorFlow's one-time set-up is not counted). Memory does not depend on
the machine's load; times do.

Part `train` (section `scale-train`): GMP (`PruningCallback(0.9)`, cubic, pruning in every
epoch, layer scope) on ResNet-20 (0.27M weights; MNIST 28x28, 8,000 images, batch 32: 250 steps per epoch) with
masks updated every epoch, every 100 steps and every 10 steps, and every 100 steps with
uint8 masks, against plain Keras 3. All variants live in one process; after a first,
untimed round (tracing), each round trains every variant for one epoch, the order reversing every
round, and a variant's ratio is the median over rounds of its epoch over plain Keras 3's
epoch of the same round. At 1 and at 2 TensorFlow threads, each in its own process: on
a 2-core machine, 2-thread step times are bimodal (the same 10 steps take 1.3 s or 2.6 s,
whether TensorFlow's two threads overlap or not), which only short interleaved rounds
average out; 1 thread is steadier.

Run from the repository root:
    python -m bench.scale [--parts update,train] [--sizes 1,10,25,100]
        [--scopes layer,global,erk,lamp] [--repeats 3] [--rounds 4] [--threads 1,2]
        [--data-dir DIR]
    python -m bench.scale --quick     # tiny sizes, prints only
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings

from bench import common

common.quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402

RESNET50_WEIGHTS = 25_502_912  # its conv and dense kernels
SIZES = {1: 0.167, 10: 0.611, 25: 1.0, 100: 2.021}  # millions of weights -> width factor
TRAIN_IMAGES = {False: 8000, True: 3200}  # full run, --quick
TRAIN_VARIANTS = ("keras3", "every epoch", "every 100 steps", "every 10 steps",
                  "every 100 steps, uint8 masks")


# ---------------------------------------------------------------- update cost


def resnet50_kernel_shapes(width: float) -> list[tuple[int, ...]]:
    """The 54 kernel shapes of ResNet50 (v1) with every channel count times `width`.

    Example:

    >>> sum(math.prod(s) for s in resnet50_kernel_shapes(1.0)) == RESNET50_WEIGHTS
    True
    """
    def scaled(c):
        return max(1, round(c * width))

    shapes = [(7, 7, 3, scaled(64))]
    channels = scaled(64)
    for blocks, mid in zip((3, 4, 6, 3), (64, 128, 256, 512)):
        m, out = scaled(mid), scaled(4 * mid)
        for block in range(blocks):
            if block == 0:
                shapes.append((1, 1, channels, out))  # projection shortcut
            shapes += [(1, 1, channels, m), (3, 3, m, m), (1, 1, m, out)]
            channels = out
    return shapes + [(channels, 1000)]


class KernelBank(keras.Model):
    """A model that only holds pruned kernels: `update_masks` needs wrappers, not a graph."""

    def __init__(self, wrappers):
        super().__init__()
        self.wrappers = wrappers

    def call(self, inputs):
        return inputs


def width_of(size: float) -> float:
    """The channel-width factor that gives about `size` million ResNet50-shaped weights."""
    return SIZES.get(size, math.sqrt(size * 1e6 / RESNET50_WEIGHTS))


def size_model(size: float, scope: str, mask_dtype: str | None) -> keras.Model:
    """A pruning-ready model of about `size` million pruned weights (see the docstring)."""
    if size == 25:
        model = keras.applications.ResNet50(weights=None)
        return kerasprune.prune(model, scope=scope, mask_dtype=mask_dtype)
    wrappers = []
    for i, shape in enumerate(resnet50_kernel_shapes(width_of(size))):
        if len(shape) == 4:
            layer = keras.layers.Conv2D(shape[3], shape[:2], use_bias=False, name=f"conv{i}")
            layer.build((None, None, None, shape[2]))
        else:
            layer = keras.layers.Dense(shape[1], use_bias=False, name=f"dense{i}")
            layer.build((None, shape[0]))
        wrappers.append(kerasprune.PruneWrapper(layer, scope=scope, mask_dtype=mask_dtype))
    return KernelBank(wrappers)


def _status(field: str) -> int:
    """A /proc/self/status memory field in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status: the update part needs Linux.")


def measure_update(size: int, scope: str, mask_dtype: str | None) -> dict:
    """Time and peak extra memory of two `update_masks` calls on a fresh model (this process)."""
    warm = size_model(0.01, scope, mask_dtype)  # TensorFlow's one-time set-up is not counted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kerasprune.update_masks(warm, 0.9)
    del warm
    model = size_model(size, scope, mask_dtype)
    wrappers = kerasprune.prune_wrappers(model)
    result = {"weights": sum(int(np.prod(v.shape)) for w in wrappers for v in w.pruned_weights)}
    for label, target in (("first", 0.9), ("next", 0.95)):
        gc.collect()
        before = _status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
        wall, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kerasprune.update_masks(model, target)
        result[label] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                         "peak": _status("VmHWM") - before}
    result["empty"] = sum(int(np.count_nonzero(np.asarray(m)) == 0)
                          for w in wrappers for m in w.masks)
    return result


def run_update_part(sizes, scopes, repeats: int) -> dict:
    """Every (size, scope, mask dtype) measured `repeats` times, each in a subprocess."""
    cases = [(size, scope, None) for size in sizes for scope in scopes]
    cases += [(25, scope, "uint8") for scope in ("layer", "global") if 25 in sizes]
    results: dict = {case: [] for case in cases}
    for rep in range(repeats):
        for case in _rotated(cases, rep):
            args = [sys.executable, "-m", "bench.scale", "--one-update", json.dumps(case)]
            out = subprocess.run(args, cwd=common.ROOT, capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results[case].append(result)
            print(f"rep {rep} {case}: first {result['first']['wall']:.2f} s "
                  f"{result['first']['peak'] / result['weights']:.1f} B/w, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    return results


def update_table(results: dict) -> list[str]:
    lines = [
        "| model | pruned weights | scope | masks | 0 -> 90%: wall s | CPU s | peak extra MB "
        "| B per weight | 90% -> 95%: wall s | peak extra MB | tensors emptied |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (size, scope, dtype), runs in results.items():
        n = runs[0]["weights"]
        first, later = [r["first"] for r in runs], [r["next"] for r in runs]
        model = "ResNet50" if size == 25 else f"ResNet50 kernels x{width_of(size):.2f}"
        peak = max(r["peak"] for r in first)
        lines.append(
            f"| {model} | {n:,} | {scope} | {dtype or 'float32'} "
            f"| {_median(first, 'wall'):.2f} | {_median(first, 'cpu'):.2f} | {peak / 1e6:.0f} "
            f"| {peak / n:.1f} | {_median(later, 'wall'):.2f} "
            f"| {max(r['peak'] for r in later) / 1e6:.0f} | {runs[0]['empty']} |"
        )
    return lines


def update_verdicts(results: dict) -> list[str]:
    if (25, "layer", None) not in results or (25, "global", None) not in results:
        return []
    layer, glob = results[(25, "layer", None)], results[(25, "global", None)]
    ratio = statistics.median(g["first"]["wall"] / l["first"]["wall"] for g, l in zip(glob, layer))
    cpu = statistics.median(g["first"]["cpu"] / l["first"]["cpu"] for g, l in zip(glob, layer))
    per_weight = max(r["first"]["peak"] for r in glob) / glob[0]["weights"]
    return [
        f"- ResNet50, global / layer time of the first update: **{ratio:.2f}x** wall, "
        f"{cpu:.2f}x CPU (median of paired runs; target <= 1.5: "
        f"{'met' if ratio <= 1.5 else 'NOT met'})",
        f"- ResNet50, global scope, peak extra memory: **{per_weight:.1f} bytes per pruned "
        f"weight** (target <= 16: {'met' if per_weight <= 16 else 'NOT met'}; growth of the "
        "resident set, so memory the selection frees and reuses counts once; the first "
        "engine took 65-69: float64 copies and concatenations of every score)",
    ]


# ---------------------------------------------------------------- training overhead


def make_train_variant(name: str, rounds: int):
    """ResNet-20 (28x28x1), compiled, with the pruning callback the variant needs."""
    from bench.structured import resnet20

    keras.utils.set_random_seed(0)
    model = resnet20(input_shape=(28, 28, 1))
    callbacks = []
    if name != "keras3":
        every = "epoch" if name == "every epoch" else int(name.split()[1])
        model = kerasprune.prune(model, mask_dtype="uint8" if "uint8" in name else None)
        callbacks = [kerasprune.PruningCallback(0.9, stabilization_epochs=0, pruning_epochs=rounds,
                                                finetune_epochs=0, update_every=every)]
    common.compile_cnn(keras, model)
    return model, callbacks


def run_train_part(data, rounds: int, batch_size: int) -> dict:
    """Every variant trains one epoch per round, in an order that reverses every round.

    All variants live in this process; round 0 is not timed (it traces the train step
    with the callbacks' metric attached), so every timed epoch is a steady-state epoch and
    neighbouring epochs of two variants share the machine's state. A variant's
    `PruningCallback` sees one continuing run (`initial_epoch`).
    """
    (x, y), _ = data
    models = {name: make_train_variant(name, rounds + 1) for name in TRAIN_VARIANTS}
    times = {name: {"wall": [], "cpu": []} for name in TRAIN_VARIANTS}
    for rnd in range(rounds + 1):
        order = TRAIN_VARIANTS if rnd % 2 == 0 else TRAIN_VARIANTS[::-1]
        for name in order:
            model, callbacks = models[name]
            timer = common.EpochTimer(keras)
            model.fit(x, y, batch_size=batch_size, initial_epoch=rnd, epochs=rnd + 1,
                      verbose=0, callbacks=timer.around(callbacks))
            if rnd > 0:
                times[name]["wall"] += timer.times
                times[name]["cpu"] += timer.cpu_times
            print(f"round {rnd} {name:30s} {timer.times[0]:.2f} s "
                  f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    return times


def train_in_subprocess(threads: int, args: argparse.Namespace) -> dict:
    """`run_train_part` with TensorFlow at `threads` intra- and inter-op threads."""
    command = [sys.executable, "-m", "bench.scale", "--one-train", str(threads),
               "--rounds", str(args.rounds), "--batch-size", str(args.batch_size),
               "--data-dir", str(args.data_dir)] + (["--quick"] if args.quick else [])
    out = subprocess.run(command, cwd=common.ROOT, stdout=subprocess.PIPE, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def update_time(repeats: int = 5) -> float:
    """Median seconds of one `update_masks` call on ResNet-20 (layer scope, 50% -> 60%)."""
    from bench.structured import resnet20

    model = kerasprune.prune(resnet20(input_shape=(28, 28, 1)))
    seconds = []
    for _ in range(repeats):
        kerasprune.update_masks(model, 0.5, masks_only_grow=False)
        start = time.perf_counter()
        kerasprune.update_masks(model, 0.6)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def train_table(times: dict, steps: int) -> list[str]:
    base = times["keras3"]
    lines = [
        "| variant | updates per epoch | epoch s (min / median) | paired ratio (wall) "
        "| paired ratio (CPU) | ratio of total wall |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, value in times.items():
        updates = {"keras3": 0, "every epoch": 1}.get(name, None)
        updates = updates if updates is not None else steps / int(name.split()[1])
        lines.append(
            f"| {name} | {updates:g} | {min(value['wall']):.2f} / "
            f"{statistics.median(value['wall']):.2f} "
            f"| {_paired(value['wall'], base['wall']):.3f} "
            f"| {_paired(value['cpu'], base['cpu']):.3f} "
            f"| {sum(value['wall']) / sum(base['wall']):.3f} |"
        )
    return lines


def train_verdicts(by_threads: dict) -> list[str]:
    lines = []
    for threads, times in by_threads.items():
        base = times["keras3"]
        every100 = _paired(times["every 100 steps"]["wall"], base["wall"])
        narrow = _paired(times["every 100 steps, uint8 masks"]["wall"], base["wall"])
        faster = "float32" if every100 <= narrow else "uint8"
        lines += [
            f"- {threads} thread{'s' if threads > 1 else ''}: GMP with `update_every=100` / "
            f"plain Keras 3 per epoch: **{every100:.3f}** (paired, wall; target <= 1.05: "
            f"{'met' if every100 <= 1.05 else 'NOT met'}); uint8 masks {narrow:.3f}, "
            f"faster here: {faster}",
        ]
    return lines + [
        "- Masks cost 4 bytes per pruned float32 weight (float32, the default) or 1 byte "
        "(`mask_dtype=\"uint8\"`, cast in the constraint after every step)."]


# ---------------------------------------------------------------- helpers and main


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _paired(variant: list[float], base: list[float]) -> float:
    """Median over rounds of (variant's epoch / the baseline's epoch of the same round)."""
    return statistics.median(v / b for v, b in zip(variant, base))


def _rotated(items, shift: int) -> list:
    items = list(items)
    shift %= len(items)
    return items[shift:] + items[:shift]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="update,train", help="comma-separated: update,train")
    parser.add_argument("--sizes", default="1,10,25,100", help="millions of pruned weights")
    parser.add_argument("--scopes", default="layer,global,erk,lamp")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4, help="timed epochs per training variant")
    parser.add_argument("--threads", default="1,2", help="TensorFlow thread counts to train at")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat, no write")
    parser.add_argument("--one-update", help=argparse.SUPPRESS)
    parser.add_argument("--one-train", type=int, help=argparse.SUPPRESS)
    common.add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.rounds, args.threads = "0.05,0.2", 1, 1, "1"
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.one_update:
        size, scope, dtype = json.loads(args.one_update)
        print(json.dumps(measure_update(size, scope, dtype)))
        return
    if args.one_train:
        train_only(args)
        return
    parts = args.parts.split(",")
    if "update" in parts:
        start = time.perf_counter()
        sizes = [float(s) if "." in s else int(s) for s in args.sizes.split(",")]
        results = run_update_part(sizes, args.scopes.split(","), args.repeats)
        body = ["## Scale: one `update_masks` call vs model size (bench/scale.py)", "",
                f"Median of {args.repeats} runs for times, maximum for memory; each run in a "
                "fresh subprocess (see `bench/scale.py`). Memory does not depend on the "
                "machine's load; times do.", "", *update_table(results), "",
                *update_verdicts(results)]
        _finish("scale-update", body, args.quick, start)
    if "train" in parts:
        start = time.perf_counter()
        threads = [int(t) for t in args.threads.split(",")]
        by_threads = {t: train_in_subprocess(t, args) for t in threads}
        steps = math.ceil(TRAIN_IMAGES[args.quick] / args.batch_size)
        body = ["## Scale: training overhead of `update_every` on ResNet-20 (bench/scale.py)",
                "", f"{steps} steps per epoch (batch {args.batch_size}); {args.rounds} timed rounds; "
                "in each round every variant trains one epoch, the order reversing every "
                "round; round 0 traces and is not timed; paired = median over "
                "rounds of (variant's epoch / plain Keras 3's epoch of the same round). "
                "Each thread count (TensorFlow intra- and inter-op threads) runs in its own "
                "process."]
        for t, times in by_threads.items():
            body += ["", f"**{t} thread{'s' if t > 1 else ''}**", "", *train_table(times, steps)]
        body += ["", f"One `update_masks` call on this ResNet-20 (layer scope, 50% -> 60%): "
                 f"{update_time() * 1e3:.1f} ms (median of 5).", "", *train_verdicts(by_threads)]
        _finish("scale-train", body, args.quick, start)


def train_only(args: argparse.Namespace) -> None:
    """`--one-train THREADS`: the training rounds at that thread count; prints JSON times."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.one_train)
    tf.config.threading.set_inter_op_parallelism_threads(args.one_train)
    # Each round's fit ends before the schedule does, which the callback warns about.
    warnings.filterwarnings("ignore", message=".*fit stopped after epoch")
    (x, y), test = common.load_split(args.data_dir)
    n = TRAIN_IMAGES[args.quick]
    times = run_train_part(((x[:n], y[:n]), test), args.rounds, args.batch_size)
    print(json.dumps(times))


def _finish(section: str, body: list[str], quick: bool, start: float) -> None:
    text = "\n".join(body)
    print(text)
    if not quick:
        common.write_section(section, text, wall_seconds=time.perf_counter() - start)

if __name__ == "__main__":
    main()
