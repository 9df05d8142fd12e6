"""Learned masks against GMP magnitude on the real MNIST digits, 3 seeds, paired by seed.

Every row starts from the same dense model per seed (the FACTS.md CNN,
Conv32-Pool-Conv64-Pool-Dense256-Dense10, `--dense-epochs` of Adam 1e-3 on the 8k/2k MNIST
split, batch 128), then trains `--pruning-epochs` + `--finetune-epochs` more:

- unstructured 90% (every kernel, global scope): GMP by magnitude (`PruningCallback`,
  cubic ramp, masks every 25 steps) against movement pruning (`MovementPruningCallback`,
  the same stages and schedule, masks by movement score);
- channels 50% (`Channels()`, logits left whole, then `shrink`): GMP by L1 against
  movement pruning (channel groups scored by their summed movement) and L0 gates
  (`L0Gates` on every pruned layer for the pruning epochs, `L0PruningCallback` keeping
  the channels most likely open, then fine-tuning).

Differences are paired by seed (same dense start and data order), with 95% t intervals.

    python -m bench.learned_masks --data-dir ../shared/data/mnist   # the section (~12 min)
    python -m bench.learned_masks --quick                             # smoke run, no RESULTS.md
"""

from __future__ import annotations

import argparse
import time

from bench import common

common.quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
from kerasprune.callbacks.l0_pruning_callback import L0PruningCallback  # noqa: E402
from kerasprune.callbacks.movement_pruning_callback import MovementPruningCallback  # noqa: E402
from kerasprune.core.l0_gates import L0Gates  # noqa: E402

SECTION = "learned-masks"
BATCH = 128
L0_STRENGTH = 1e-6  # per expected nonzero weight: ~0.3 of loss for the dense CNN


def rows_of(budget, steps_per_epoch: int) -> list[tuple[str, str, float, dict, object]]:
    """`(pattern, row, target, prune arguments, callback factory)` of every row."""
    stages = {"stabilization_epochs": 0, "pruning_epochs": budget.pruning,
              "finetune_epochs": budget.finetune,
              "update_every": min(25, steps_per_epoch * budget.pruning)}
    channels = {"pattern": kerasprune.Channels(), "exclude": ["logits"]}
    return [
        ("unstructured", "GMP magnitude", 0.9, {"scope": "global"},
         lambda: kerasprune.PruningCallback(0.9, **stages)),
        ("unstructured", "movement", 0.9, {"scope": "global"},
         lambda: MovementPruningCallback(0.9, **stages)),
        ("channels", "GMP L1", 0.5, channels, lambda: kerasprune.PruningCallback(0.5, **stages)),
        ("channels", "movement", 0.5, channels, lambda: MovementPruningCallback(0.5, **stages)),
        ("channels", "L0 gates", 0.5, {**channels, "penalty": L0Gates(L0_STRENGTH)},
         lambda: L0PruningCallback(0.5, gate_epochs=budget.pruning,
                                   finetune_epochs=budget.finetune)),
    ]


class Budget:
    def __init__(self, dense: int, pruning: int, finetune: int):
        self.dense, self.pruning, self.finetune = dense, pruning, finetune


def run_row(dense, prune_arguments, make_callback, data, seed: int) -> dict:
    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    pruned = kerasprune.prune(dense, **prune_arguments)
    common.compile_cnn(keras, pruned)
    callback = make_callback()
    pruned.fit(x, y, batch_size=BATCH, epochs=callback.total_epochs, callbacks=[callback],
               verbose=0)
    result = {"accuracy": common.accuracy(pruned, x_test, y_test),
              "sparsity": kerasprune.sparsity_report(pruned).total}
    if isinstance(prune_arguments.get("pattern"), kerasprune.Channels):
        result["params"] = kerasprune.shrink(pruned).count_params()
    return result


def measure(data, budget: Budget, seeds: list[int]) -> dict:
    (x, y), _ = data
    results: dict = {}
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        dense = common.build_cnn(keras)
        common.compile_cnn(keras, dense)
        dense.fit(x, y, batch_size=BATCH, epochs=budget.dense, verbose=0)
        for pattern, row, target, arguments, make in rows_of(budget, -(-len(x) // BATCH)):
            start = time.perf_counter()
            result = run_row(dense, arguments, make, data, seed)
            results.setdefault((pattern, row, target), []).append(result)
            print(f"seed {seed} {pattern} {row}: {result} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return results


def table(results: dict, dense_params: int) -> list[str]:
    lines = ["| pattern | target | method | accuracy % | vs baseline (pp, 95% CI) "
             "| sparsity reached | params after shrink |",
             "|---|---:|---|---:|---:|---:|---:|"]
    baselines = {"unstructured": "GMP magnitude", "channels": "GMP L1"}
    for (pattern, row, target), runs in results.items():
        accuracies = [r["accuracy"] for r in runs]
        base = [r["accuracy"] for r in results[(pattern, baselines[pattern], target)]]
        if row == baselines[pattern]:
            paired = "baseline"
        else:
            mean, low, high = common.paired_interval(accuracies, base)
            paired = f"{100 * mean:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}]"
        params = (f"{np.mean([r['params'] for r in runs]):,.0f} of {dense_params:,}"
                  if "params" in runs[0] else "-")
        lines.append(f"| {pattern} | {target:.0%} | {row} | "
                     f"{common.mean_std(accuracies, scale=100)} | {paired} | "
                     f"{np.mean([r['sparsity'] for r in runs]):.4f} | {params} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense-epochs", type=int, default=2)
    parser.add_argument("--pruning-epochs", type=int, default=2)
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, 1,000 images, 1 epoch per phase; no RESULTS.md")
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    data = common.load_split(args.data_dir)
    budget = Budget(args.dense_epochs, args.pruning_epochs, args.finetune_epochs)
    if args.quick:
        (x, y), test = data
        data, budget, args.seeds = ((x[:1000], y[:1000]), test), Budget(1, 1, 1), [1]
    start = time.perf_counter()
    results = measure(data, budget, args.seeds)
    lines = table(results, common.build_cnn(keras).count_params())
    text = "\n".join([
        "## Learned masks: movement pruning and L0 gates vs GMP (bench/learned_masks.py)",
        "",
        f"FACTS.md CNN on the 8k/2k MNIST split; per seed one dense model "
        f"({budget.dense} epochs, Adam 1e-3, batch {BATCH}), then {budget.pruning} pruning "
        f"+ {budget.finetune} fine-tuning epochs per row (masks every 25 steps on the cubic "
        f"ramp; L0: gates for the pruning epochs, strength {L0_STRENGTH:g} per expected "
        f"nonzero weight). Seeds {args.seeds}; accuracy mean +- std; differences paired by "
        "seed against the pattern's GMP row. Channels rows: 50% of the channels of conv1, "
        "conv2 and dense1 removed by `shrink` (sparsity column: of the pruned weights).",
        "",
        *lines,
    ])
    print(text)
    if not args.quick:
        common.write_section(SECTION, text, wall_seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
