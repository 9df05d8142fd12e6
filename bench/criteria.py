"""Every pruning criterion side by side on the MNIST CNN, on one budget.

    python -m bench.criteria [--seeds 3] [--quick]

Per seed: the FACTS.md CNN trained dense on the MNIST 8k split; then, for every row of
`ROWS` and every target, a copy of it pruned inside `model.fit` by the row's callback
(GMP: `PruningCallback`, the cubic ramp over one epoch, then one epoch of fine-tuning
with masks frozen), scored by the row's criterion on a fixed sample of training images
(`CriterionData`). Unstructured rows prune every kernel at 90% and 95% (each tensor to the
target: layer scope); channel rows remove 50% and 75% of the channels of conv1, conv2 and
the hidden Dense layer, and the model is then `shrink`-ed (parameters, multiply-accumulates
and accuracy of the smaller dense model). Random is the floor; each row is compared with
magnitude (unstructured) or L1 (channels) seed by seed (paired differences, 95% t
interval).

A row is one `Row` entry: a label, whether it prunes weights or channels, the
`kerasprune.prune` options and (optionally) the callback that trains it. Learned masks
and penalties are added as rows the same way.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable

from bench import common

common.quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
from kerasprune.core.report import multiply_accumulates  # noqa: E402

UNSTRUCTURED_TARGETS = (0.90, 0.95)
CHANNEL_TARGETS = (0.50, 0.75)


def gmp(target: float, data, args) -> keras.callbacks.Callback:
    """The default training of a row: GMP, one pruning epoch, one fine-tuning epoch."""
    return kerasprune.PruningCallback(target, stabilization_epochs=0, pruning_epochs=1,
                                      finetune_epochs=args.epochs - 1,
                                      update_every=args.update_every, data=data)


@dataclass(frozen=True)
class Row:
    """One criterion (or method) of the table.

    `prune_options(seed)` gives `kerasprune.prune`'s keyword arguments; `callback(target,
    data, args)` the callback that prunes inside `fit` (default: `gmp`).
    """

    label: str
    kind: str  # "weights" or "channels"
    prune_options: Callable[[int], dict]
    callback: Callable = gmp


def weights(criterion: str, label: str) -> Row:
    return Row(label, "weights", lambda seed: {"criterion": criterion, "seed": seed})


def channels(criterion: str, label: str) -> Row:
    return Row(label, "channels", lambda seed: {
        "pattern": kerasprune.Channels(criterion, seed=seed), "exclude": ["logits"]})


ROWS = [
    weights("magnitude", "magnitude"),
    weights("snip", "SNIP"),
    weights("obd", "OBD"),
    weights("wanda", "Wanda"),
    weights("grasp", "GraSP"),
    weights("synflow", "SynFlow"),
    weights("random", "random"),
    channels("l1", "L1"),
    channels("l2", "L2"),
    channels("l0", "L0 (count)"),
    channels("taylor", "Taylor"),
    channels("taylor2", "Taylor, 2nd order"),
    channels("apoz", "APoZ"),
    channels("mean_activation", "mean activation"),
    channels("fpgm", "FPGM"),
    channels("cosine", "cosine"),
    channels("correlation", "correlation"),
    channels("entropy", "entropy"),
    channels("lda", "LDA"),
    channels("random", "random"),
]
BASELINES = {"weights": "magnitude", "channels": "L1"}


def macs(model: keras.Model) -> int:
    return sum(row.dense for row in multiply_accumulates(model))


def run_row(row: Row, target: float, dense, seed: int, data, train, test, args) -> dict:
    keras.utils.set_random_seed(seed)
    (x, y), (x_test, y_test) = train, test
    model = kerasprune.prune(dense, **row.prune_options(seed))
    common.compile_cnn(keras, model)
    model.fit(x, y, epochs=args.epochs, batch_size=128, verbose=0,
              callbacks=[row.callback(target, data, args)])
    result = {"accuracy": common.accuracy(model, x_test, y_test)}
    if row.kind == "channels":
        small = kerasprune.shrink(model)
        result.update(accuracy=common.accuracy(small, x_test, y_test),
                      parameters=small.count_params() / dense.count_params(),
                      macs=macs(small) / macs(dense))
    return result


def run_seed(seed: int, rows: list[Row], args, train, test) -> dict:
    keras.utils.set_random_seed(seed)
    (x, y), _ = train, test
    dense = common.build_cnn(keras)
    common.compile_cnn(keras, dense)
    dense.fit(x, y, epochs=args.dense_epochs, batch_size=128, verbose=0)
    pick = np.random.default_rng(seed).choice(len(x), args.sample, replace=False)
    data = kerasprune.CriterionData(x[pick], y[pick], batch_size=64)
    results = {"dense": common.accuracy(dense, *test)}
    for row in rows:
        for target in CHANNEL_TARGETS if row.kind == "channels" else UNSTRUCTURED_TARGETS:
            start = time.perf_counter()
            result = run_row(row, target, dense, seed, data, train, test, args)
            result["seconds"] = time.perf_counter() - start
            results[(row.kind, row.label, target)] = result
            print(f"seed {seed} {row.label} {target:.0%}: {result['accuracy']:.4f} "
                  f"({result['seconds']:.0f} s)", flush=True)
    return results


def interval(rows_a: list[float], rows_b: list[float]) -> str:
    mean, low, high = common.paired_interval(rows_a, rows_b)
    if np.isnan(low):
        return f"{100 * mean:+.2f}"
    return f"{100 * mean:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}]"


def table(results: list[dict], rows: list[Row], args, minutes: float) -> str:
    def value(label, t, key="accuracy"):
        kind = "weights" if t in UNSTRUCTURED_TARGETS else "channels"
        return [r[(kind, label, t)][key] for r in results]

    lines = [
        "## Every criterion on one budget: the MNIST CNN (bench/criteria.py)",
        "",
        f"FACTS.md CNN trained dense for {args.dense_epochs} epochs (Adam 1e-3, batch 128) "
        f"on the MNIST 8k split, then, per row and target, a copy pruned by GMP inside "
        f"`fit`: the cubic ramp over 1 epoch (masks recomputed every {args.update_every} "
        f"steps) and {args.epochs - 1} epoch(s) of fine-tuning with frozen masks, Adam "
        f"1e-3. Data-driven criteria score on a fixed sample of {args.sample} training "
        "images (`CriterionData`, batches of 64); SynFlow is data-free. Every criterion "
        "scores the trained model at each update (SNIP, GraSP and SynFlow are meant for "
        "pruning at initialization; here they get the same budget as the others). Test "
        f"accuracy (%) on the 2k split, {len(results)} seeds (one dense model, sample and "
        "data order each), mean ± std; the difference to magnitude (unstructured) or L1 "
        "(channels) is paired by seed, with its 95% t interval; random is the floor.",
        "",
        f"Dense: {common.mean_std([r['dense'] for r in results], 100)}.",
        "",
        "Unstructured (every kernel, layer scope; `kerasprune.prune(model, criterion=...)`):",
        "",
        "| criterion | " + " | ".join(f"{t:.0%} | {t:.0%} - magnitude"
                                       for t in UNSTRUCTURED_TARGETS) + " |",
        "|---|" + "---|---|" * len(UNSTRUCTURED_TARGETS),
    ]
    for row in (r for r in rows if r.kind == "weights"):
        cells = []
        for t in UNSTRUCTURED_TARGETS:
            cells += [common.mean_std(value(row.label, t), 100),
                      interval(value(row.label, t), value(BASELINES["weights"], t))]
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Channels (`Channels(criterion)` on conv1, conv2 and the hidden Dense layer, "
        "default options; then `shrink`): parameters and multiply-accumulates of the "
        "shrunk model as fractions of the dense model's, accuracy of the shrunk model.",
        "",
        "| criterion | " + " | ".join(f"{t:.0%}: params | MACs | accuracy | - L1"
                                       for t in CHANNEL_TARGETS) + " |",
        "|---|" + "---|---|---|---|" * len(CHANNEL_TARGETS),
    ]
    for row in (r for r in rows if r.kind == "channels"):
        cells = []
        for t in CHANNEL_TARGETS:
            cells += [f"{np.mean(value(row.label, t, 'parameters')):.3f}",
                      f"{np.mean(value(row.label, t, 'macs')):.3f}",
                      common.mean_std(value(row.label, t), 100),
                      interval(value(row.label, t), value(BASELINES["channels"], t))]
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    floor = {kind: [r.label for r in rows if r.kind == kind and r.label != "random" and any(
        np.mean(value(r.label, t)) <= np.mean(value("random", t)) for t in (
            UNSTRUCTURED_TARGETS if kind == "weights" else CHANNEL_TARGETS))]
        for kind in ("weights", "channels")}
    seconds = {r.label: np.mean([res[(r.kind, r.label, t)]["seconds"] for res in results for t in (
        UNSTRUCTURED_TARGETS if r.kind == "weights" else CHANNEL_TARGETS)]) for r in rows}
    lines += [
        "",
        "Reading the table: OBD and Wanda rank single weights alike (OBD's score is Wanda's "
        "squared), so their rows match. L0 counts a channel's nonzero weights, which are "
        "equal for every live channel when only whole channels are pruned: its ties are "
        "broken by L1, so here it is L1 (it differs after unstructured pruning). GraSP, "
        "SynFlow and SNIP were designed to score a network at initialization, not a "
        "trained one. GraSP's `Hg` matches TensorFlow's double backprop "
        "(tests/core/test_gradient_flow.py).",
        "",
        "At or below the random floor at some target (mean accuracy): unstructured: "
        f"{', '.join(floor['weights']) or 'none'}; channels: "
        f"{', '.join(floor['channels']) or 'none'}.",
        "",
        "Time of one row (prune, train, evaluate; mean, s): "
        + ", ".join(f"{label} {s:.0f}" for label, s in seconds.items()) + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, prints the table, writes nothing")
    parser.add_argument("--dense-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs of each pruned run (1 pruning + the rest fine-tuning)")
    parser.add_argument("--update-every", type=int, default=8)
    parser.add_argument("--sample", type=int, default=256,
                        help="training images the data-driven criteria score on")
    parser.add_argument("--rows", nargs="*", default=None,
                        help="labels of the rows to run (default: all)")
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    rows = [r for r in ROWS if args.rows is None or r.label in args.rows]
    began = time.time()
    train, test = common.load_split(args.data_dir)
    seeds = [0] if args.quick else list(range(args.seeds))
    results = [run_seed(seed, rows, args, train, test) for seed in seeds]
    text = table(results, rows, args, (time.time() - began) / 60)
    print(text)
    if not args.quick:
        common.write_section("criteria", text, wall_seconds=time.time() - began)


if __name__ == "__main__":
    main()
