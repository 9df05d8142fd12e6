"""Training overhead and accuracy of kerasprune vs plain Keras 3, plain tf_keras and TFMOT.

The FACTS.md setting: MNIST 8k/2k, CNN Conv32-Pool-Conv64-Pool-Dense256-Dense10, Adam 1e-3,
batch 128, 4 epochs, cubic sparsity 0 -> 0.9. Five variants run in one process, interleaved
(the order rotates every repetition, each repetition uses its own seed):

- `keras3`: plain `fit` in Keras 3.
- `kerasprune layer` / `kerasprune global`: `kerasprune.prune(model, scope=...)` and
  `PruningCallback(0.9, stabilization_epochs=0, pruning_epochs=3, finetune_epochs=1,
  initial_sparsity=0.0, update_every="epoch", schedule="cubic")`: masks updated at the
  start of epochs 1, 2, 3 to 0, 0.7875, 0.9; epoch 4 fine-tunes at 0.9.
- `tf_keras`: the same CNN, plain `fit` in tf_keras (Keras 2).
- `tfmot`: `prune_low_magnitude` with `PolynomialDecay(0, 0.9, begin_step=1,
  end_step=1 + 2 * steps_per_epoch, frequency=steps_per_epoch)` + `UpdatePruningStep`: the
  same three updates at the same steps (TFMOT's step counter is 1 on the first batch).

Epoch times are wall (and process CPU) times of whole epochs, callbacks included; the
first epoch (tracing) is reported apart, the others give the minimum and median. Accuracy
is that of the stripped models (`kerasprune.strip`, `strip_pruning`) on the 2,000
held-out images. Two smaller measurements say where the time goes: a steady state (all
variants at 90% sparsity, single epochs interleaved, no schedule work) for the cost of
the train step, and the time of the `update_masks` calls the callback makes. Then the
rows of `bench.backend_overhead`: the CNN on JAX, a KerasHub encoder on TensorFlow.

Usage (from the repository root):

    python -m bench.overhead            # full run, writes the `overhead` section of bench/RESULTS.md
    python -m bench.overhead --quick    # 1 repetition on 2,048 images, prints only
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field

from bench import backend_overhead, common

common.quiet_tensorflow()

import keras  # noqa: E402  (after the log level is set)
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
from kerasprune.core.mask_update import write_masks  # noqa: E402

EPOCHS = 4
BATCH_SIZE = 128
TARGET = 0.9
VARIANTS = ("keras3", "kerasprune layer", "kerasprune global", "tf_keras", "tfmot")
BASELINE = {"kerasprune layer": "keras3", "kerasprune global": "keras3", "tfmot": "tf_keras",
            "tf_keras": "keras3"}


@dataclass
class Variant:
    """A compiled model ready to `fit`, with the callbacks it needs and how to strip it."""

    keras_module: object
    model: object
    callbacks: list
    strip: object


@dataclass
class Run:
    """One `fit` of one variant: epoch wall and CPU times (s), accuracy, sparsity per epoch."""

    epoch_times: list[float]
    cpu_times: list[float]
    accuracy: float
    sparsity: list[float] = field(default_factory=list)


def make_variant(name: str, seed: int, steps_per_epoch: int, steady: bool = False) -> Variant:
    """Build and compile variant `name` with the benchmark's schedule.

    With `steady=True` the pruning is set up for the steady-state measurement instead:
    kerasprune without callback (the caller sets the masks), TFMOT with a schedule that
    reaches 0.9 on the second step and then stays there.
    """
    if name in ("tf_keras", "tfmot"):
        return _make_tf_keras(name == "tfmot", seed, steps_per_epoch, steady)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model, callbacks, strip = common.build_cnn(keras), [], lambda m: m
    if name != "keras3":
        model = kerasprune.prune(model, scope=name.split()[-1])
        strip = kerasprune.strip
        if not steady:
            callbacks = [kerasprune.PruningCallback(
                TARGET, stabilization_epochs=0, pruning_epochs=3, finetune_epochs=1,
                initial_sparsity=0.0, update_every="epoch", schedule="cubic")]
    common.compile_cnn(keras, model)
    return Variant(keras, model, callbacks, strip)


def _make_tf_keras(prune: bool, seed: int, steps_per_epoch: int, steady: bool) -> Variant:
    import tensorflow_model_optimization as tfmot
    import tf_keras

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(seed)
    model, callbacks, strip = common.build_cnn(tf_keras), [], lambda m: m
    if prune:
        # TFMOT's step is 1 on the first batch: begin_step=1 updates at the start of epochs.
        end = 2 if steady else 1 + 2 * steps_per_epoch
        frequency = 1 if steady else steps_per_epoch
        schedule = tfmot.sparsity.keras.PolynomialDecay(
            0.0, TARGET, begin_step=1, end_step=end, frequency=frequency)
        model = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
        callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
        strip = tfmot.sparsity.keras.strip_pruning
    common.compile_cnn(tf_keras, model)
    return Variant(tf_keras, model, callbacks, strip)


def fit_timed(variant: Variant, x, y, epochs: int, record_sparsity: bool = False):
    """`fit` with the epoch timer around the variant's callbacks; returns the timer, sparsities."""
    timer, sparsities = common.EpochTimer(variant.keras_module), []
    callbacks = timer.around(variant.callbacks)
    if record_sparsity:  # after the timer's stop hook, so not timed
        callbacks.append(variant.keras_module.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs=None: sparsities.append(
                common.kernel_sparsity(variant.model))))
    variant.model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0, callbacks=callbacks)
    return timer, sparsities


