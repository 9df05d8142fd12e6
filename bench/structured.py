"""Structured pruning benchmark: what removing channels buys, and what it costs.

Part 1, speed: keras.applications ResNet50 (64x64) and MobileNetV2 (96x96) and a
CIFAR-style ResNet-20 (32x32), with the call a user writes:
`prune(model, pattern=Channels("l1"), exclude=[<logits>])`, `update_masks(pruned, 0.5)`,
`shrink(pruned)`. The library finds the channel groups (residual streams, depthwise
convs, ...) itself. Conv output channels, parameters and multiply-accumulates kept,
masked vs shrunk outputs, TFLite float32 latency dense vs shrunk (1 thread, batch 1;
blocked timing, interleaved too). Weights are random (speed only).

Part 2, accuracy: real MNIST (8,000 train / 2,000 test), a small CNN, structured
GMP with channel groups to 50% and 75% of the channels (criteria L1, L2, Taylor, random),
then `shrink`; next to the dense model and to unstructured GMP at the same
multiply-accumulates (counting only the nonzero weights, which no CPU kernel skips).

Run: python -m bench.structured [--parts speed accuracy] [--epochs 4] [--seeds 1 2 3]
     [--runs 200] [--data-dir DIR]   (each part rewrites its own RESULTS.md section)
"""

from __future__ import annotations

import argparse
import re

from bench import common

common.quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from kerasprune import Channels, CriterionData, shrink  # noqa: E402
from tflite_export.benchmarking import set_single_sample, time_blocked, time_interleaved  # noqa: E402

SECTION = "structured"
CRITERIA = ("l1", "l2", "taylor", "random")
LEVELS = (0.5, 0.75)


# --- models -------------------------------------------------------------------------
def resnet20(input_shape=(32, 32, 3), classes=10) -> keras.Model:
    """ResNet-20 (3 stages x 3 basic blocks, 16/32/64 channels, 1x1 projection shortcuts)."""
    inputs = keras.Input(input_shape)
    x = _conv_bn(inputs, 16, 3, 1, "stem", relu=True)
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            name = f"s{stage}b{block}"
            stride = 2 if stage > 0 and block == 0 else 1
            y = _conv_bn(x, width, 3, stride, name + "_conv1", relu=True)
            y = _conv_bn(y, width, 3, 1, name + "_conv2", relu=False)
            if stride != 1 or x.shape[-1] != width:
                x = _conv_bn(x, width, 1, stride, name + "_short", relu=False)
            x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet20")


def _conv_bn(x, filters, kernel, stride, name, relu):
    x = keras.layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(name=name + "_bn")(x)
    return keras.layers.ReLU()(x) if relu else x


def speed_models() -> list[tuple[str, keras.Model]]:
    return [
        ("ResNet50 64x64", keras.applications.ResNet50(
            weights=None, input_shape=(64, 64, 3), classifier_activation=None)),
        ("MobileNetV2 96x96", keras.applications.MobileNetV2(
            weights=None, input_shape=(96, 96, 3), classifier_activation=None)),
        ("ResNet-20 32x32", resnet20()),
    ]


