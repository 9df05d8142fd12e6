"""Latency targets for structured pruning: ask for a fraction of the dense model's LiteRT
latency, get it; and what latency-aware selection does to accuracy.

Part 1, speed: keras.applications MobileNetV2 (96x96) and ResNet50 (64x64), weights=None,
`prune(model, pattern=Channels("l1", target="latency"), exclude=[<logits>],
scope="global")`, `update_masks(pruned, 1 - ask)` for asks of 50% and 30% of the dense
latency, `shrink`, convert, and the shrunk file timed against the dense one (LiteRT,
XNNPACK, 1 thread, batch 1) in both protocols, in `--rounds` alternating rounds. The
latency table (`tflite_export.LatencyTable`, `~/.cache/kerasprune/latency.json`) is measured
on first use and its calibration points are kept with it. The same asks as MAC targets
(`target="flops"`) are shown for comparison.

Part 2, accuracy at the same latency: real MNIST (8,000 / 2,000), the FACTS.md CNN trained
4 epochs, then GMP to a latency target (global scope, the proposal ranked by importance per
microsecond or by importance alone that meets the measured ask removing less importance)
and, from the same dense model, GMP to MAC targets on a grid; at the latency
the latency-targeted model measures, the MAC-targeted runs' accuracy is interpolated, seed
by seed (paired difference with its 95% t interval).

Run: python -m bench.latency_targets [--parts speed accuracy] [--rounds 3] [--seeds 1 2 3]
     [--models mobilenetv2 resnet50] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time

from bench import common

common.quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from kerasprune import Channels  # noqa: E402
from tflite_export.benchmarking import set_single_sample, time_blocked, time_interleaved  # noqa: E402
from tflite_export.latency_table import PERCENTILE, LatencyTable  # noqa: E402

SECTION = "latency-targets"
ASKS = (0.5, 0.3)
MAC_GRID = (0.2, 0.35, 0.5, 0.65, 0.8)


def ratios(reference: bytes, candidate: bytes, rounds: int, runs: int = 100) -> dict:
    """Candidate / reference latency per protocol and statistic, the median over rounds
    (each round times both files, alternating)."""
    loaded = [tflite_export.load_interpreter(c, num_threads=1).interpreter
              for c in (reference, candidate)]
    shape = loaded[0].get_input_details()[0]["shape"]
    for interpreter in loaded:
        set_single_sample(interpreter, np.zeros(shape, np.float32))
    found: dict[str, list[float]] = {}
    for _ in range(rounds):
        timed = {"interleaved": time_interleaved(loaded, runs=runs, warmup=10),
                 "blocked": time_blocked(loaded, runs=runs, warmup=10, block=runs // 4)}
        for protocol, (ref, new) in timed.items():
            for name, statistic in ((f"p{PERCENTILE}", lambda t: np.percentile(t, PERCENTILE)),
                                    ("median", np.median)):
                found.setdefault(f"{protocol} {name}", []).append(
                    float(statistic(new) / statistic(ref)))
            found.setdefault(f"{protocol} dense us", []).append(
                float(np.percentile(ref, PERCENTILE)) * 1e6)
    return {key: float(np.median(values)) for key, values in found.items()}


def logits_of(model: keras.Model) -> str:
    return [layer for layer in model.layers if layer.weights][-1].name


# --- part 1: speed -------------------------------------------------------------------
def speed_rows(name: str, model: keras.Model, table: LatencyTable, rounds: int):
    dense_file = tflite_export.convert(model, sparse=False, verbose=0)
    rows, checks = [], []
    for ask in ASKS:
        for target in ("latency", "flops"):
            pruned = kerasprune.prune(model, pattern=Channels(
                "l1", target=target, latency_table=table if target == "latency" else None),
                exclude=[logits_of(model)], scope="global")
            start, measured = time.time(), table.measured
            kerasprune.update_masks(pruned, 1 - ask)
            seconds, files = time.time() - start, table.measured - measured
            small = kerasprune.shrink(pruned)
            found = ratios(dense_file, tflite_export.convert(small, sparse=False, verbose=0),
                           rounds)
            macs = common_macs(small) / common_macs(model)
            low = [found[f"{p} p{PERCENTILE}"] for p in ("interleaved", "blocked")]
            met = abs(max(low) - ask) <= 0.1 * ask
            both = all(abs(r - ask) <= 0.1 * ask for r in low)
            rows.append(
                f"| {name} | {target} {ask:.0%} | {macs:.3f} | {low[0]:.3f} | {low[1]:.3f} "
                f"| {found['interleaved median']:.3f} | {found['blocked median']:.3f} "
                f"| {seconds:.0f} s, {files} files timed | "
                f"{'**yes**' if met else 'no'} ({'both' if both else 'not both'}) |")
            print(rows[-1], flush=True)
            if target == "latency":
                checks.append((name, ask, low, met))
    return rows, checks


def common_macs(model: keras.Model) -> int:
    return kerasprune.sparsity_report(model).dense_macs


MODELS = {"mobilenetv2": ("MobileNetV2 96x96", lambda: keras.applications.MobileNetV2(
              (96, 96, 3), weights=None)),
          "resnet50": ("ResNet50 64x64", lambda: keras.applications.ResNet50(
              input_shape=(64, 64, 3), weights=None))}


def write_speed(rounds: int, models: list[str]) -> None:
    start = time.time()
    table = LatencyTable(verbose=0)
    loads = [os.getloadavg()[0]]
    rows, checks = [], []
    for name, build in (MODELS[m] for m in models):
        keras.utils.set_random_seed(0)
        r, c = speed_rows(name, build(), table, rounds)
        rows += r
        checks += c
        loads.append(os.getloadavg()[0])
    met = sum(m for *_, m in checks)
    text = f"""## Latency targets: asking for a fraction of the dense latency

