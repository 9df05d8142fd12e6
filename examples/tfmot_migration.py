"""TFMOT's "Pruning in Keras" guide on Keras 3: the guide's code with only the import changed.

The guide (tensorflow/model-optimization, `pruning_with_keras`) trains an MNIST CNN, prunes
it from 50% to 80% sparsity with `prune_low_magnitude` and `PolynomialDecay`, logs the
per-layer sparsity to TensorBoard, strips the wrappers and shows the gzipped files shrink.
TFMOT cannot do this on Keras 3; here the only change is the import line:

    import kerasprune.tfmot as tfmot   # was: import tensorflow_model_optimization as tfmot

    python -m examples.tfmot_migration             # 3,000 embedded real MNIST digits
    python -m examples.tfmot_migration --mnist     # full MNIST, as in the guide

With the embedded digits the batch is 8 (default), so that the guide's schedule (a mask
update every 100 steps up to `end_step`) has steps to run on.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasprune.tfmot as tfmot  # noqa: E402  (was: import tensorflow_model_optimization as tfmot)
from examples import datasets  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", action="store_true", help="full MNIST via keras.datasets")
    parser.add_argument("--data-dir", help="folder of MNIST IDX files")
    parser.add_argument("--baseline-epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pruning batch size (default 128 with --mnist as in the guide, else 8)")
    parser.add_argument("--frequency", type=int, default=100, help="steps between mask updates")
    parser.add_argument("--limit", type=int, default=None, help="use only this many training images")
    parser.add_argument("--log-dir", default=None, help="TensorBoard folder (default: a temp dir)")
    parser.add_argument("--verbose", type=int, default=2)
    return parser.parse_args(argv)


def load(args):
    if args.mnist or args.data_dir:
        (x, y), (x_test, y_test) = datasets.load_mnist(args.data_dir)
    else:
        (x, y), (x_test, y_test) = datasets.load_embedded_mnist()
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    return (x[..., 0], y), (x_test[..., 0], y_test)


def get_gzipped_model_size(file: str) -> int:
    """Size of `file` zipped with DEFLATE, as in the guide."""
    _, zipped_file = tempfile.mkstemp(".zip")
    with zipfile.ZipFile(zipped_file, "w", compression=zipfile.ZIP_DEFLATED) as f:
        f.write(file)
    return os.path.getsize(zipped_file)


def main(argv=None) -> dict:
    args = parse_args(argv)
    keras.utils.set_random_seed(0)
    (train_images, train_labels), (test_images, test_labels) = load(args)

    # Train a model for MNIST without pruning.
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Reshape(target_shape=(28, 28, 1)),
        keras.layers.Conv2D(filters=12, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train_images, train_labels, epochs=args.baseline_epochs, validation_split=0.1,
              verbose=args.verbose)
    _, baseline_model_accuracy = model.evaluate(test_images, test_labels, verbose=0)
    _, keras_file = tempfile.mkstemp(".keras")
    model.save(keras_file, include_optimizer=False)

    # Fine-tune pre-trained model with pruning.
    prune_low_magnitude = tfmot.sparsity.keras.prune_low_magnitude
    batch_size = args.batch_size or (128 if args.mnist or args.data_dir else 8)
    epochs = 2
    validation_split = 0.1
    num_images = train_images.shape[0] * (1 - validation_split)
    end_step = np.ceil(num_images / batch_size).astype(np.int32) * epochs
    pruning_params = {
        "pruning_schedule": tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.50, final_sparsity=0.80, begin_step=0, end_step=end_step,
            frequency=args.frequency),
    }
    model_for_pruning = prune_low_magnitude(model, **pruning_params)
    model_for_pruning.compile(optimizer="adam",
                              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              metrics=["accuracy"])
    logdir = args.log_dir or tempfile.mkdtemp()
    callbacks = [
        tfmot.sparsity.keras.UpdatePruningStep(),
        tfmot.sparsity.keras.PruningSummaries(log_dir=logdir),
    ]
    model_for_pruning.fit(train_images, train_labels, batch_size=batch_size, epochs=epochs,
                          validation_split=validation_split, callbacks=callbacks,
                          verbose=args.verbose)
    _, model_for_pruning_accuracy = model_for_pruning.evaluate(test_images, test_labels,
                                                               verbose=0)
    print("Baseline test accuracy:", baseline_model_accuracy)
    print("Pruned test accuracy:", model_for_pruning_accuracy)

    # Create 3x smaller models from pruning.
    model_for_export = tfmot.sparsity.keras.strip_pruning(model_for_pruning)
    _, pruned_keras_file = tempfile.mkstemp(".keras")
    model_for_export.save(pruned_keras_file, include_optimizer=False)
    converter = tf.lite.TFLiteConverter.from_keras_model(model_for_export)
    pruned_tflite_model = converter.convert()
    _, pruned_tflite_file = tempfile.mkstemp(".tflite")
    with open(pruned_tflite_file, "wb") as f:
        f.write(pruned_tflite_model)
    sizes = {
        "baseline keras": get_gzipped_model_size(keras_file),
        "pruned keras": get_gzipped_model_size(pruned_keras_file),
        "pruned tflite": get_gzipped_model_size(pruned_tflite_file),
    }
    for name, size in sizes.items():
        print(f"Size of gzipped {name} model: {size:.2f} bytes")
    print(f"TensorBoard logs (per-layer sparsity under 'metrics'): {logdir}")
    return {
        "baseline_accuracy": baseline_model_accuracy,
        "pruned_accuracy": model_for_pruning_accuracy,
        "layer_sparsity": {layer.name: 1.0 - np.mean(np.asarray(layer.kernel) != 0)
                           for layer in model_for_export.layers if hasattr(layer, "kernel")},
        "stripped": model_for_export,
        "gzipped_bytes": sizes,
        "log_dir": logdir,
        "end_step": int(end_step),
    }


if __name__ == "__main__":
    main()
