"""kerasprune's main job: train a CNN, prune it with GMP, export sparse TFLite, benchmark.

Runs on 3,000 real MNIST digits shipped in `examples/data` by default (no download), on
MNIST IDX files with `--data-dir DIR`, or on `keras.datasets.mnist` with `--mnist`.

    python -m examples.quickstart                      # embedded MNIST digits
    python -m examples.quickstart --data-dir path/to/mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path

from examples.quiet import import_quietly, native_stderr_silenced

import_quietly()  # before anything imports TensorFlow: no start-up log lines

import keras  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from examples import datasets  # noqa: E402


def build_cnn(input_shape: tuple[int, ...], classes: int = 10) -> keras.Model:
    """A small CNN; on 28x28 inputs it is the benchmarks' Conv32-Conv64-Dense256 network."""
    small = input_shape[0] < 16  # tiny test images keep their size through the convs
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same" if small else "valid"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same" if small else "valid"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(classes),
        ],
        name="cnn",
    )


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(
        keras.optimizers.Adam(learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data-dir", help="folder of MNIST IDX files (e.g. ../shared/data/mnist)")
    source.add_argument("--mnist", action="store_true", help="download MNIST with keras.datasets")
    parser.add_argument("--sparsity", type=float, default=0.9, help="target sparsity (default 0.9)")
    parser.add_argument("--dense-epochs", type=int, default=15)
    parser.add_argument("--train", type=int, default=None, help="use only this many training images")
    parser.add_argument("--output-dir", default="out", help="where the .keras/.tflite files go")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load(args):
    if args.data_dir:
        return "MNIST (IDX files)", datasets.load_mnist_idx(args.data_dir)
    if args.mnist:
        return "MNIST (keras.datasets)", datasets.load_mnist()
    return "MNIST, 3,000 real digits (embedded)", datasets.load_embedded_mnist()


def main(argv=None) -> None:
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    name, ((x_train, y_train), (x_test, y_test)) = load(args)
    if args.train:
        x_train, y_train = x_train[: args.train], y_train[: args.train]
    print(f"Data: {name}: {len(x_train)} train / {len(x_test)} test images {x_train.shape[1:]}")

    dense = compile_model(build_cnn(x_train.shape[1:]), 1e-3)
    dense.fit(x_train, y_train, epochs=args.dense_epochs, batch_size=64, verbose=0)
    _, dense_accuracy = dense.evaluate(x_test, y_test, verbose=0)

    # One global threshold (small layers keep more), in blocks of 4 inputs: the layout
    # TFLite's sparse FULLY_CONNECTED kernel runs fast.
    pruned = compile_model(kerasprune.prune(dense, scope="global", block_shape=(4, 1)), 1e-3)
    gmp = kerasprune.PruningCallback(
        args.sparsity, stabilization_epochs=1, pruning_epochs=6, finetune_epochs=3
    )
    pruned.fit(x_train, y_train, epochs=gmp.total_epochs, batch_size=64, callbacks=[gmp], verbose=2)
    _, pruned_accuracy = pruned.evaluate(x_test, y_test, verbose=0)

    print(f"\nKeras accuracy: dense {dense_accuracy:.2%}, pruned {pruned_accuracy:.2%}\n")
    print(kerasprune.sparsity_report(pruned))

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pruned.save(out / "pruned.keras")
    (out / "pruned.tflite").write_bytes(tflite_export.convert(pruned))
    print(f"\nSaved {out / 'pruned.keras'} and {out / 'pruned.tflite'}\n")
    with native_stderr_silenced():  # the interpreter's "Created XNNPACK delegate" line
        table = tflite_export.compare({"dense": dense, "pruned": pruned}, x_test, y_test)
    print(table)


if __name__ == "__main__":
    main()
