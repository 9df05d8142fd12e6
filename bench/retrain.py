"""Seed 003 at small scale: Table 1 (retraining schedules after one-shot pruning), Figure 1
(IMP + ALLR envelope over cycles x epochs per cycle) and Table 2 (BIMP vs GMP).

The setting, kept the same in every part (see `PROTOCOL`): real MNIST digits (8,000 train
/ 2,000 test of the MNIST test set, `common.load_split`), a narrow CNN (Conv4-Pool-Conv8-
Pool-Dense16-Dense10, 3,846 weights) so that pruning hurts and retraining matters, SGD
with momentum 0.9 and weight decay, batch 128. An "epoch" here is 16 steps (2,048
images, a quarter pass), so the original training has T = 90 epochs like the seed's
ImageNet runs and the retraining budgets are the seed's 2, 5 and 10 epochs (2.22%, 5.56%,
11.1% of T). The original schedule is step-wise like the seed's: 0.1, divided by 10 at
epochs 30, 60 and 80.

1. `table1`: train dense (one model per seed), prune once to 70/80/90% (global
   magnitude), retrain with FT, LRW, SLR, CLR, LLR, ALLR (`IMPCallback(cycles=1)`). All
   runs of a seed share the dense weights and the data order, so differences between
   schedules are paired by seed.
2. `envelope`: from the same dense models, IMP + ALLR to 90% over a grid of cycles x
   epochs per cycle; the envelope (best configuration at each total retraining budget)
   is plotted to bench/retrain_envelope.png.
3. `bimp`: from scratch within T = 90 epochs, BIMP (`BIMPCallback`) vs GMP
   (`PruningCallback`), both with global scope, at 70/80/90%: accuracy, sparsity and the
   theoretical speed-up of `kerasprune.sparsity_report` (dense over remaining MACs).

Each part writes its own section of bench/RESULTS.md (`retrain-table1`,
`retrain-envelope`, `retrain-bimp`) with its command and wall time.

    python -m bench.retrain                    # all parts, 5 seeds
    python -m bench.retrain --parts table1     # one part
    python -m bench.retrain --quick            # smoke run: writes nothing
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench import common

common.quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasprune  # noqa: E402
from bench import retrain_report as report  # noqa: E402

SCHEDULES = ("ft", "lrw", "slr", "clr", "llr", "allr")
WIDTHS = (4, 8, 16)
BATCH = 128
ORIGINAL_EPOCHS = 90
MILESTONES = (30, 60, 80)
WARMUP_EPOCHS = 5
MAX_LR = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
PLOT = common.BENCH_DIR / "retrain_envelope.png"
PROTOCOL = (
    f"Real MNIST digits, 8,000 train / 2,000 test (`common.load_split`). CNN "
    f"Conv{WIDTHS[0]}-Pool-Conv{WIDTHS[1]}-Pool-Dense{WIDTHS[2]}-Dense10 (`common.build_cnn`), "
    f"SGD momentum {MOMENTUM}, weight decay {WEIGHT_DECAY} (Keras' decoupled form), batch "
    f"{BATCH}. One epoch = {{spe}} steps ({{images:,}} images). Original training: "
    f"T = {ORIGINAL_EPOCHS} epochs, learning rate warmed up linearly from 0 to {MAX_LR} in "
    f"{WARMUP_EPOCHS} epochs, then divided by 10 at epochs {', '.join(map(str, MILESTONES))} "
    "(step-wise, as the seed's ImageNet schedule). "
    "Seed = initialization and data order; every run of a seed starts from the same "
    "weights and sees the same batches, so schedules are compared seed by seed."
)


@keras.saving.register_keras_serializable(package="bench")
class WarmupSteps(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` in `warmup_steps`, then `peak / 10**k` after the
    k-th boundary (a step schedule with the usual warm-up; elementwise in `step`)."""

    def __init__(self, peak: float, warmup_steps: int, boundaries):
        self.peak, self.warmup_steps, self.boundaries = peak, warmup_steps, list(boundaries)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        drops = sum(keras.ops.cast(step >= b, "float32") for b in self.boundaries)
        stepped = self.peak * keras.ops.power(0.1, drops)
        return keras.ops.where(step < self.warmup_steps,
                               self.peak * step / max(self.warmup_steps, 1), stepped)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "boundaries": self.boundaries}