def conv_channels(model: keras.Model) -> int:
    """Output channels of every convolution (depthwise ones included)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            total += layer.kernel.shape[-2]
        elif isinstance(layer, keras.layers.Conv2D):
            total += layer.filters
    return total


def nonzero_macs(model: keras.Model) -> int:
    """Multiply-accumulates of the conv and Dense layers counting nonzero weights only."""
    total = 0
    for outer in model.layers:
        layer = getattr(outer, "layer", outer)  # through a PruneWrapper
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense,
                                  keras.layers.DepthwiseConv2D)):
            continue
        positions = int(np.prod(outer.output.shape[1:-1], dtype=np.int64))
        total += positions * int(np.count_nonzero(np.asarray(layer.kernel)))
    return total


# --- part 1: speed ------------------------------------------------------------------
def speed_rows(name: str, model: keras.Model, runs: int) -> tuple[list[str], list[str]]:
    logits = [layer for layer in model.layers if layer.weights][-1].name
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=[logits])
    kerasprune.update_masks(pruned, 0.5)
    small = shrink(pruned)
    x = np.random.default_rng(0).random((4,) + tuple(model.input.shape[1:]), dtype=np.float32)
    masked_out = np.asarray(pruned(x))
    relative = float(np.abs(masked_out - np.asarray(small(x))).max() / np.abs(masked_out).max())
    contents = [tflite_export.convert(m, sparse=False) for m in (model, small)]
    loaded = [tflite_export.load_interpreter(c, num_threads=1) for c in contents]
    interpreters = [item.interpreter for item in loaded]
    for interpreter in interpreters:
        set_single_sample(interpreter, x)
    blocked = [float(np.median(t)) * 1e6
               for t in time_blocked(interpreters, runs=runs, warmup=20,
                                       block=max(1, runs // 5))]
    interleaved = [float(np.median(t)) * 1e6
                   for t in time_interleaved(interpreters, runs=runs, warmup=20)]
    kept = conv_channels(small) / conv_channels(model)
    rows = []
    for label, m, content, b, i, item in zip(("dense", "50% channels, shrunk"), (model, small),
                                             contents, blocked, interleaved, loaded):
        rows.append(f"| {name} | {label} | {conv_channels(m):,} | {m.count_params():,} "
                    f"| {nonzero_macs(m) / 1e6:.1f} M | {len(content):,} | {b:.0f} us "
                    f"| {i:.0f} us | {item.resolver} |")
    speedup = blocked[0] / blocked[1]
    rows.append(f"| {name} | **kept / dense, speed-up** | {kept:.3f} "
                f"| {small.count_params() / model.count_params():.3f} "
                f"| {nonzero_macs(small) / nonzero_macs(model):.3f} "
                f"| {len(contents[1]) / len(contents[0]):.3f} | **{speedup:.2f}x** "
                f"| {interleaved[0] / interleaved[1]:.2f}x | |")
    checks = [
        f"{name}: conv channels kept {kept:.3f} (target 0.50 +- 0.05: "
        f"{'met' if abs(kept - 0.5) <= 0.05 else 'NOT met'}); max |masked - shrunk| / "
        f"max |masked| = {relative:.1e} (target <= 1e-4: "
        f"{'met' if relative <= 1e-4 else 'NOT met'}); TFLite speed-up blocked "
        f"{speedup:.2f}x (target >= 2.5x: {'met' if speedup >= 2.5 else 'NOT met'})",
    ]
    print(checks[0], flush=True)
    return rows, checks


# --- part 1b: a KerasHub BERT-style classifier ---------------------------------------
def bert_classifier(layers=4, heads=8, width=256, units=1024, length=64) -> keras.Model:
    """A KerasHub BertBackbone (random weights) with a 2-class head on its pooled output."""
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=1000, num_layers=layers, num_heads=heads, hidden_dim=width,
        intermediate_dim=units, max_sequence_length=length)
    inputs = {name: keras.Input((length,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask")}
    logits = keras.layers.Dense(2, name="logits")(backbone(inputs)["pooled_output"])
    return keras.Model(list(inputs.values()), logits, name="bert_classifier")


def encoder_sizes(model: keras.Model) -> tuple[int, int]:
    """Attention heads and feed-forward units over the model's encoder blocks."""
    layers = list(model.layers)
    layers += [inner for outer in model.layers if isinstance(outer, keras.Model)
               for inner in outer.layers]
    blocks = [layer for layer in layers
              if hasattr(layer, "intermediate_dim") and not isinstance(layer, keras.Model)]
    return sum(b.num_heads for b in blocks), sum(b.intermediate_dim for b in blocks)


