"""Sparse TFLite, dense vs kerasprune (vs TFMOT), timed side by side in one process.

Parts (each writes its own section of bench/RESULTS.md):
  mlp   the FACTS.md MLP 2048-2048-2048-10 at 90%: dense, random sparsity, (4, 1) blocks.
  cnn   the FACTS.md MNIST CNN at 90% on the 8k/2k split: dense Keras 3, kerasprune GMP
        (blocks and unstructured), TFMOT prune_low_magnitude + strip + EXPERIMENTAL_SPARSITY.
  int8  int8 (and dynamic-range) + sparsity on the MLP, with the resolver that ran it and
        the runtime setting `tflite_export.benchmark` recommends for each file.

Every latency table is measured at 1 and 2 interpreter threads and in two protocols
(interleaved invoke by invoke, and blocked: 50 consecutive invokes per model after warm-up),
and states the machine's cache sizes; headlines quote the lower of the two speed-ups.

Run from the repository root:
    python -m bench.tflite [--parts mlp,cnn,int8] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

from bench import common

common.quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402

SPARSITY = 0.9
THREADS = (1, 2)
WARMUP = 20
BLOCK = 50


def quiet_convert(model, **kwargs) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tflite_export.SparsityWarning)
        return tflite_export.convert(model, **kwargs)


# ---------------------------------------------------------------- (a) MLP


def mlp() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((2048,)),
            keras.layers.Dense(2048, activation="relu", name="fc1"),
            keras.layers.Dense(2048, activation="relu", name="fc2"),
            keras.layers.Dense(10, name="logits"),
        ]
    )


def pruned_mlp(block_shape) -> keras.Model:
    """The two big kernels at 90% by magnitude, in the given blocks (None: unstructured)."""
    model = kerasprune.prune(mlp(), layers=["fc1", "fc2"], block_shape=block_shape)
    kerasprune.update_masks(model, SPARSITY)
    return model


def timed_tables(contents, x, y, runs: int, settings=(True, False)) -> tuple[list[str], dict]:
    """`compare` at 1 and 2 threads, XNNPACK on and off: markdown and the tables."""
    body, tables = [], {}
    for threads in THREADS:
        for xnnpack in settings:
            table = tflite_export.compare(contents, x, y, runs=runs, warmup=WARMUP,
                                          xnnpack=xnnpack, num_threads=threads, block=BLOCK)
            label = "default resolver (XNNPACK on)" if xnnpack else "built-in kernels (XNNPACK off)"
            body += [f"### {threads} thread(s), {label}", "", str(table),
                     f"Machine caches: {common.cache_sizes()}; load average "
                     f"{os.getloadavg()[0]:.1f}.", ""]
            tables[threads, xnnpack] = table
            print(body[-3], flush=True)
    return body, tables


def speedup_line(tables, name: str, threads: int) -> tuple[str, float]:
    """Dense / `name` at `threads`, both protocols, with the default resolver and the best."""
    on, off = tables[threads, True], tables[threads, False]
    best = {p: min(t["dense"].median_us if p == "interleaved" else t["dense"].blocked_median_us
                   for t in (on, off)) /
            min(t[name].median_us if p == "interleaved" else t[name].blocked_median_us
                for t in (on, off))
            for p in ("interleaved", "blocked")}
    conservative = on.speedup(name)
    return (
        f"{threads} thread(s), XNNPACK on: interleaved {on.speedup(name, 'interleaved'):.2f}x, "
        f"blocked {on.speedup(name, 'blocked'):.2f}x -> **{conservative:.2f}x**; XNNPACK off: "
        f"{off.speedup(name, 'interleaved'):.2f}x / {off.speedup(name, 'blocked'):.2f}x; "
        f"each model in its fastest setting: {best['interleaved']:.2f}x / "
        f"{best['blocked']:.2f}x", conservative)


def part_mlp(runs: int) -> None:
    x = np.random.default_rng(0).random((1, 2048), dtype=np.float32)
    models = {
        "dense": mlp(),
        "kerasprune 90% unstructured": pruned_mlp(None),
        "kerasprune 90% blocks (4, 1)": pruned_mlp((4, 1)),
    }
    contents = {name: quiet_convert(m) for name, m in models.items()}
    body = ["## Sparse TFLite: MLP 2048-2048-2048-10 at 90% (FACTS.md)", ""]
    tables_body, tables = timed_tables(contents, x, None, runs)
    body += tables_body
    blocks = "kerasprune 90% blocks (4, 1)"
    lines = {threads: speedup_line(tables, blocks, threads) for threads in THREADS}
    headline = lines[1][1]
    size = tables[1, True][blocks].file_bytes / tables[1, True]["dense"].file_bytes
    body += [
        "### Targets",
        "",
        "Latency dense / kerasprune (4, 1) blocks, both float32 (the bold figure is the "
        "lower of the two protocols, the one to quote):",
        "",
        *[f"- {lines[threads][0]}" for threads in THREADS],
        f"- headline (1 thread, default resolver, worse protocol): **{headline:.2f}x** "
        f"(target >= 4.0: {'met' if headline >= 4.0 else 'NOT met'})",
        f"- file bytes kerasprune / dense: **{size:.3f}** (target <= 0.15: "
        f"{'met' if size <= 0.15 else 'NOT met'})",
        "- unstructured 90% only shrinks the file: DENSIFY expands its weights at start-up.",
        "- dense reads 33.6 MB of weights per invoke (memory-bound), more than the L2 and "
        "about the L3 above, so its latency depends on what ran just before it: interleaved, "
        "the sparse model evicts it from the caches; blocked, it runs after itself.",
        f"- {runs} timed single-sample invokes per model, resolver and protocol after "
        f"{WARMUP} warm-up; weights are random (latency does not depend on training).",
    ]
    common.write_section("tflite-mlp", "\n".join(body))


# ---------------------------------------------------------------- (b) MNIST CNN


def cnn_layers(layers_module):
    L = layers_module
    return [
        L.Conv2D(32, 3, activation="relu", name="conv1"),
        L.MaxPooling2D(),
        L.Conv2D(64, 3, activation="relu", name="conv2"),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(256, activation="relu", name="fc"),
        L.Dense(10, name="logits"),
    ]


def keras3_cnn() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28, 1))] + cnn_layers(keras.layers))


def compile3(model: keras.Model) -> keras.Model:
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def kerasprune_cnn(dense: keras.Model, block_shape, data, epochs: int) -> keras.Model:
    (x, y), _ = data
    model = compile3(kerasprune.prune(dense, block_shape=block_shape))
    callback = kerasprune.PruningCallback(
        SPARSITY, stabilization_epochs=0, pruning_epochs=epochs - 1, finetune_epochs=1
    )
    model.fit(x, y, batch_size=128, epochs=epochs, callbacks=[callback], verbose=0)
    return model


def tfmot_cnn(dense: keras.Model, data, epochs: int) -> bytes:
    """TFMOT 0.8.1 on tf_keras: same weights to start, PolynomialDecay(0 -> 0.9)."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras

    (x, y), _ = data
    model = tf_keras.Sequential([tf_keras.Input((28, 28, 1))] + cnn_layers(tf_keras.layers))
    model.set_weights(dense.get_weights())
    steps = int(np.ceil(len(x) / 128))
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        0.0, SPARSITY, begin_step=0, end_step=(epochs - 1) * steps, frequency=steps // 4
    )
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    pruned.compile(
        tf_keras.optimizers.Adam(1e-3),
        tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    pruned.fit(
        x, y, batch_size=128, epochs=epochs, verbose=0,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
    )
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    converter = tf.lite.TFLiteConverter.from_keras_model(stripped)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return converter.convert()


def part_cnn(runs: int, epochs: int, data_dir: str) -> None:
    data = common.load_split(data_dir)
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    dense = compile3(keras3_cnn())
    dense.fit(x_train, y_train, batch_size=128, epochs=epochs, verbose=0)
    print(f"dense trained in {time.perf_counter() - start:.0f} s")
    rows = {"dense (Keras 3)": quiet_convert(dense, sparse=False)}
    variants = (("kerasprune blocks (4, 1)", (4, 1)), ("kerasprune unstructured", None))
    for label, block_shape in variants:
        start = time.perf_counter()
        model = kerasprune_cnn(dense, block_shape, data, epochs)
        print(f"{label} trained in {time.perf_counter() - start:.0f} s, "
              f"sparsity {kerasprune.sparsity_report(model).total:.3f}")
        rows[label] = quiet_convert(model)
    start = time.perf_counter()
    rows["TFMOT strip + EXPERIMENTAL_SPARSITY"] = tfmot_cnn(dense, data, epochs)
    print(f"TFMOT trained in {time.perf_counter() - start:.0f} s")
    tables_body, _ = timed_tables(rows, x_test, y_test, runs, settings=(True,))
    body = [
        "## Sparse TFLite: MNIST CNN at 90% (FACTS.md), dense vs kerasprune vs TFMOT",
        "",
        f"Conv32-Pool-Conv64-Pool-Dense256-Dense10, real MNIST 8,000 train / 2,000 test "
        f"(`common.load_split`). Dense: Adam 1e-3, batch 128, {epochs} epochs. Each pruned model "
        f"starts from the trained dense weights and trains {epochs} more epochs: kerasprune "
        f"`PruningCallback(0.9, pruning_epochs={epochs - 1}, finetune_epochs=1)` (cubic GMP, layer "
        f"scope); TFMOT 0.8.1 on tf_keras: `prune_low_magnitude` with `PolynomialDecay(0 -> 0.9)` "
        f"over {epochs - 1} epochs, then `strip_pruning` and `EXPERIMENTAL_SPARSITY`. Accuracy is "
        "the TFLite model's on the 2,000 test images.",
        "",
        *tables_body,
        "Conv kernels have no sparse kernel in TFLite: stored sparse they are expanded by DENSIFY, "
        "so the convolutions (most of this CNN's time) run dense in every pruned file; only the "
        "Dense 1600x256 layer can run on the sparse kernel, and only in (4, 1) blocks.",
    ]
    common.write_section("tflite-cnn", "\n".join(body))


# ---------------------------------------------------------------- (c) int8


def part_int8(runs: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((1, 2048), dtype=np.float32)
    calibration = rng.random((100, 2048), dtype=np.float32)
    int8 = dict(quantize="int8", representative_data=calibration)
    rows = {
        "dense float32": quiet_convert(mlp(), sparse=False),
        "dense int8": quiet_convert(mlp(), sparse=False, **int8),
        "kerasprune 90% blocks (16, 1), int8": quiet_convert(pruned_mlp((16, 1)), **int8),
        "kerasprune 90% unstructured, int8": quiet_convert(pruned_mlp(None), **int8),
        "dense dynamic-range int8": quiet_convert(mlp(), sparse=False, quantize="dynamic"),
        "kerasprune 90% blocks (16, 1), dynamic-range": quiet_convert(
            pruned_mlp((16, 1)), quantize="dynamic"
        ),
    }
    body = ["## Sparse TFLite: int8 + sparsity, MLP 2048-2048-2048-10 at 90%", ""]
    body += timed_tables(rows, x, None, runs)[0]
    body += ["### Runtime setting `tflite_export.benchmark` recommends for each file", "",
             "(`kerasprune bench FILE` prints the same line; 1 thread.)", ""]
    for name, content in rows.items():
        report = tflite_export.benchmark(content, x, runs=runs, warmup=WARMUP, block=BLOCK)
        body.append(f"- {name}: {report.recommendation}")
        print(body[-1], flush=True)
    body += ["", f"Machine caches: {common.cache_sizes()}.", "",
        "`runtime` names the interpreter and the resolver that really ran each model: where "
        "XNNPACK refuses a model the benchmark falls back to "
        "`BUILTIN_WITHOUT_DEFAULT_DELEGATES` and says so in a note. int8: full integer "
        "quantization with float inputs/outputs, 100 calibration samples; dynamic-range: int8 "
        "weights, float activations. TFLite's int8 sparse FULLY_CONNECTED kernel runs 1x16 "
        "blocks, hence `block_shape=(16, 1)`.",
    ]
    common.write_section("tflite-int8", "\n".join(body))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="mlp,cnn,int8", help="comma-separated: mlp,cnn,int8")
    parser.add_argument("--runs", type=int, default=500, help="timed invokes per model")
    parser.add_argument("--epochs", type=int, default=4, help="CNN training epochs")
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    parts = args.parts.split(",")
    if "mlp" in parts:
        part_mlp(args.runs)
    if "int8" in parts:
        part_int8(args.runs)
    if "cnn" in parts:
        part_cnn(args.runs, args.epochs, args.data_dir)


if __name__ == "__main__":
    main()
