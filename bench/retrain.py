"""Retraining schedules after one-shot pruning, and BIMP vs GMP vs TFMOT GMP, on MNIST.

Part 1 (seed 003, Table 1 in small): train the FACTS.md CNN dense with SGD and a linear
learning-rate decay, prune it once (global magnitude) to 90% and 98%, and retrain with FT,
LRW, SLR, CLR, LLR and ALLR for short budgets. All schedules of one seed start from the
same dense weights and run interleaved in one process.

Part 2 (seed 003, Table 2 in small): under the same total epoch budget, BIMP
(kerasprune.BIMPCallback) vs kerasprune GMP (kerasprune.PruningCallback) vs TFMOT GMP
(tf_keras + tensorflow_model_optimization), 90% sparsity, interleaved per seed.

Writes its own section of bench/RESULTS.md (between `<!-- begin retrain -->` and
`<!-- end retrain -->`).

    python -m bench.retrain            # full run (~15-20 min on 2 cores)
    python -m bench.retrain --quick    # smoke run, does not write RESULTS.md
"""

from __future__ import annotations

import argparse
import time

from bench import common

common.quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402

import kerasprune  # noqa: E402
from kerasprune import BIMPCallback, IMPCallback, one_shot_prune  # noqa: E402

SCHEDULES = ["ft", "lrw", "slr", "clr", "llr", "allr"]
BATCH = 128
MAX_LR = 0.05
MOMENTUM = 0.9


def cnn_layers(layers) -> list:
    """FACTS.md CNN: Conv32-Pool-Conv64-Pool-Dense256-Dense10 (Keras 3 or tf_keras layers)."""
    return [
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dense(10),
    ]


def keras3_cnn() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28, 1))] + cnn_layers(keras.layers))


