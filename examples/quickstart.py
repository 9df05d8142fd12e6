"""kerasprune's main job: where TFLite speed comes from, in one table.

One small CNN (two convolutions, a large Dense layer) trains on 3,000 real MNIST digits
shipped in `examples/data`, then four versions of it get the same training budget:

- dense: no pruning, the baseline;
- unstructured 90%: the smallest weights of every layer zeroed. The file shrinks, the
  speed does not: TFLite stores the zeros sparse but a DENSIFY op expands them at load;
- (4, 1) blocks on `fc`: 90% of the Dense layer's weights zeroed in blocks of 4 inputs,
  the layout TFLite's sparse FULLY_CONNECTED kernel reads: that layer runs faster;
- channels + shrink: half the filters and units removed (`kerasprune.Channels`, then
  `kerasprune.shrink`): a smaller dense model, every layer faster.

It prints accuracy, file size and latency (both timing protocols) of each, says why each is
or is not faster, and writes the files the README's next commands use: `out/dense.keras`
(the model the rows start from), `out/dense.tflite`, `out/pruned.keras` and
`out/pruned.tflite` (the blocks row), `out/shrunk.keras` and `out/shrunk.tflite`,
`out/unstructured.tflite`, `out/data.npz` (training and test digits) and `out/recipe.yaml`
(the blocks row as a recipe for `kerasprune prune`).

    python -m examples.quickstart                      # embedded MNIST digits
    python -m examples.quickstart --data-dir path/to/mnist
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from examples.quiet import import_quietly, native_stderr_silenced

import_quietly()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from examples import datasets  # noqa: E402
from kerasprune.recipe import Recipe  # noqa: E402

LOSS = {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}}


def build_cnn(input_shape: tuple[int, ...], classes: int = 10, fc: int = 1024) -> keras.Model:
    """Conv16-Pool-Conv32-Pool-Dense(fc)-Dense(classes): on 28x28 digits the Dense layer
    holds most weights and about half the multiply-accumulates."""
    small = input_shape[0] < 16  # tiny test images keep their size through the convs
    padding = "same" if small else "valid"
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(16, 3, activation="relu", padding=padding, name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(32, 3, activation="relu", padding=padding, name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(fc, activation="relu", name="fc"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="cnn",
    )


def compile_model(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    model.compile(keras.optimizers.Adam(learning_rate), keras.losses.get(LOSS),
                  metrics=["accuracy"])
    return model


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data-dir", help="folder of MNIST IDX files (e.g. ../shared/data/mnist)")
    source.add_argument("--mnist", action="store_true", help="download MNIST with keras.datasets")
    parser.add_argument("--sparsity", type=float, default=0.9,
                        help="target of the unstructured and blocks rows (default 0.9)")
    parser.add_argument("--channels", type=float, default=0.5,
                        help="fraction of channels the channels row removes (default 0.5)")
    parser.add_argument("--dense-epochs", type=int, default=4,
                        help="epochs of dense training all rows start from (default 4)")
    parser.add_argument("--epochs", type=int, default=6,
                        help="epochs each row trains after that, pruning included (default 6)")
    parser.add_argument("--train", type=int, default=None,
                        help="use only this many training images")
    parser.add_argument("--runs", type=int, default=200,
                        help="timed TFLite invokes per model and protocol (default 200)")
    parser.add_argument("--output-dir", default="out", help="where the files go (default out)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load(args):
    if args.data_dir:
        return "MNIST (IDX files)", datasets.load_mnist_idx(args.data_dir)
    if args.mnist:
        return "MNIST (keras.datasets)", datasets.load_mnist()
    return "MNIST, 3,000 real digits (embedded)", datasets.load_embedded_mnist()


def gmp(target: float, epochs: int) -> kerasprune.PruningCallback:
    """Gradual magnitude pruning over `epochs`: the cubic ramp, then a third fine-tuning."""
    finetune = max(epochs // 3, 1) if epochs > 1 else 0
    return kerasprune.PruningCallback(target, stabilization_epochs=0,
                                      pruning_epochs=epochs - finetune, finetune_epochs=finetune)


def train_rows(start: keras.Model, x, y, args) -> tuple[dict, Recipe]:
    """The four rows, each trained `args.epochs` more epochs from `start`."""
    rows = {}
    dense = compile_model(keras.models.clone_model(start))
    dense.set_weights(start.get_weights())
    rows["dense"] = _fit("dense", dense, x, y, args.epochs)
    rows["unstructured"] = _fit("unstructured", compile_model(kerasprune.prune(
        start, scope="global")), x, y, args.epochs, gmp(args.sparsity, args.epochs))
    # The blocks row, also written as a recipe: `kerasprune prune` repeats it from the shell.
    blocks = gmp(args.sparsity, args.epochs)
    recipe = Recipe.from_callback(blocks, prune={"layers": ["fc"], "block_shape": [4, 1]},
                                  training={"loss": LOSS, "learning_rate": 1e-3,
                                            "batch_size": 64})
    rows["blocks"] = _fit("blocks", compile_model(recipe.prune_model(start)), x, y, args.epochs,
                          blocks)
    channels = kerasprune.prune(start, pattern=kerasprune.Channels("l1"), exclude=["logits"])
    rows["channels"] = _fit("channels", compile_model(channels), x, y, args.epochs,
                            gmp(args.channels, args.epochs))
    return rows, recipe


def _fit(label: str, model, x, y, epochs, callback=None):
    began = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0,
              callbacks=[callback] if callback else [])
    print(f"  {label}: {epochs} epochs, {time.perf_counter() - began:.1f} s", flush=True)
    return model


def write_files(out: Path, start, rows, shrunk, recipe, data) -> dict[str, bytes]:
    """The files README's next commands use; returns the TFLite files by row."""
    out.mkdir(parents=True, exist_ok=True)
    start.save(out / "dense.keras")
    rows["blocks"].save(out / "pruned.keras")
    shrunk.save(out / "shrunk.keras")
    recipe.save(out / "recipe.yaml")
    (x_train, y_train), (x_test, y_test) = data
    np.savez_compressed(out / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test,
                        y_test=y_test)
    models = {"dense": rows["dense"], "unstructured": rows["unstructured"],
              "blocks": rows["blocks"], "channels": shrunk}
    files = {"dense": "dense", "unstructured": "unstructured", "blocks": "pruned",
             "channels": "shrunk"}
    contents = {}
    with warnings.catch_warnings():  # the table says what runs sparse; no warning needed
        warnings.simplefilter("ignore", tflite_export.SparsityWarning)
        for name, model in models.items():
            contents[name] = tflite_export.convert(model, sparse=name != "channels", verbose=0)
            (out / f"{files[name]}.tflite").write_bytes(contents[name])
    return contents


