"""Structured pruning benchmark: what removing 50% of the channels buys, and what it costs.

Part 1, speed: a CIFAR-style ResNet-20 (32x32x3) and MobileNetV2 (96x96x3), dense vs
with 50% of their channels pruned and physically removed by `kerasprune.shrink.shrink`:
parameters, FLOPs, TFLite file bytes and median latency (XNNPACK, 1 thread), the two
interpreters timed interleaved in one process. Channels are chosen by L1 norm; channels
joined by a residual Add get one shared choice (summed L1 over the group), as structured
pruning must for the channels to be removable. Weights are random (speed only).

Part 2, accuracy: MNIST 8k/2k split, the FACTS.md CNN, dense vs pruned 50% by channels
with GMP (`Channels` pattern + `PruningCallback`), criteria L1, Taylor and random; the
pruned models are then shrunk and their accuracy re-measured.

Run: python -m bench.structured [--epochs 4] [--runs 200] [--data-dir DIR]
"""

from __future__ import annotations

import argparse

from bench import common

common.quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from tflite_export.benchmarking import set_single_sample, time_interleaved  # noqa: E402
from kerasprune import Channels, TaylorImportance, channel_scores, shrink  # noqa: E402

SECTION = "structured"


# --- models -------------------------------------------------------------------------
def resnet20(input_shape=(32, 32, 3), classes=10) -> tuple[keras.Model, list[list[str]]]:
    """ResNet-20 (3 stages x 3 basic blocks, 16/32/64 channels, 1x1 projection shortcuts).

    Returns the model and its channel groups: names of the convs whose outputs share
    channels (one group per residual stream, one per block-internal conv).
    """
    inputs = keras.Input(input_shape)
    x = _conv_bn(inputs, 16, 3, 1, "stem", relu=True)
    groups, group = [], ["stem"]
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            name = f"s{stage}b{block}"
            stride = 2 if stage > 0 and block == 0 else 1
            y = _conv_bn(x, width, 3, stride, name + "_conv1", relu=True)
            groups.append([name + "_conv1"])
            y = _conv_bn(y, width, 3, 1, name + "_conv2", relu=False)
            if stride != 1 or x.shape[-1] != width:
                groups.append(group)
                x = _conv_bn(x, width, 1, stride, name + "_short", relu=False)
                group = [name + "_short"]
            group.append(name + "_conv2")
            x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    groups.append(group)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet20"), groups


def _conv_bn(x, filters, kernel, stride, name, relu):
    x = keras.layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(name=name + "_bn")(x)
    return keras.layers.ReLU()(x) if relu else x


def mobilenet_v2() -> tuple[keras.Model, list[list[str]]]:
    """MobileNetV2 96x96 and its channel groups: every expansion conv on its own, the
    project convs of each residual stream together (the convs an Add joins), the stem and
    the last 1x1 conv."""
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
    streams = _add_groups(model)
    joined = {name for group in streams for name in group}
    singles = [[l.name] for l in model.layers
               if isinstance(l, keras.layers.Conv2D) and not isinstance(l, keras.layers.DepthwiseConv2D)
               and l.name not in joined]
    return model, singles + streams


def _add_groups(model: keras.Model) -> list[list[str]]:
    """Names of the convs whose outputs an Add joins (through BN), merged transitively."""
    groups: list[set[str]] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Add):
            members = set().union(*(_source_convs(t) for t in layer.input))
            overlapping = [g for g in groups if g & members]
            for g in overlapping:
                members |= g
                groups.remove(g)
            groups.append(members)
    return [sorted(g) for g in groups]


def _source_convs(tensor) -> set[str]:
    op = tensor._keras_history.operation
    if isinstance(op, keras.layers.BatchNormalization):
        return _source_convs(op.input)
    if isinstance(op, keras.layers.Add):
        return set().union(*(_source_convs(t) for t in op.input))
    return {op.name}