`python -m bench.latency_targets --parts speed`: `Channels("l1", target="latency")` in global
scope (two proposals, groups ranked by importance per microsecond and by importance alone,
each calibrated by timing the model's shrunk candidates against the dense one; the one
meeting the ask with less importance removed is kept), `update_masks(pruned, 1 - ask)`,
`shrink`, convert; the shrunk file's latency over
the dense one's, LiteRT with XNNPACK, 1 thread, batch 1, both protocols, the median of
{rounds} alternating rounds of 100 invokes each. The {PERCENTILE}th percentile of the invoke
times is the statistic the target is checked on: with other jobs on this 2-core machine
(load average {min(loads):.1f}-{max(loads):.1f} during the run) a 2 ms invoke is preempted
often and its median moves with the load, while its low percentiles do not; the medians are
shown too. The selection aims the larger of the two protocols' ratios at the ask (the
conservative one: a target met is met in both); interleaving, where the dense model evicts
the caches between two invokes of the small one, favours the small model less than blocks
do, so the two protocols differ, by more on the smaller, cache-friendlier models. "Within
10%": the larger ratio within 10% of the ask, and in brackets whether both are.
`target="flops"` rows ask the same fraction of the multiply-accumulates instead.

| model | target | MACs kept | interleaved p{PERCENTILE} | blocked p{PERCENTILE} | interleaved median | blocked median | selection | within 10% |
|---|---|---:|---:|---:|---:|---:|---|---|
{chr(10).join(rows)}