def why(name: str, inspection, mac_ratio: float) -> str:
    """Why a row is (or is not) faster than dense, from what the file holds."""
    if name == "dense":
        return "baseline"
    counts = inspection.summary()
    if name == "channels":
        return (f"a smaller dense model: {mac_ratio:.0%} of the multiply-accumulates left, "
                "every layer faster")
    if inspection.on_sparse_kernel:
        return (f"fc runs on TFLite's sparse FULLY_CONNECTED kernel ({counts}); the convs "
                "stay dense")
    return f"{counts}: stored sparse, expanded to dense at load: smaller file, dense speed"


def table(comparison, inspections, labels, mac_ratio) -> str:
    base = comparison.rows[0]
    lines = [
        "| model | TFLite accuracy | file bytes | vs dense | interleaved us | blocked us "
        "| speed-up interleaved / blocked | why |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in comparison.rows:
        lines.append(
            f"| {labels[row.name]} | {row.accuracy:.2%} | {row.file_bytes:,} | "
            f"{row.file_bytes / base.file_bytes:.3f} | {row.median_us:.0f} | "
            f"{row.blocked_median_us:.0f} | {comparison.speedup(row.name, 'interleaved'):.2f}x"
            f" / {comparison.speedup(row.name, 'blocked'):.2f}x | "
            f"{why(row.name, inspections[row.name], mac_ratio)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    began = time.perf_counter()
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    name, ((x_train, y_train), (x_test, y_test)) = load(args)
    if args.train:
        x_train, y_train = x_train[: args.train], y_train[: args.train]
    print(f"Data: {name}: {len(x_train)} train / {len(x_test)} test images {x_train.shape[1:]}")
    budget = args.dense_epochs + args.epochs
    print(f"Each row: {args.dense_epochs} dense epochs shared, then {args.epochs} more "
          f"(pruning included): {budget} epochs each.", flush=True)

    start = _fit("shared dense start", compile_model(build_cnn(x_train.shape[1:])), x_train,
                 y_train, args.dense_epochs)
    rows, recipe = train_rows(start, x_train, y_train, args)
    shrunk = kerasprune.shrink(rows["channels"])
    mac_ratio = 1 / kerasprune.sparsity_report(shrunk, baseline=start).speedup

    out = Path(args.output_dir)
    contents = write_files(out, start, rows, shrunk, recipe,
                           ((x_train, y_train), (x_test, y_test)))
    with native_stderr_silenced():  # the interpreter's "Created XNNPACK delegate" line
        comparison = tflite_export.compare(contents, x_test, y_test, runs=args.runs,
                                           verbose=0)
    inspections = {name: tflite_export.inspect(c) for name, c in contents.items()}
    labels = {"dense": "dense", "unstructured": f"unstructured {args.sparsity:.0%}",
              "blocks": f"(4, 1) blocks {args.sparsity:.0%} on fc",
              "channels": f"channels {args.channels:.0%} + shrink"}
    print()
    print(table(comparison, inspections, labels, mac_ratio))
    print()
    print(comparison.protocol)
    for note in comparison.notes:
        print(f"note: {note}")
    print(f"\nWrote {out}/: dense.keras (the start of every row), dense.tflite, "
          "unstructured.tflite, pruned.keras + pruned.tflite (blocks), shrunk.keras + "
          "shrunk.tflite (channels), data.npz, recipe.yaml (the blocks row)")
    print(f"Total {time.perf_counter() - began:.0f} s. Next: kerasprune inspect "
          f"{out}/pruned.tflite")


if __name__ == "__main__":
    main()