def full_run(name: str, data, seed: int) -> Run:
    """The 4-epoch pruning run of one variant: times, stripped model's accuracy, sparsity."""
    (x_train, y_train), (x_test, y_test) = data
    variant = make_variant(name, seed, _steps(len(x_train)))
    timer, sparsities = fit_timed(variant, x_train, y_train, EPOCHS, record_sparsity=True)
    accuracy = common.accuracy(variant.strip(variant.model), x_test, y_test)
    return Run(timer.times, timer.cpu_times, accuracy, sparsities)


def run_all(data, repeats: int) -> dict[str, list[Run]]:
    """Every variant once per repetition; the order rotates so no variant always goes first."""
    runs: dict[str, list[Run]] = {name: [] for name in VARIANTS}
    for rep in range(repeats):
        for name in _rotated(VARIANTS, rep):
            run = full_run(name, data, seed=rep)
            runs[name].append(run)
            print(f"rep {rep} {name:18s} epochs {_fmt_times(run.epoch_times)}  "
                  f"acc {run.accuracy:.4f}  sparsity {run.sparsity[-1]:.4f}", flush=True)
    return runs


def steady_state(data, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Training-step cost alone: all variants at 90% sparsity, single epochs interleaved.

    No schedule work happens here (kerasprune masks are set once, TFMOT's schedule ended),
    so the difference to plain training is the cost of the wrappers and mask application.
    """
    (x_train, y_train), _ = data
    steps = _steps(len(x_train))
    variants = {name: make_variant(name, 0, steps, steady=True) for name in VARIANTS}
    for name, variant in variants.items():
        fit_timed(variant, x_train, y_train, 1)  # tracing
        if name.startswith("kerasprune"):
            kerasprune.update_masks(variant.model, TARGET)
    times = {name: {"wall": [], "cpu": []} for name in VARIANTS}
    for r in range(rounds):
        for name in _rotated(VARIANTS, r):
            timer, _ = fit_timed(variants[name], x_train, y_train, 1)
            times[name]["wall"] += timer.times
            times[name]["cpu"] += timer.cpu_times
        print(f"steady round {r}: " + ", ".join(
            f"{n} {times[n]['wall'][-1]:.2f}" for n in VARIANTS), flush=True)
    return times


def mask_update_cost(repeats: int = 5) -> dict[str, float]:
    """Median seconds of the `update_masks` calls the callback makes, on the benchmark CNN."""
    costs = {}
    for scope in ("layer", "global"):
        keras.utils.set_random_seed(0)
        model = kerasprune.prune(common.build_cnn(keras), scope=scope)
        wrappers = kerasprune.prune_wrappers(model)
        for label, before, after in (("0 -> 0.7875", 0.0, 0.7875), ("0.7875 -> 0.9", 0.7875, 0.9),
                                     ("0.9 -> 0.9", 0.9, 0.9)):
            samples = []
            for _ in range(repeats):
                write_masks({w: [np.ones(m.shape, "float32") for m in w.masks] for w in wrappers})
                for wrapper in wrappers:
                    for weight in wrapper.pruned_weights:  # fresh magnitudes, no zeros
                        weight.assign(np.random.standard_normal(weight.shape).astype("float32"))
                if before:
                    kerasprune.update_masks(model, before)
                start = time.perf_counter()
                kerasprune.update_masks(model, after)
                samples.append(time.perf_counter() - start)
            costs[f"{scope} {label}"] = statistics.median(samples)
    return costs


def summarize(runs: dict[str, list[Run]]) -> dict[str, dict[str, float]]:
    """Per variant: first-epoch and later-epoch times (min, median), accuracy, sparsity."""
    table = {}
    for name, items in runs.items():
        first = [r.epoch_times[0] for r in items]
        later = [t for r in items for t in r.epoch_times[1:]]
        later_cpu = [t for r in items for t in r.cpu_times[1:]]
        accs = [r.accuracy for r in items]
        table[name] = {
            "first_min": min(first), "first_median": statistics.median(first),
            "min": min(later), "median": statistics.median(later),
            "cpu_min": min(later_cpu), "cpu_median": statistics.median(later_cpu),
            "acc_mean": float(np.mean(accs)),
            "acc_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
            "sparsity": float(np.mean([r.sparsity[-1] for r in items])),
            "trajectory": np.mean([r.sparsity for r in items], axis=0).tolist(),
        }
    for name, base in BASELINE.items():
        for key in ("min", "median", "cpu_min", "cpu_median"):
            table[name][f"ratio_{key}"] = table[name][key] / table[base][key]
        # Same repetition = close in time: the ratio is less exposed to slow phases.
        table[name]["ratio_paired"] = statistics.median(
            sum(r.epoch_times[1:]) / sum(b.epoch_times[1:])
            for r, b in zip(runs[name], runs[base]))
    return table


def summarize_steady(times) -> dict[str, dict[str, float]]:
    """Min and median epoch times, and the median of per-round paired ratios."""
    table = {}
    for name, series in times.items():
        table[name] = {"min": min(series["wall"]), "median": statistics.median(series["wall"]),
                       "cpu_median": statistics.median(series["cpu"])}
    for name, base in BASELINE.items():
        paired = [a / b for a, b in zip(times[name]["wall"], times[base]["wall"])]
        paired_cpu = [a / b for a, b in zip(times[name]["cpu"], times[base]["cpu"])]
        table[name]["ratio_min"] = table[name]["min"] / table[base]["min"]
        table[name]["paired"] = statistics.median(paired)
        table[name]["paired_cpu"] = statistics.median(paired_cpu)
    return table


def markdown(table, steady, costs, args, n_test: int) -> str:
    """The `overhead` section of bench/RESULTS.md."""
    steps = _steps(args.n_train)
    lines = [
        "## Training overhead and accuracy: kerasprune vs Keras 3, tf_keras and TFMOT",
        "",
        f"MNIST {args.n_train} train / {n_test} test (split of the real MNIST test set), CNN "
        "Conv32-Pool-Conv64-Pool-Dense256-Dense10, Adam 1e-3, batch 128 "
        f"({steps} steps/epoch), {EPOCHS} epochs, cubic sparsity 0 -> {TARGET}: masks "
        "updated at the start of epochs 1, 2, 3 (0, 0.7875, 0.9) and frozen in epoch 4, "
        "identically for kerasprune (`PruningCallback(0.9, stabilization_epochs=0, "
        "pruning_epochs=3, finetune_epochs=1, initial_sparsity=0.0, update_every=\"epoch\", "
        "schedule=\"cubic\")`) and TFMOT (`PolynomialDecay(0, 0.9, begin_step=1, "
        f"end_step={1 + 2 * steps}, frequency={steps})`; its step is 1 on the first batch). "
        f"{args.repeats} repetitions, the five variants interleaved in one process in a "
        "rotating order, seed = repetition index.",
        "",
        "### Full pruning runs",
        "",
        "Epoch times are whole epochs including callbacks (kerasprune's mask updates, "
        "TFMOT's `UpdatePruningStep`), after the first (tracing) epoch: min and median of "
        f"{args.repeats} x {EPOCHS - 1} epochs; paired = median over repetitions of (variant's "
        "epochs 2-4 / its baseline's epochs 2-4 in the same repetition); CPU = process CPU "
        "time of the same epochs (all threads). Ratios: kerasprune against plain "
        "Keras 3, TFMOT against plain tf_keras, tf_keras against Keras 3. Accuracy: mean +- "
        "sample std over the seeds, of the stripped model. Sparsity: zeros in all conv/dense "
        "kernels after training.",
        "",
        "| variant | first epoch s (min / median) | epoch s (min / median) | ratio (min / median) "
        "| paired ratio | CPU ratio (min / median) | test accuracy % | kernel sparsity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in VARIANTS:
        row = table[name]
        lines.append(
            f"| {name} | {row['first_min']:.2f} / {row['first_median']:.2f} "
            f"| {row['min']:.3f} / {row['median']:.3f} "
            f"| {_ratio(row, 'ratio_min')} / {_ratio(row, 'ratio_median')} "
            f"| {_ratio(row, 'ratio_paired')} "
            f"| {_ratio(row, 'ratio_cpu_min')} / {_ratio(row, 'ratio_cpu_median')} "
            f"| {100 * row['acc_mean']:.2f} +- {100 * row['acc_std']:.2f} "
            f"| {row['sparsity']:.4f} |"
        )
    lines += ["", *verdicts(table), "", "Mean kernel sparsity after each epoch:", ""]
    for name in ("kerasprune layer", "kerasprune global", "tfmot"):
        values = ", ".join(f"{v:.4f}" for v in table[name]["trajectory"])
        lines.append(f"- {name}: {values}")
    lines += [
        "",
        "### Where the time goes",
        "",
        f"Steady state: every variant at 90% sparsity with no schedule work left, {args.rounds} "
        "rounds of one epoch each, interleaved (rotating order). This is the cost of the "
        "wrappers and of applying the masks in the train step; paired = median over rounds "
        "of (variant epoch / baseline epoch in the same round).",
        "",
        "| variant | epoch s (min / median) | ratio of mins | paired ratio (wall) "
        "| paired ratio (CPU) |",
        "|---|---|---|---|---|",
    ]
    for name in VARIANTS:
        row = steady[name]
        lines.append(
            f"| {name} | {row['min']:.3f} / {row['median']:.3f} | {_ratio(row, 'ratio_min')} "
            f"| {_ratio(row, 'paired')} | {_ratio(row, 'paired_cpu')} |"
        )
    lines += [
        "",
        "Cost of one `kerasprune.update_masks` call on this CNN (median of 5, seconds); the "
        "callback calls it at the start of every pruning epoch and once more when "
        "fine-tuning starts (the `0.9 -> 0.9` case):",
        "",
        "| scope and sparsity | seconds |",
        "|---|---|",
    ]
    lines += [f"| {label} | {value:.4f} |" for label, value in costs.items()]
    return "\n".join(lines)


def verdicts(table) -> list[str]:
    """The issue's two targets, checked on this run's numbers."""
    lines = []
    for name in ("kerasprune layer", "kerasprune global"):
        row = table[name]
        met = "met" if row["ratio_min"] <= 1.05 else "missed"
        lines.append(
            f"- Target {name} / Keras 3 epoch time <= 1.05: {met} (min {row['ratio_min']:.3f}, "
            f"median {row['ratio_median']:.3f}, paired {row['ratio_paired']:.3f}); TFMOT / "
            f"tf_keras: min {table['tfmot']['ratio_min']:.3f}, median "
            f"{table['tfmot']['ratio_median']:.3f}, paired {table['tfmot']['ratio_paired']:.3f}."
        )
        diff = 100 * (row["acc_mean"] - table["tfmot"]["acc_mean"])
        met = "met" if diff >= 0 else "missed"
        lines.append(
            f"- Target {name} accuracy >= TFMOT: {met} ({diff:+.2f} points on the mean; std "
            f"{100 * row['acc_std']:.2f} and {100 * table['tfmot']['acc_std']:.2f}).")
    return lines


def _ratio(row, key) -> str:
    return f"{row[key]:.3f}" if key in row else "1 (base)"


def _steps(n_train: int) -> int:
    return -(-n_train // BATCH_SIZE)


def _rotated(names, shift: int):
    shift %= len(names)
    return names[shift:] + names[:shift]


def _fmt_times(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" for t in times)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="alternated repetitions = seeds (default 5, --quick 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="steady-state rounds of one epoch per variant (default 8, --quick 2)")
    parser.add_argument("--n-train", type=int, default=None,
                        help="training images used of the 8,000 (default all, --quick 2048)")
    common.add_data_dir_argument(parser)
    parser.add_argument("--quick", action="store_true", help="1 repetition on 2,048 images, no file written")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even with --quick")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.rounds is None:
        args.rounds = 2 if args.quick else 8
    if args.n_train is None:
        args.n_train = 2048 if args.quick else 8000
    if args.repeats < 1 or args.rounds < 1:
        parser.error(f"--repeats and --rounds must be >= 1. Received: --repeats {args.repeats} "
                     f"--rounds {args.rounds}")
    if not BATCH_SIZE * 2 <= args.n_train <= 8000:
        parser.error(f"--n-train must be in [{BATCH_SIZE * 2}, 8000]. Received: {args.n_train}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    (x_train, y_train), test = common.load_split(args.data_dir)
    data = ((x_train[: args.n_train], y_train[: args.n_train]), test)
    table = summarize(run_all(data, args.repeats))
    steady = summarize_steady(steady_state(data, args.rounds))
    costs = mask_update_cost()
    text = markdown(table, steady, costs, args, len(test[0]))
    text += "\n\n" + backend_overhead.section(args)  # the JAX and transformer rows
    print(text)
    if args.write or not args.quick:
        common.write_section("overhead", text)
    return table


if __name__ == "__main__":
    main()
