"""Sparse int8: post-training quantization vs sparsity-preserving quantization-aware training.

Two models on the benchmarks' MNIST split (8,000 train / 2,000 test), their Dense layers at
90% in (16, 1) blocks (what TFLite's int8 sparse FULLY_CONNECTED kernel reads):

  cnn  the FACTS.md CNN Conv32-Pool-Conv64-Pool-Dense256-Dense10: dense1 and logits pruned
       with one global threshold (96% of the weights; convolutions have no sparse kernel)
  mlp  the FACTS.md 2048 MLP with MNIST's 784 inputs: 784-2048-2048-10, fc1 and fc2 pruned

Per seed: dense float training, then GMP to 90% from it, then the same extra budget two
ways: float fine-tuning (the pruned float model, then post-training int8 calibrated on 200
training images) and quantization-aware fine-tuning (`kerasprune.quantization`: calibrated
on the same 200 images, then trained; exported with its trained ranges). Rows: dense float,
dense int8 (PTQ), pruned int8 PTQ, pruned int8 QAT, and the QAT model exported dynamic-range
(its int8 weights, float activations: TFLite's hybrid sparse kernel); the pruned float
model's accuracy is the reference. Accuracy is each TFLite file's on the 2,000 test images
through LiteRT; size, sparse tensors and latency (1 thread, both protocols, XNNPACK on and
off) are those of the first seed's files.

  latency  the MLP's decisive rows timed again, `--repeats` times (weights need no
           training for latency), with 784 inputs and with FACTS.md's 2048: dense int8 PTQ
           vs the sparse QAT files, both protocols, XNNPACK on and off, with the load.

Run from the repository root:
    python -m bench.quantization [--parts cnn,mlp,latency] [--seeds 0,1,2] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

from bench import common

common.quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from kerasprune import quantization  # noqa: E402
from tflite_export.interpreter import load_interpreter, run  # noqa: E402

SPARSITY = 0.9
BLOCK = (16, 1)
CALIBRATION = 200
WARMUP = 20
TIMING_BLOCK = 50
ROWS = ("dense float", "dense int8 PTQ", "pruned int8 PTQ", "pruned int8 QAT",
        "pruned QAT dynamic")


def cnn() -> keras.Model:
    return common.build_cnn(keras)


def mlp(inputs: int = 784) -> keras.Model:
    return keras.Sequential([
        keras.Input((inputs,)),
        keras.layers.Dense(2048, activation="relu", name="fc1"),
        keras.layers.Dense(2048, activation="relu", name="fc2"),
        keras.layers.Dense(10, name="logits"),
    ])


MODELS = {
    "cnn": dict(build=cnn, prune={"layers": ["dense1", "logits"], "scope": "global"}, flat=False,
                title="MNIST CNN Conv32-Pool-Conv64-Pool-Dense256-Dense10 (FACTS.md)"),
    "mlp": dict(build=mlp, prune={"layers": ["fc1", "fc2"]}, flat=True,
                title="MLP 784-2048-2048-10 (the FACTS.md 2048 MLP on MNIST's 784 inputs)"),
}


def compiled(model: keras.Model, learning_rate: float) -> keras.Model:
    common.compile_cnn(keras, model, learning_rate)
    return model


def convert(model: keras.Model, **kwargs) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tflite_export.SparsityWarning)
        return tflite_export.convert(model, verbose=0, **kwargs)


def file_accuracy(content: bytes, x: np.ndarray, y: np.ndarray) -> float:
    interpreter = load_interpreter(content, xnnpack=False).interpreter
    return float(np.mean(run(interpreter, x).argmax(-1) == y))


def one_seed(spec: dict, seed: int, data, epochs: dict) -> tuple[dict, dict]:
    """The four files of one seed and the accuracies (pruned float's included)."""
    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    dense = compiled(spec["build"](), 1e-3)
    dense.fit(x, y, batch_size=128, epochs=epochs["dense"], verbose=0)
    pruned = compiled(kerasprune.prune(dense, block_shape=BLOCK, **spec["prune"]), 1e-3)
    gmp = kerasprune.PruningCallback(SPARSITY, stabilization_epochs=0,
                                     pruning_epochs=epochs["prune"] - 1, finetune_epochs=1)
    pruned.fit(x, y, batch_size=128, epochs=gmp.total_epochs, callbacks=[gmp], verbose=0)
    calibration = x[:CALIBRATION]

    # The same extra budget, float or quantization-aware, from the same pruned weights.
    qat = compiled(quantization.quantize_model(pruned), epochs["lr"])
    quantization.calibrate(qat, calibration)
    with tempfile.TemporaryDirectory() as folder:
        pruned.save(os.path.join(folder, "pruned.keras"))
        float_tuned = compiled(keras.saving.load_model(os.path.join(folder, "pruned.keras")),
                               epochs["lr"])
    keras.utils.set_random_seed(seed + 1000)
    float_tuned.fit(x, y, batch_size=128, epochs=epochs["finetune"], verbose=0)
    keras.utils.set_random_seed(seed + 1000)
    qat.fit(x, y, batch_size=128, epochs=epochs["finetune"], verbose=0)

    files = {
        "dense float": convert(dense, sparse=False),
        "dense int8 PTQ": convert(dense, sparse=False, quantize="int8",
                                  representative_data=calibration),
        "pruned int8 PTQ": convert(float_tuned, quantize="int8", representative_data=calibration),
        "pruned int8 QAT": convert(qat, quantize="int8"),
        "pruned QAT dynamic": convert(qat, quantize="dynamic"),
    }
    accuracy = {name: file_accuracy(c, x_test, y_test) for name, c in files.items()}
    accuracy["pruned float"] = file_accuracy(convert(float_tuned), x_test, y_test)
    accuracy["sparsity"] = kerasprune.sparsity_report(qat).total
    return files, accuracy


def part(name: str, seeds: list[int], data_dir: str, epochs: dict, runs: int) -> None:
    spec = MODELS[name]
    (x, y), (x_test, y_test) = common.load_split(data_dir)
    if spec["flat"]:
        x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    started = time.perf_counter()
    results, first_files = [], None
    for seed in seeds:
        files, accuracy = one_seed(spec, seed, ((x, y), (x_test, y_test)), epochs)
        first_files = first_files or files
        results.append(accuracy)
        print(name, seed, {k: round(v, 4) for k, v in accuracy.items()}, flush=True)
    body = [f"## Sparse int8: PTQ vs sparsity-preserving QAT, {spec['title']}", ""]
    body += protocol(spec, epochs, seeds)
    body += accuracy_table(results)
    body += size_table(first_files)
    tables = {}
    for xnnpack in (True, False):
        table = tflite_export.compare(first_files, x_test[:1], runs=runs, warmup=WARMUP,
                                      xnnpack=xnnpack, num_threads=1, block=TIMING_BLOCK,
                                      verbose=0)
        tables[xnnpack] = table
        label = "default resolver (XNNPACK on)" if xnnpack else "built-in kernels (XNNPACK off)"
        body += [f"### Latency, 1 thread, {label}", "", str(table),
                 f"Load average {os.getloadavg()[0]:.1f} when timed.", ""]
        print(body[-3], flush=True)
    body += goals(results, first_files, tables, latency_goal=name == "mlp")
    common.write_section(f"quantization-{name}", "\n".join(body),
                         wall_seconds=time.perf_counter() - started)


def protocol(spec: dict, epochs: dict, seeds: list[int]) -> list[str]:
    pruned = ", ".join(f"{k}={v!r}" for k, v in spec["prune"].items())
    return [
        f"Seeds {seeds} (initialization and data order). Dense float: Adam 1e-3, batch 128, "
        f"{epochs['dense']} epochs. Pruned: `prune(dense, block_shape={BLOCK}, {pruned})`, "
        f"`PruningCallback({SPARSITY}, pruning_epochs={epochs['prune'] - 1}, "
        f"finetune_epochs=1)`. Then {epochs['finetune']} more epoch(s) at learning rate "
        f"{epochs['lr']} two ways from the same weights: float (the pruned float model; PTQ "
        f"int8 of it calibrated on {CALIBRATION} training images) and quantization-aware "
        f"(`quantization.quantize_model(pruned)`, `calibrate` on the same {CALIBRATION} "
        "images, `fit`; exported by `tflite_export.convert(qat, quantize=\"int8\")` with its "
        "trained ranges, no representative data). Accuracy: each TFLite file on the 2,000 "
        "test images (LiteRT, built-in kernels).",
        "",
    ]


def accuracy_table(results: list[dict]) -> list[str]:
    names = ["pruned float", *ROWS]
    lines = ["| model | accuracy % (mean ± std over seeds) | per seed "
             "| vs pruned float (points) |",
             "|---|---:|---|---:|"]
    for name in names:
        values = [r[name] for r in results]
        delta = np.mean([r[name] - r["pruned float"] for r in results]) * 100
        lines.append(f"| {name} | {common.mean_std(values, 100, ddof=1)} | "
                     f"{', '.join(f'{v * 100:.2f}' for v in values)} | {delta:+.2f} |")
    sparsity = np.mean([r["sparsity"] for r in results])
    return lines + ["", f"Sparsity of the pruned weights: {sparsity:.3f}.", ""]


def size_table(files: dict) -> list[str]:
    base = len(files["dense float"])
    lines = ["| file (first seed) | bytes | vs dense float | weights: how they run |",
             "|---|---:|---:|---|"]
    for name, content in files.items():
        report = tflite_export.inspect(content)
        lines.append(f"| {name} | {len(content):,} | {len(content) / base:.3f} | "
                     f"{report.summary()}; sparse: {len(report.sparse_tensors)} of "
                     f"{len(report.tensors)}, blocks "
                     f"{sorted({t.block_shape for t in report.sparse_tensors}) or '-'} |")
    return lines + [""]


def goals(results: list[dict], files: dict, tables: dict, latency_goal: bool) -> list[str]:
    gaps = {name: common.paired_interval([r["pruned float"] for r in results],
                                         [r[name] for r in results])
            for name in ("pruned int8 QAT", "pruned int8 PTQ")}
    qat_gap, ptq_gap = gaps["pruned int8 QAT"][0] * 100, gaps["pruned int8 PTQ"][0] * 100
    qat_vs_ptq = common.paired_interval([r["pruned int8 QAT"] for r in results],
                                        [r["pruned int8 PTQ"] for r in results])
    ptq_loses_more = qat_vs_ptq[1] > 0
    size = len(files["pruned int8 QAT"]) / len(files["dense float"])
    ratios = {name: speedup_vs_dense_int8(tables, name)
              for name in ("pruned int8 QAT", "pruned QAT dynamic")}
    return [
        "### Goals",
        "",
        f"- accuracy lost to int8, points below the pruned float model (mean over seeds, 95% "
        f"interval of the paired differences): QAT **{qat_gap:.2f}** "
        f"[{gaps['pruned int8 QAT'][1] * 100:.2f}, {gaps['pruned int8 QAT'][2] * 100:.2f}], "
        f"PTQ {ptq_gap:.2f} [{gaps['pruned int8 PTQ'][1] * 100:.2f}, "
        f"{gaps['pruned int8 PTQ'][2] * 100:.2f}]; QAT within 0.3: "
        f"{'met' if qat_gap <= 0.3 else 'NOT met'}; PTQ loses more than QAT: "
        f"{'yes' if ptq_loses_more else 'not beyond noise'} (QAT - PTQ "
        f"{qat_vs_ptq[0] * 100:+.2f} [{qat_vs_ptq[1] * 100:.2f}, {qat_vs_ptq[2] * 100:.2f}])",
        f"- sparse int8 QAT file / dense float file: **{size:.3f}** (goal <= 0.05: "
        f"{'met' if size <= 0.05 else 'NOT met'})",
        *[f"- latency dense int8 PTQ / {name} (1 thread, each model at its faster resolver "
          f"setting): interleaved {r['interleaved']:.2f}x, blocked {r['blocked']:.2f}x -> "
          f"**{min(r.values()):.2f}x**" + (
              f" (goal >= 3: {'met' if min(r.values()) >= 3 else 'NOT met'})" if latency_goal
              else " (the convolutions run dense in every file)")
          for name, r in ratios.items()],
        "",
    ]


def part_latency(runs: int, repeats: int) -> None:
    """The MLP's latency rows again, from untrained weights pruned to 90% by magnitude: the
    784-input MLP of the accuracy table and the FACTS.md one with 2048 inputs."""
    started = time.perf_counter()
    body = ["## Sparse int8 latency, MLPs at 90% in (16, 1) blocks, repeated", "",
            "Medians of one-sample invokes (us, interleaved / blocked), 1 thread, the files of a "
            "quantization-aware model (untrained weights, fc1 and fc2 pruned by magnitude, "
            f"calibrated on 200 random inputs), {runs} timed invokes per model, protocol and "
            "setting in each repetition; the load average is read after each.", ""]
    for inputs in (784, 2048):
        body += latency_rows(inputs, runs, repeats)
    common.write_section("quantization-latency", "\n".join(body),
                         wall_seconds=time.perf_counter() - started)


def latency_rows(inputs: int, runs: int, repeats: int) -> list[str]:
    x = np.random.default_rng(0).random((200, inputs), dtype=np.float32)
    keras.utils.set_random_seed(0)
    dense = mlp(inputs)
    pruned = kerasprune.prune(dense, block_shape=BLOCK, **MODELS["mlp"]["prune"])
    kerasprune.update_masks(pruned, SPARSITY)
    qat = quantization.quantize_model(pruned)
    quantization.calibrate(qat, x)
    files = {"dense int8 PTQ": convert(dense, sparse=False, quantize="int8",
                                       representative_data=x),
             "pruned int8 QAT": convert(qat, quantize="int8"),
             "pruned QAT dynamic": convert(qat, quantize="dynamic")}
    lines = [f"### MLP {inputs}-2048-2048-10", "",
             "| repetition | XNNPACK | load average | " + " | ".join(files) + " |",
             "|---|---|---:|---|---|---|"]
    ratios = []
    for repeat in range(repeats):
        tables = {}
        for xnnpack in (True, False):
            tables[xnnpack] = tflite_export.compare(
                files, x[:1], runs=runs, warmup=WARMUP, xnnpack=xnnpack, num_threads=1,
                block=TIMING_BLOCK, verbose=0)
            cells = [f"{tables[xnnpack][n].median_us:.0f} / "
                     f"{tables[xnnpack][n].blocked_median_us:.0f}" for n in files]
            lines.append(f"| {repeat + 1} | {'on' if xnnpack else 'off'} | "
                         f"{os.getloadavg()[0]:.1f} | {' | '.join(cells)} |")
            print(lines[-1], flush=True)
        ratios.append({name: speedup_vs_dense_int8(tables, name)
                       for name in ("pruned int8 QAT", "pruned QAT dynamic")})
    lines += ["", "Dense int8 / sparse file, each model at its faster setting, worse protocol, "
              "per repetition:", ""]
    for name in ("pruned int8 QAT", "pruned QAT dynamic"):
        values = [min(r[name].values()) for r in ratios]
        lines.append(f"- {name}: {', '.join(f'{v:.2f}x' for v in values)} -> lowest "
                     f"**{min(values):.2f}x**, highest {max(values):.2f}x (goal >= 3: "
                     f"{'met' if min(values) >= 3 else 'NOT met'})")
    return lines + [""]


def speedup_vs_dense_int8(tables: dict, name: str) -> dict:
    """Dense int8 / `name` latency per protocol, each model at its faster resolver."""
    ratios = {}
    for protocol, field in (("interleaved", "median_us"), ("blocked", "blocked_median_us")):
        fastest = {row: min(getattr(t[row], field) for t in tables.values())
                   for row in ("dense int8 PTQ", name)}
        ratios[protocol] = fastest["dense int8 PTQ"] / fastest[name]
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="cnn,mlp,latency",
                        help="comma-separated: cnn,mlp,latency")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--dense-epochs", type=int, default=4)
    parser.add_argument("--prune-epochs", type=int, default=4)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--runs", type=int, default=500, help="timed invokes per model")
    parser.add_argument("--repeats", type=int, default=3, help="latency part: repetitions")
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    epochs = {"dense": args.dense_epochs, "prune": args.prune_epochs,
              "finetune": args.finetune_epochs, "lr": args.finetune_lr}
    seeds = [int(s) for s in args.seeds.split(",")]
    for name in args.parts.split(","):
        if name == "latency":
            part_latency(args.runs, args.repeats)
        else:
            part(name, seeds, args.data_dir, epochs, args.runs)


if __name__ == "__main__":
    main()