Latency targets met within 10% (the larger ratio): {met} of {len(checks)}. The table holds
{len(table.entries):,} single-layer entries for this machine and
{sum(len(v) for v in table.calibrations.values())} calibration points (whole shrunk
candidates timed against the dense model); a first run measures them (the selection
column: seconds and files timed), later runs read them.
"""
    print(text)
    common.write_section(SECTION, text, wall_seconds=time.time() - start)


# --- part 2: accuracy at the same latency ----------------------------------------------
def pruned_run(dense: keras.Model, data, seed: int, target: str, level: float,
               table: LatencyTable, dense_file: bytes) -> tuple[float, float]:
    """(test accuracy, measured latency ratio) of GMP to `level` of `target`, shrunk."""
    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(seed + 1000)
    table = table if target == "latency" else None  # only a latency target reads it
    pruned = kerasprune.prune(dense, pattern=Channels("l1", target=target, latency_table=table),
                              exclude=["logits"], scope="global")
    common.compile_cnn(keras, pruned)
    gmp = kerasprune.PruningCallback(1 - level, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=2)
    pruned.fit(x, y, epochs=gmp.total_epochs, batch_size=128, callbacks=[gmp], verbose=0)
    small = kerasprune.shrink(pruned)
    found = ratios(dense_file, tflite_export.convert(small, sparse=False, verbose=0), 1, 200)
    latency = max(found[f"interleaved p{PERCENTILE}"], found[f"blocked p{PERCENTILE}"])
    return common.accuracy(small, x_test, y_test), latency


def write_accuracy(data, seeds: list[int]) -> None:
    start = time.time()
    table = LatencyTable(verbose=0)
    rows, diffs = [], {ask: [] for ask in ASKS}
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        dense = common.build_cnn(keras)
        common.compile_cnn(keras, dense)
        dense.fit(data[0][0], data[0][1], epochs=4, batch_size=128, verbose=0)
        dense_file = tflite_export.convert(dense, sparse=False, verbose=0)
        curve = sorted(pruned_run(dense, data, seed, "flops", m, table, dense_file)[::-1]
                       for m in MAC_GRID)  # (latency, accuracy) of the MAC-targeted runs
        for ask in ASKS:
            accuracy, latency = pruned_run(dense, data, seed, "latency", ask, table, dense_file)
            macs_accuracy = float(np.interp(latency, [c[0] for c in curve],
                                            [c[1] for c in curve]))
            diffs[ask].append(accuracy - macs_accuracy)
            rows.append(f"| {seed} | {ask:.0%} | {latency:.3f} | {accuracy:.2%} "
                        f"| {macs_accuracy:.2%} | {accuracy - macs_accuracy:+.2%} |")
            print(rows[-1], flush=True)
        print(f"seed {seed} MAC curve (latency, accuracy): {curve}", flush=True)
    summary = []
    for ask in ASKS:
        mean, low, high = common.paired_interval(diffs[ask], np.zeros(len(diffs[ask])))
        summary.append(f"latency {ask:.0%}: **{mean:+.2%}** (95% t interval {low:+.2%} to "
                       f"{high:+.2%})")
    text = f"""## Latency targets: accuracy at the same latency (MNIST CNN)

`python -m bench.latency_targets --parts accuracy`: real MNIST (8,000 / 2,000), the
FACTS.md CNN trained 4 epochs; then GMP (1 pruning epoch, 2 fine-tuning epochs) with
`Channels("l1", target=...)` in global scope from the same dense model: to a latency target
(two proposals, groups ranked by L1 importance per microsecond saved, HALP-style, and by
L1 alone, each calibrated by timing shrunk candidates; the one meeting the ask with less
importance removed is kept), and to MAC targets
{', '.join(f'{m:.0%}' for m in MAC_GRID)} (groups ranked by L1 alone). Every shrunk model
is timed against the dense one (the larger of the two protocols' ratios, {PERCENTILE}th
percentile);
the MAC-targeted runs' accuracy is interpolated at the latency the latency-targeted model
measures.

| seed | latency asked | latency measured | accuracy, latency target | accuracy of MAC targets at that latency | difference |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Latency-targeted - MAC-targeted accuracy at the same latency, paired over {len(seeds)}
seeds: {'; '.join(summary)}.
"""
    print(text)
    common.write_section(SECTION + "-accuracy", text, wall_seconds=time.time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["speed", "accuracy"],
                        choices=["speed", "accuracy"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                        help="the speed part's models")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    if "speed" in args.parts:
        write_speed(args.rounds, args.models)
    if "accuracy" in args.parts:
        write_accuracy(common.load_split(args.data_dir), args.seeds)


if __name__ == "__main__":
    main()
