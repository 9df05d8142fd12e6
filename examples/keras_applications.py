"""Prune a `keras.applications` network with GMP and export it to sparse TFLite.

MobileNetV2 (by default; any `keras.applications` model taking `input_shape`, `weights` and
`classes` works) is built untrained at a small input size and trained on the embedded real
MNIST digits, resized to RGB. Its convolutions and classifier are pruned with one global
magnitude threshold (the depthwise kernels, a sliver of the weights, are left dense), then
the dense and pruned models are converted to TFLite and compared.

    python -m examples.keras_applications                       # MobileNetV2, 32x32, 2,400 digits
    python -m examples.keras_applications --model ResNet50 --image-size 64
    python -m examples.keras_applications --model MobileNet --alpha 0.25   # the smallest
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from examples import datasets  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="MobileNetV2", help="a keras.applications class name")
    parser.add_argument("--alpha", type=float, default=0.35, help="width (MobileNet models)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--train", type=int, default=2400, help="training images (<= 2,400)")
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--dense-epochs", type=int, default=5, help="0: prune at random init")
    parser.add_argument("--pruning-epochs", type=int, default=3)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50, help="timed TFLite invokes per model")
    parser.add_argument("--verbose", type=int, default=2)
    return parser.parse_args(argv)


def rgb_digits(images: np.ndarray, size: int) -> np.ndarray:
    """Grey 28x28 digits as `size`x`size` RGB images in [0, 1]."""
    resized = keras.ops.image.resize(images, (size, size))
    return np.repeat(keras.ops.convert_to_numpy(resized), 3, axis=-1)


def build(args) -> keras.Model:
    cls = getattr(keras.applications, args.model, None)
    if cls is None or not callable(cls):
        raise ValueError(f"`--model` must name a keras.applications model. Received: {args.model}")
    kwargs = {"alpha": args.alpha} if "MobileNet" in args.model else {}
    return cls(input_shape=(args.image_size, args.image_size, 3), weights=None, classes=10,
               classifier_activation=None, **kwargs)


def main(argv=None) -> dict:
    args = parse_args(argv)
    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = datasets.load_embedded_mnist()
    x, y = rgb_digits(x[: args.train], args.image_size), y[: args.train]
    x_test = rgb_digits(x_test, args.image_size)

    dense = build(args)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if args.dense_epochs:
        dense.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
        dense.fit(x, y, epochs=args.dense_epochs, batch_size=64, verbose=args.verbose)

    pruned = kerasprune.prune(
        dense, scope="global",
        exclude=lambda layer: isinstance(layer, keras.layers.DepthwiseConv2D))
    pruned.compile(keras.optimizers.Adam(5e-4), loss, metrics=["accuracy"])
    gmp = kerasprune.PruningCallback(args.sparsity, stabilization_epochs=0,
                                     pruning_epochs=args.pruning_epochs,
                                     finetune_epochs=args.finetune_epochs)
    pruned.fit(x, y, epochs=gmp.total_epochs, batch_size=64, callbacks=[gmp],
               verbose=args.verbose)

    report = kerasprune.sparsity_report(pruned)
    print(f"\n{args.model}: {len(report.rows)} pruned weights, total sparsity "
          f"{report.total:.2%}\n")
    # Accuracy of both models comes from their TFLite files, on the test digits.
    comparison = tflite_export.compare({"dense": dense, "pruned": pruned}, x_test, y_test,
                                       runs=args.runs, warmup=min(10, args.runs))
    print(comparison)
    return {"report": report, "comparison": comparison}


if __name__ == "__main__":
    main()
