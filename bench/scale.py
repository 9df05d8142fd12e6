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
uint8 masks, against plain Keras 3. The variants run in one process, interleaved (the
order rotates every repetition). Epoch times after the first (tracing) epoch.

Run from the repository root:
    python -m bench.scale [--parts update,train] [--sizes 1,10,25,100]
        [--scopes layer,global,erk,lamp] [--repeats 3] [--epochs 3] [--data-dir DIR]
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


def make_train_variant(name: str, seed: int, epochs: int):
    """ResNet-20 (28x28x1), compiled, with the pruning callback the variant needs."""
    from bench.structured import resnet20

    keras.utils.set_random_seed(seed)
    model = resnet20(input_shape=(28, 28, 1))
    callbacks = []
    if name != "keras3":
        every = "epoch" if name == "every epoch" else int(name.split()[1])
        model = kerasprune.prune(model, mask_dtype="uint8" if "uint8" in name else None)
        callbacks = [kerasprune.PruningCallback(0.9, stabilization_epochs=0, pruning_epochs=epochs,
                                                finetune_epochs=0, update_every=every)]
    common.compile_cnn(keras, model)
    return model, callbacks


def run_train_part(data, repeats: int, epochs: int, batch_size: int) -> dict:
    (x, y), _ = data
    times = {name: {"wall": [], "cpu": []} for name in TRAIN_VARIANTS}
    for rep in range(repeats):
        for name in _rotated(TRAIN_VARIANTS, rep):
            model, callbacks = make_train_variant(name, rep, epochs)
            timer = common.EpochTimer(keras)
            model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                      callbacks=timer.around(callbacks))
            times[name]["wall"].append(timer.times[1:])
            times[name]["cpu"].append(timer.cpu_times[1:])
            print(f"rep {rep} {name:30s} epochs {[round(t, 2) for t in timer.times]} "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    return times


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


def train_table(times: dict, steps: int, one_update: float) -> list[str]:
    base = times["keras3"]
    lines = [
        "| variant | updates per epoch | epoch s (min / median) | ratio of medians "
        "| paired ratio (wall) | paired ratio (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, value in times.items():
        wall = [t for rep in value["wall"] for t in rep]
        updates = {"keras3": 0, "every epoch": 1}.get(name, None)
        updates = updates if updates is not None else steps / int(name.split()[1])
        lines.append(
            f"| {name} | {updates:g} | {min(wall):.2f} / {statistics.median(wall):.2f} "
            f"| {statistics.median(wall) / _flat_median(base['wall']):.3f} "
            f"| {_paired(value['wall'], base['wall']):.3f} "
            f"| {_paired(value['cpu'], base['cpu']):.3f} |"
        )
    lines += ["", f"One `update_masks` call on this ResNet-20 (layer scope, 50% -> 60%): "
              f"{one_update * 1e3:.1f} ms (median of 5)."]
    return lines


def train_verdicts(times: dict) -> list[str]:
    base = times["keras3"]
    every100 = _paired(times["every 100 steps"]["wall"], base["wall"])
    narrow = _paired(times["every 100 steps, uint8 masks"]["wall"], base["wall"])
    narrow_cpu = _paired(times["every 100 steps, uint8 masks"]["cpu"], base["cpu"])
    wide_cpu = _paired(times["every 100 steps"]["cpu"], base["cpu"])
    faster = "float32" if (every100, wide_cpu) <= (narrow, narrow_cpu) else "uint8"
    return [
        f"- GMP with `update_every=100` / plain Keras 3 per epoch: **{every100:.3f}** "
        f"(paired, wall; target <= 1.05: {'met' if every100 <= 1.05 else 'NOT met'})",
        f"- uint8 masks vs float32 masks (both `update_every=100`): {narrow:.3f} vs "
        f"{every100:.3f} wall, {narrow_cpu:.3f} vs {wide_cpu:.3f} CPU against plain Keras 3; "
        f"faster in this run: {faster}. Masks cost 4 bytes per pruned float32 weight "
        "(float32, the default) or 1 byte (`mask_dtype=\"uint8\"`).",
    ]


# ---------------------------------------------------------------- helpers and main


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _flat_median(reps: list[list[float]]) -> float:
    return statistics.median(t for rep in reps for t in rep)


def _paired(variant: list[list[float]], base: list[list[float]]) -> float:
    """Median over repetitions of (variant's mean epoch / baseline's mean epoch)."""
    return statistics.median(np.mean(v) / np.mean(b) for v, b in zip(variant, base))


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
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat, no write")
    parser.add_argument("--one-update", help=argparse.SUPPRESS)
    common.add_data_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.epochs = "0.05,0.2", 1, 2
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.one_update:
        size, scope, dtype = json.loads(args.one_update)
        print(json.dumps(measure_update(size, scope, dtype)))
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
        data = common.load_split(args.data_dir)
        if args.quick:
            data = ((data[0][0][:3200], data[0][1][:3200]), data[1])
        steps = math.ceil(len(data[0][0]) / args.batch_size)
        times = run_train_part(data, args.repeats, args.epochs, args.batch_size)
        body = ["## Scale: training overhead of `update_every` on ResNet-20 (bench/scale.py)",
                "",
                f"{steps} steps per epoch; epochs 2-{args.epochs} of {args.repeats} runs per "
                "variant (the first epoch traces), interleaved; paired = median over "
                "repetitions of (variant's mean epoch / plain Keras 3's in the same "
                "repetition).", "",
                *train_table(times, steps, update_time()), "", *train_verdicts(times)]
        _finish("scale-train", body, args.quick, start)


def _finish(section: str, body: list[str], quick: bool, start: float) -> None:
    text = "\n".join(body)
    print(text)
    if not quick:
        common.write_section(section, text, wall_seconds=time.perf_counter() - start)

if __name__ == "__main__":
    main()