def prune_groups(model: keras.Model, groups: list[list[str]], fraction: float) -> keras.Model:
    """A copy of `model` with `fraction` of the channels of every group zeroed by L1.

    The channels of a group's convs and of their BatchNormalization go together, so the
    pruned channels are exactly zero and `shrink` can remove them.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for names in groups:
        convs = [copy.get_layer(n) for n in names]
        scores = sum(channel_scores(np.asarray(c.kernel), "l1") for c in convs)
        pruned = np.argsort(scores, kind="stable")[: int(round(fraction * scores.size))]
        for conv in convs:
            kernel = conv.kernel.numpy()
            kernel[..., pruned] = 0.0
            conv.kernel.assign(kernel)
            bn = _following_batch_norm(copy, conv)
            if bn is not None:
                for variable in (bn.gamma, bn.beta):
                    values = variable.numpy()
                    values[pruned] = 0.0
                    variable.assign(values)
    return copy


def _following_batch_norm(model, conv):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            source = layer.input._keras_history.operation
            if source is conv:
                return layer
    return None


def flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of the convolution, depthwise and Dense layers, batch 1."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw, channels, mult = layer.kernel.shape
            h, w = layer.output.shape[1:3]
            total += 2 * h * w * kh * kw * channels * mult
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            h, w = layer.output.shape[1:3]
            total += 2 * h * w * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
    return int(total)


# --- part 1: speed ------------------------------------------------------------------
def speed_rows(name, model, groups, runs) -> list[str]:
    masked = prune_groups(model, groups, 0.5)
    small = shrink(masked)
    x = np.random.default_rng(0).random((8,) + tuple(model.input.shape[1:]), dtype=np.float32)
    diff = float(np.abs(masked.predict(x, verbose=0) - small.predict(x, verbose=0)).max())
    contents = [tflite_export.convert(m, sparse=False) for m in (model, small)]
    loaded = [tflite_export.load_interpreter(c, num_threads=1, xnnpack=True) for c in contents]
    for item in loaded:
        set_single_sample(item.interpreter, x)
    times = time_interleaved([item.interpreter for item in loaded], runs=runs, warmup=20)
    medians = [float(np.median(t)) * 1e6 for t in times]
    rows = []
    for label, m, content, median, item in zip(("dense", "50% channels removed"), (model, small),
                                               contents, medians, loaded):
        rows.append(f"| {name} | {label} | {m.count_params():,} | {flops(m) / 1e6:.1f} M "
                    f"| {len(content):,} | {median:.0f} us ({item.resolver}) |")
    ratio = medians[0] / medians[1]
    rows.append(f"| {name} | **dense / shrunk** | {model.count_params() / small.count_params():.2f}x "
                f"| {flops(model) / flops(small):.2f}x | {len(contents[0]) / len(contents[1]):.2f}x "
                f"| **{ratio:.2f}x** |")
    print(f"{name}: latency ratio {ratio:.2f}, max |masked - shrunk| = {diff:.2e}")
    return rows, diff


# --- part 2: accuracy ---------------------------------------------------------------
def accuracy_rows(epochs: int, data_dir: str) -> list[str]:
    (x_train, y_train), (x_test, y_test) = common.load_split(data_dir)
    rows = []
    keras.utils.set_random_seed(0)
    dense = common.build_cnn(keras)
    common.compile_cnn(keras, dense)
    dense.fit(x_train, y_train, epochs=epochs, batch_size=128, verbose=0)
    acc = common.accuracy(dense, x_test, y_test)
    rows.append(f"| dense | {acc:.4f} | - | {dense.count_params():,} | - |")
    print(f"dense accuracy {acc:.4f}")
    for criterion in ("l1", "taylor", "random"):
        keras.utils.set_random_seed(0)
        model = kerasprune.prune(common.build_cnn(keras), pattern=Channels(criterion),
                                 exclude=["logits"])
        common.compile_cnn(keras, model)
        importance = None
        if criterion == "taylor":
            importance = TaylorImportance(x_train[:512], y_train[:512], batch_size=128)
        callbacks = [kerasprune.PruningCallback(0.5, stabilization_epochs=1,
                                                pruning_epochs=max(1, epochs - 2),
                                                finetune_epochs=1, importance=importance)]
        model.fit(x_train, y_train, epochs=epochs, batch_size=128, callbacks=callbacks, verbose=0)
        small = shrink(model)
        acc_masked = common.accuracy(model, x_test, y_test)
        acc_small = common.accuracy(small, x_test, y_test)
        rows.append(f"| {criterion} | {acc_masked:.4f} | {acc_small:.4f} "
                    f"| {small.count_params():,} | {_widths(small)} |")
        print(f"{criterion}: masked {acc_masked:.4f}, shrunk {acc_small:.4f}")
    return rows


def _widths(model) -> str:
    return "-".join(str(getattr(l, "filters", None) or l.units) for l in model.layers
                    if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=200)
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    speed, diffs = [], []
    for name, (model, groups) in (("ResNet-20 32x32", resnet20()),
                                  ("MobileNetV2 96x96", mobilenet_v2())):
        rows, diff = speed_rows(name, model, groups, args.runs)
        speed += rows
        diffs.append(diff)
    accuracy = accuracy_rows(args.epochs, args.data_dir)
    text = "\n".join([
        "## Structured pruning: 50% channels removed (bench/structured.py)",
        "",
        "### Speed: dense vs 50% of channels pruned and removed by `shrink`",
        "ResNet-20: 50% of every conv's output channels (residual-stream channels chosen once "
        "per Add group). MobileNetV2: 50% of the output channels of every conv (stem, "
        "expansion convs, the last 1x1 conv, and each residual stream's project convs as one "
        "group; depthwise convs follow their inputs). L1 choice, random weights. "
        "TFLite float32 (plain conversion), median of "
        f"{args.runs} interleaved invokes, batch 1, 1 thread. "
        f"Max |masked - shrunk| output difference: {max(diffs):.1e}.",
        "",
        "| model | variant | params | FLOPs | TFLite bytes | median latency |",
        "|---|---|---|---|---|---|",
        *speed,
        "",
        "### Accuracy: MNIST 8k/2k, CNN Conv32-Pool-Conv64-Pool-Dense256-Dense10",
        f"Adam 1e-3, batch 128, {args.epochs} epochs. GMP: 1 epoch dense, cubic ramp to 50% of "
        f"the channels of conv1, conv2 and dense1 over {max(1, args.epochs - 2)} epoch(s), "
        "1 epoch fine-tuning (logits not pruned); Taylor gradients from 512 training images. "
        "Then `shrink` removes the pruned channels.",
        "",
        "| criterion | test accuracy (masked) | test accuracy (shrunk) | params after shrink | widths |",
        "|---|---|---|---|---|",
        *accuracy,
    ])
    common.write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