def compile_sgd(model, learning_rate):
    model.compile(keras.optimizers.SGD(learning_rate, momentum=MOMENTUM),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def accuracy(model, data) -> float:
    (x_test, y_test) = data
    return float(model.evaluate(x_test, y_test, batch_size=512, verbose=0)[1])


def linear(epochs: int, steps: int):
    return keras.optimizers.schedules.PolynomialDecay(MAX_LR, epochs * steps, 0.0)


def train_dense(seed, train, test, epochs, steps):
    keras.utils.set_random_seed(seed)
    model = compile_sgd(keras3_cnn(), linear(epochs, steps))
    model.fit(*train, batch_size=BATCH, epochs=epochs, verbose=0)
    return model, accuracy(model, test)


def retrain_one_shot(dense, sparsity, schedule, budget, train, test, dense_epochs, seed):
    keras.utils.set_random_seed(seed)
    # The callback does the pruning, so ALLR sees the weights right before and after it.
    pruned = compile_sgd(kerasprune.prune(dense, scope="global"), MAX_LR)
    steps = int(np.ceil(len(train[0]) / BATCH))
    imp = IMPCallback(sparsity, epochs_per_cycle=budget, retrain_schedule=schedule,
                      original_learning_rate=linear(dense_epochs, steps),
                      original_epochs=dense_epochs)
    pruned.fit(*train, batch_size=BATCH, epochs=budget, callbacks=[imp], verbose=0)
    return accuracy(pruned, test), imp.cycle_records[0]


# -- part 2: BIMP vs GMP vs TFMOT GMP -------------------------------------------------

def run_bimp(seed, train, test, total, dense_epochs, cycles):
    keras.utils.set_random_seed(seed)
    model = compile_sgd(kerasprune.prune(keras3_cnn(), scope="global"), MAX_LR)
    bimp = BIMPCallback(0.9, total_epochs=total, dense_epochs=dense_epochs, cycles=cycles)
    start = time.perf_counter()
    model.fit(*train, batch_size=BATCH, epochs=total, callbacks=[bimp], verbose=0)
    return accuracy(model, test), kerasprune.sparsity_report(model).total, time.perf_counter() - start


def gmp_stages(total):
    """Stabilization 1 epoch, pruning until 2 epochs before the end, 2 epochs fine-tuning."""
    return 1, total - 3, 2


def run_kerasprune_gmp(seed, train, test, total, update_every):
    keras.utils.set_random_seed(seed)
    steps = int(np.ceil(len(train[0]) / BATCH))
    model = compile_sgd(kerasprune.prune(keras3_cnn(), scope="layer"), linear(total, steps))
    stab, prune_epochs, fine = gmp_stages(total)
    gmp = kerasprune.PruningCallback(0.9, stabilization_epochs=stab, pruning_epochs=prune_epochs,
                                     finetune_epochs=fine, initial_sparsity=0.0,
                                     update_every=update_every)
    start = time.perf_counter()
    model.fit(*train, batch_size=BATCH, epochs=total, callbacks=[gmp], verbose=0)
    return accuracy(model, test), kerasprune.sparsity_report(model).total, time.perf_counter() - start


def run_tfmot_gmp(seed, train, test, total, update_every):
    import tf_keras
    import tensorflow_model_optimization as tfmot

    tf_keras.utils.set_random_seed(seed)
    steps = int(np.ceil(len(train[0]) / BATCH))
    stab, prune_epochs, _ = gmp_stages(total)
    sparsity = tfmot.sparsity.keras.PolynomialDecay(
        0.0, 0.9, begin_step=stab * steps, end_step=(stab + prune_epochs) * steps - update_every,
        frequency=update_every)
    model = tfmot.sparsity.keras.prune_low_magnitude(
        tf_keras.Sequential([tf_keras.Input((28, 28, 1))] + cnn_layers(tf_keras.layers)), pruning_schedule=sparsity)
    lr = tf_keras.optimizers.schedules.PolynomialDecay(MAX_LR, total * steps, 0.0)
    model.compile(tf_keras.optimizers.SGD(lr, momentum=MOMENTUM),
                  tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(*train, batch_size=BATCH, epochs=total, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    seconds = time.perf_counter() - start
    stripped = tfmot.sparsity.keras.strip_pruning(model)
    stripped.compile(metrics=["accuracy"],
                     loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    kernels = [w.numpy() for layer in stripped.layers for w in layer.weights if "kernel" in w.name]
    zeros = sum(int(np.sum(k == 0)) for k in kernels) / sum(k.size for k in kernels)
    acc = float(stripped.evaluate(*test, batch_size=512, verbose=0)[1])
    return acc, zeros, seconds


# -- reporting ------------------------------------------------------------------------

def mean_std(values) -> str:
    values = np.asarray(values, dtype=float) * 100
    return f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.2f}"


def ordering_lines(results, sparsities, budgets) -> list[str]:
    lines = []
    for s in sparsities:
        for b in budgets:
            m = {name: np.mean(results[(s, name, b)]) * 100 for name in SCHEDULES}
            checks = [
                ("ALLR >= LLR", m["allr"] >= m["llr"], f"{m['allr']:.2f} vs {m['llr']:.2f}"),
                ("CLR > FT", m["clr"] > m["ft"], f"{m['clr']:.2f} vs {m['ft']:.2f}"),
                ("CLR > LRW", m["clr"] > m["lrw"], f"{m['clr']:.2f} vs {m['lrw']:.2f}"),
                ("ALLR best of all six", m["allr"] >= max(m.values()),
                 "best: " + max(m, key=m.get).upper()),
            ]
            text = "; ".join(f"{c}: {'holds' if ok else 'does NOT hold'} ({why})"
                             for c, ok, why in checks)
            lines.append(f"- {s:.0%} sparsity, {b} epoch(s): {text}")
    return lines


def section(args, dense_acc, pruned_acc, results, d_values, part2) -> str:
    out = [
        "## Retraining schedules after one-shot pruning; BIMP vs GMP (bench/retrain.py)",
        "",
        f"MNIST test set split 8,000 train / 2,000 test (`common.load_split`). CNN "
        f"Conv32-Pool-Conv64-Pool-Dense256-Dense10, SGD momentum {MOMENTUM}, batch {BATCH}. "
        f"Dense: {args.dense_epochs} epochs, learning rate linear from {MAX_LR} to 0 "
        f"(this is the original schedule the retraining schedules are derived from). "
        f"One-shot global magnitude pruning of all conv/dense kernels, then retraining with "
        f"`IMPCallback(cycles=1)`. Seeds {args.seeds} (seed = init, shuffling); "
        f"test accuracy in %, mean ± std over seeds.",
        "",
        f"Dense accuracy: {mean_std(dense_acc)}.",
        "",
    ]
    header = "| schedule | " + " | ".join(
        f"{s:.0%}, {b} ep" for s in args.sparsities for b in args.budgets) + " |"
    out += [header, "|" + "---|" * (1 + len(args.sparsities) * len(args.budgets))]
    out.append("| no retraining | " + " | ".join(
        mean_std(pruned_acc[s]) for s in args.sparsities for _ in args.budgets) + " |")
    for name in SCHEDULES:
        out.append(f"| {name.upper()} | " + " | ".join(
            mean_std(results[(s, name, b)]) for s in args.sparsities for b in args.budgets) + " |")
    out += ["", "ALLR's factor d (mean over seeds): " + ", ".join(
        f"{s:.0%}/{b} ep: {np.mean(d_values[(s, b)]):.3f}"
        for s in args.sparsities for b in args.budgets) + ".", "",
        "Seed 003's Table 1 ordering at high sparsity and small budget, checked on the means:", ""]
    out += ordering_lines(results, args.sparsities, args.budgets)
    out += ["", "Caveat: MNIST is easy. Apart from FT, the schedules differ by less than about "
            "one standard deviation over the seeds, so these orderings are indicative, not "
            "significant."]
    if part2:
        total, t0, cycles = args.total_epochs, args.bimp_dense_epochs, args.bimp_cycles
        stab, prune_epochs, fine = gmp_stages(total)
        out += [
            "",
            f"### BIMP vs GMP at 90% sparsity, same budget of {total} epochs",
            "",
            f"BIMP: `BIMPCallback(0.9, total_epochs={total}, dense_epochs={t0}, cycles={cycles})`, "
            f"global scope, linear {MAX_LR} -> 0 in the dense phase, ALLR in each cycle. "
            f"GMP (both): {stab} epoch stabilization, cubic 0 -> 90% over {prune_epochs} epochs "
            f"with a mask update every {args.update_every} steps, {fine} epochs fine-tuning, "
            f"per-layer scope, learning rate linear {MAX_LR} -> 0 over the {total} epochs. "
            "TFMOT is 0.8.1 on tf_keras (Keras 2); the others are Keras 3. Time = fit wall "
            "time per run (includes tracing; noisy on this shared machine, not a speed claim).",
            "",
            "| method | accuracy % | kernel sparsity | fit time s (median) |",
            "|---|---|---|---|",
        ]
        for name, rows in part2.items():
            acc = [r[0] for r in rows]
            out.append(f"| {name} | {mean_std(acc)} | {np.mean([r[1] for r in rows]):.3f} | "
                       f"{np.median([r[2] for r in rows]):.1f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--dense-epochs", type=int, default=6)
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.98])
    parser.add_argument("--total-epochs", type=int, default=8)
    parser.add_argument("--bimp-dense-epochs", type=int, default=4)
    parser.add_argument("--bimp-cycles", type=int, default=2)
    parser.add_argument("--update-every", type=int, default=10)
    parser.add_argument("--skip-gmp", action="store_true", help="skip part 2")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run; no RESULTS.md")
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.dense_epochs, args.budgets, args.total_epochs = [1], 1, [1], 4
        args.bimp_dense_epochs, args.bimp_cycles, args.update_every = 2, 2, 2

    start = time.perf_counter()
    train, test = common.load_split(args.data_dir)
    if args.quick:
        train = (train[0][:1024], train[1][:1024])
    steps = int(np.ceil(len(train[0]) / BATCH))
    dense_acc, pruned_acc, results, d_values = [], {}, {}, {}
    part2 = {} if args.skip_gmp else {"BIMP (kerasprune)": [], "GMP (kerasprune)": [],
                                       "GMP (TFMOT)": []}
    for seed in args.seeds:
        dense, acc = train_dense(seed, train, test, args.dense_epochs, steps)
        dense_acc.append(acc)
        print(f"seed {seed}: dense {acc:.4f}", flush=True)
        for s in args.sparsities:
            pruned_acc.setdefault(s, []).append(accuracy(compile_sgd(one_shot_prune(dense, s), MAX_LR), test))
            for b in args.budgets:
                for name in SCHEDULES:
                    acc, record = retrain_one_shot(dense, s, name, b, train, test,
                                                   args.dense_epochs, seed)
                    results.setdefault((s, name, b), []).append(acc)
                    if name == "allr":
                        d_values.setdefault((s, b), []).append(record["d"])
                    print(f"  s={s} b={b} {name}: {acc:.4f} d={record.get('d')}", flush=True)
        if part2:
            runs = [("BIMP (kerasprune)", lambda: run_bimp(seed, train, test, args.total_epochs,
                                                           args.bimp_dense_epochs, args.bimp_cycles)),
                    ("GMP (kerasprune)", lambda: run_kerasprune_gmp(seed, train, test,
                                                                    args.total_epochs, args.update_every)),
                    ("GMP (TFMOT)", lambda: run_tfmot_gmp(seed, train, test, args.total_epochs,
                                                          args.update_every))]
            for name, run in runs:
                part2[name].append(run())
                print(f"  {name}: {part2[name][-1]}", flush=True)
    text = section(args, dense_acc, pruned_acc, results, d_values, part2)
    print(text)
    if not args.quick:
        common.write_section("retrain", text, wall_seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