class Setting:
    """The data, the clock and the models shared by the three parts."""

    def __init__(self, args):
        self.args = args
        self.spe = args.steps_per_epoch
        (self.x, self.y), (self.x_test, self.y_test) = common.load_split(args.data_dir)
        self._dense: dict[int, tuple[keras.Model, float]] = {}

    def batches(self, seed: int) -> tf.data.Dataset:
        """An endless stream of shuffled batches; every fit of `seed` sees the same order."""
        data = tf.data.Dataset.from_tensor_slices((self.x, self.y))
        return data.shuffle(len(self.x), seed=seed).repeat().batch(BATCH).prefetch(2)

    def step_schedule(self) -> keras.optimizers.schedules.LearningRateSchedule:
        return WarmupSteps(MAX_LR, WARMUP_EPOCHS * self.spe, [m * self.spe for m in MILESTONES])

    def compile(self, model: keras.Model, learning_rate) -> keras.Model:
        model.compile(keras.optimizers.SGD(learning_rate, momentum=MOMENTUM,
                                           weight_decay=WEIGHT_DECAY),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    def fit(self, model, seed: int, epochs: int, callbacks=()) -> None:
        model.fit(self.batches(seed), epochs=epochs, steps_per_epoch=self.spe,
                  callbacks=list(callbacks), verbose=0)

    def accuracy(self, model) -> float:
        logits = np.asarray(model(self.x_test, training=False))  # eager: no tracing per model
        return float(np.mean(np.argmax(logits, axis=-1) == self.y_test))

    def dense(self, seed: int) -> tuple[keras.Model, float]:
        """The original (dense) model of `seed` and its accuracy, trained once."""
        if seed not in self._dense:
            keras.utils.set_random_seed(seed)
            model = self.compile(common.build_cnn(keras, widths=WIDTHS), self.step_schedule())
            self.fit(model, seed, ORIGINAL_EPOCHS)
            self._dense[seed] = (model, self.accuracy(model))
        return self._dense[seed]

    def imp(self, seed: int, sparsity: float, schedule: str, cycles: int, epochs: int):
        """Prune the dense model of `seed` in `cycles` cycles of `epochs` retraining epochs."""
        dense, _ = self.dense(seed)
        keras.utils.set_random_seed(seed)
        model = self.compile(kerasprune.prune(dense, scope="global"), MAX_LR)
        imp = kerasprune.IMPCallback(
            sparsity, cycles=cycles, epochs_per_cycle=epochs, retrain_schedule=schedule,
            original_learning_rate=self.step_schedule(), original_epochs=ORIGINAL_EPOCHS)
        self.fit(model, seed, cycles * epochs, [imp])
        return self.accuracy(model), imp.cycle_records


# -- part 1: Table 1 ---------------------------------------------------------------------

def run_table1(setting: Setting) -> str:
    args = setting.args
    results, d_values, no_retrain, dense_acc = {}, {}, {}, []
    for seed in args.seeds:
        dense, acc = setting.dense(seed)
        dense_acc.append(acc)
        print(f"seed {seed}: dense {acc:.4f}", flush=True)
        for s in args.sparsities:
            no_retrain.setdefault(s, []).append(
                setting.accuracy(kerasprune.one_shot_prune(dense, s, scope="global")))
            for b in args.budgets:
                for name in SCHEDULES:
                    acc, records = setting.imp(seed, s, name, cycles=1, epochs=b)
                    results.setdefault((s, b, name), []).append(acc)
                    if name == "allr":
                        d_values.setdefault((s, b), []).append(records[0]["d"])
                    print(f"  {s:.0%} {b} ep {name}: {acc:.4f}", flush=True)
    return report.table1_section(args, dense_acc, no_retrain, results, d_values,
                                 PROTOCOL.format(spe=setting.spe, images=setting.spe * BATCH))


# -- part 2: Figure 1 -----------------------------------------------------------------

def run_envelope(setting: Setting, plot_path: Path) -> str:
    args = setting.args
    results, dense_acc = {}, []
    for seed in args.envelope_seeds:
        dense_acc.append(setting.dense(seed)[1])
        for cycles in args.cycles:
            for epochs in args.epochs_per_cycle:
                acc, _ = setting.imp(seed, args.envelope_sparsity, "allr", cycles, epochs)
                results.setdefault((cycles, epochs), []).append(acc)
                print(f"seed {seed}: {cycles} x {epochs} ep: {acc:.4f}", flush=True)
    report.plot_envelope(results, np.mean(dense_acc), args.envelope_sparsity, plot_path,
                         len(args.envelope_seeds))
    return report.envelope_section(args, results, dense_acc, plot_path,
                                   PROTOCOL.format(spe=setting.spe, images=setting.spe * BATCH))


# -- part 3: Table 2 ------------------------------------------------------------------

def run_bimp_vs_gmp(setting: Setting) -> str:
    args = setting.args
    rows = {}
    for seed in args.seeds:
        for s in args.sparsities:
            for method in ("BIMP", "GMP"):
                keras.utils.set_random_seed(seed)
                model = kerasprune.prune(common.build_cnn(keras, widths=WIDTHS), scope="global")
                if method == "BIMP":
                    setting.compile(model, MAX_LR)
                    callback = kerasprune.BIMPCallback(
                        s, total_epochs=ORIGINAL_EPOCHS, dense_epochs=args.bimp_dense_epochs,
                        cycles=args.bimp_cycles, max_learning_rate=MAX_LR)
                else:
                    linear = keras.optimizers.schedules.PolynomialDecay(
                        MAX_LR, ORIGINAL_EPOCHS * setting.spe, 0.0)
                    setting.compile(model, linear)
                    callback = kerasprune.PruningCallback(
                        s, stabilization_epochs=args.gmp_interval,
                        pruning_epochs=ORIGINAL_EPOCHS - 2 * args.gmp_interval,
                        finetune_epochs=args.gmp_interval, initial_sparsity=0.0,
                        update_every=args.gmp_interval * setting.spe)
                setting.fit(model, seed, ORIGINAL_EPOCHS, [callback])
                sparsity = kerasprune.sparsity_report(model)
                row = (setting.accuracy(model), sparsity.total, sparsity.speedup)
                rows.setdefault((s, method), []).append(row)
                print(f"seed {seed} {s:.0%} {method}: {row}", flush=True)
    return report.bimp_section(args, rows, PROTOCOL.format(spe=setting.spe,
                                                           images=setting.spe * BATCH))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", default=["table1", "envelope", "bimp"],
                        choices=["table1", "envelope", "bimp"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--steps-per-epoch", type=int, default=16)
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.7, 0.8, 0.9])
    parser.add_argument("--budgets", type=int, nargs="+", default=[2, 5, 10],
                        help="retraining epochs of Table 1 (of T = 90)")
    parser.add_argument("--envelope-sparsity", type=float, default=0.9)
    parser.add_argument("--envelope-seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--cycles", type=int, nargs="+", default=[1, 2, 3, 5])
    parser.add_argument("--epochs-per-cycle", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--bimp-dense-epochs", type=int, default=60)
    parser.add_argument("--bimp-cycles", type=int, default=3)
    parser.add_argument("--gmp-interval", type=int, default=5,
                        help="GMP: epochs between mask updates (and of the first/last stage)")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run; writes nothing")
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.seeds = args.envelope_seeds = [1, 2]
        args.steps_per_epoch, args.sparsities, args.budgets = 1, [0.9], [2]
        args.cycles, args.epochs_per_cycle = [1, 2], [1, 2]
    return args


def main() -> None:
    args = parse_args()
    setting = Setting(args)
    plot_path = Path(tempfile.mkdtemp()) / PLOT.name if args.quick else PLOT
    runs = {"table1": run_table1, "envelope": lambda s: run_envelope(s, plot_path),
            "bimp": run_bimp_vs_gmp}
    for part in args.parts:
        start = time.perf_counter()
        text = runs[part](setting)
        print(text, flush=True)
        if not args.quick:
            common.write_section(f"retrain-{part}", text,
                                 wall_seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