def transformer_rows(runs: int) -> tuple[list[str], list[str]]:
    model = bert_classifier()
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["logits"])
    kerasprune.update_masks(pruned, 0.5)
    small = shrink(pruned)
    length = model.inputs[0].shape[1]
    x = {"token_ids": np.random.default_rng(0).integers(0, 1000, (1, length)).astype("int32"),
         "segment_ids": np.zeros((1, length), "int32"),
         "padding_mask": np.ones((1, length), "int32")}
    masked_out = np.asarray(pruned(list(x.values())))
    relative = float(np.abs(masked_out - np.asarray(small(list(x.values())))).max()
                     / np.abs(masked_out).max())
    loaded = [tflite_export.load_interpreter(tflite_export.convert(m, sparse=False),
                                             num_threads=1) for m in (model, small)]
    interpreters = [item.interpreter for item in loaded]
    arrays = list(x.values())
    for interpreter in interpreters:  # the converter names inputs "..._args_<position>:0"
        names = [d["name"] for d in interpreter.get_input_details()]
        set_single_sample(interpreter, [arrays[int(re.search(r"args_(\d+)", n).group(1))]
                                        for n in names])
    blocked = [float(np.median(t)) * 1e6
               for t in time_blocked(interpreters, runs=runs, warmup=20,
                                       block=max(1, runs // 5))]
    (heads, units), (small_heads, small_units) = encoder_sizes(model), encoder_sizes(small)
    row = (f"| KerasHub BERT 4x256, 64 tokens | heads {small_heads}/{heads}, feed-forward units "
           f"{small_units}/{units} | {small.count_params() / model.count_params():.3f} "
           f"| {blocked[0]:.0f} us | {blocked[1]:.0f} us | **{blocked[0] / blocked[1]:.2f}x** |")
    check = (f"KerasHub BERT: max |masked - shrunk| / max |masked| = {relative:.1e}")
    print(row, check, flush=True)
    return [row], [check]


# --- part 2: accuracy ---------------------------------------------------------------
def train(model, data, epochs: int, callbacks=()) -> keras.Model:
    (x_train, y_train), _ = data
    common.compile_cnn(keras, model)
    model.fit(x_train, y_train, epochs=epochs, batch_size=128, callbacks=list(callbacks),
              verbose=0)
    return model


def gmp(target: float, epochs: int, **kwargs) -> kerasprune.PruningCallback:
    return kerasprune.PruningCallback(target, stabilization_epochs=1,
                                      pruning_epochs=max(1, epochs - 2), finetune_epochs=1,
                                      **kwargs)


def structured_run(criterion, level, seed, data, epochs):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = kerasprune.prune(common.build_cnn(keras), pattern=Channels(criterion),
                             exclude=["logits"])
    sample = (CriterionData(x_train[:512], y_train[:512], batch_size=128)
              if criterion == "taylor" else None)
    train(model, data, epochs, [gmp(level, epochs, data=sample)])
    small = shrink(model)
    return common.accuracy(small, x_test, y_test), small


def unstructured_run(sparsity, seed, data, epochs):
    _, (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = kerasprune.prune(common.build_cnn(keras), exclude=["logits"])
    train(model, data, epochs, [gmp(sparsity, epochs)])
    return common.accuracy(model, x_test, y_test), model


def equal_macs_sparsity(dense: keras.Model, macs: int) -> float:
    """The layer-scope sparsity of conv1, conv2 and dense1 leaving `macs` nonzero MACs."""
    logits = dense.get_layer("logits")
    fixed = int(np.prod(logits.kernel.shape))
    return 1.0 - (macs - fixed) / (nonzero_macs(dense) - fixed)


def accuracy_rows(data, epochs: int, seeds: list[int]) -> list[str]:
    _, (x_test, y_test) = data
    dense_acc = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        dense = train(common.build_cnn(keras), data, epochs)
        dense_acc.append(common.accuracy(dense, x_test, y_test))
    rows = [f"| dense | - | {common.mean_std(dense_acc, 100)} | {nonzero_macs(dense) / 1e6:.2f} M "
            f"| {dense.count_params():,} |"]
    print(rows[-1], flush=True)
    for level in LEVELS:
        macs = params = None
        for criterion in CRITERIA:
            results = [structured_run(criterion, level, seed, data, epochs) for seed in seeds]
            small = results[-1][1]
            macs, params = nonzero_macs(small), small.count_params()
            rows.append(f"| structured {criterion}, {level:.0%} channels | {_widths(small)} "
                        f"| {common.mean_std([r[0] for r in results], 100)} "
                        f"| {macs / 1e6:.2f} M | {params:,} |")
            print(rows[-1], flush=True)
        sparsity = equal_macs_sparsity(dense, macs)
        results = [unstructured_run(sparsity, seed, data, epochs) for seed in seeds]
        rows.append(f"| unstructured {sparsity:.1%} (same MACs as {level:.0%} channels) | - "
                    f"| {common.mean_std([r[0] for r in results], 100)} "
                    f"| {nonzero_macs(results[-1][1]) / 1e6:.2f} M (nonzero) | - |")
        print(rows[-1], flush=True)
    return rows


def _widths(model) -> str:
    return "-".join(str(getattr(layer, "filters", None) or layer.units) for layer in model.layers
                    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=("speed", "accuracy"),
                        default=["speed", "accuracy"],
                        help="each part rewrites its own section of bench/RESULTS.md")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=200)
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    if "speed" in args.parts:
        write_speed(args.runs)
    if "accuracy" in args.parts:
        write_accuracy(common.load_split(args.data_dir), args.epochs, args.seeds)


def write_speed(runs: int) -> None:
    speed, checks = [], []
    for name, model in speed_models():
        rows, model_checks = speed_rows(name, model, runs)
        speed += rows
        checks += model_checks
    transformer, transformer_checks = transformer_rows(runs)
    text = "\n".join([
        "## Structured pruning: channel groups, 50% of the channels removed (bench/structured.py)",
        "",
        "The user's call: `prune(model, pattern=Channels(\"l1\"), exclude=[<logits>])`, "
        "`update_masks(pruned, 0.5)`, `shrink(pruned)`; the library finds the channel groups "
        "(residual streams, depthwise convs, ...). Random weights. TFLite float32 (plain "
        f"conversion), batch 1, 1 thread, median of {runs} invokes. Blocked: each model "
        "in blocks of consecutive invokes after 20 warm-up invokes, blocks alternated over 5 "
        "rounds (the speed-up in bold); interleaved: the models alternated invoke by invoke. "
        f"Caches: {common.cache_sizes()}.",
        "",
        "| model | variant | conv channels | params | MACs (conv+dense) | TFLite bytes "
        "| latency blocked | latency interleaved | resolver |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
        *speed,
        "",
        "KerasHub BERT-style classifier (BertBackbone, 4 encoder blocks of width 256, 8 "
        "heads, 1024 feed-forward units, 64 tokens; random weights), same call: each "
        "encoder loses half its heads and half its feed-forward units (the head size is "
        "kept); latency blocked as above, 1 thread.",
        "",
        "| model | kept after shrink | params kept | dense | shrunk | speed-up |",
        "|---|---|---:|---:|---:|---:|",
        *transformer,
        "",
        *[f"- {line}" for line in checks + transformer_checks],
    ])
    common.write_section(SECTION, text)
    print(text)


def write_accuracy(data, epochs: int, seeds: list[int]) -> None:
    text = "\n".join([
        "## Structured pruning: accuracy with channel groups (bench/structured.py)",
        "",
        "MNIST 8k/2k, CNN Conv32-Pool-Conv64-Pool-Dense256-Dense10, "
        f"Adam 1e-3, batch 128, {epochs} epochs from scratch. GMP: 1 epoch dense, "
        f"cubic ramp over {max(1, epochs - 2)} epoch(s), 1 epoch fine-tuning; conv1, "
        "conv2 and dense1 pruned (logits not). Structured: `Channels(criterion)` with "
        "channel groups to 50% / 75% of the channels, then `shrink` (accuracy of the "
        "shrunk model); Taylor gradients from 512 training images. Unstructured: "
        "magnitude GMP at the sparsity whose nonzero multiply-accumulates equal the "
        f"shrunk model's. Test accuracy in %, mean ± std over seeds {seeds}.",
        "",
        "| model | widths | test accuracy | MACs | params |",
        "|---|---|---:|---:|---:|",
        *accuracy_rows(data, epochs, seeds),
    ])
    common.write_section(SECTION + "-accuracy", text)
    print(text)


if __name__ == "__main__":
    main()
