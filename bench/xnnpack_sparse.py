"""XNNPACK's sparse inference: a MobileNetV2-style model at 224x224 made ready for it.

XNNPACK (TFLite's CPU delegate) runs 1x1 convolutions of >= 2/3 zeros as sparse matrix
products on a subgraph of a fixed shape (its README, "Sparse Inference"; Elsen et al.
2020). keras.applications.MobileNetV2 is not of that shape (its stride-2 convolutions pad
(0, 1), not 1 on each side, and its mean drops the spatial axes), so this builds the same
network with the padding and the mean XNNPACK needs (random weights: the graph is what is
checked), prunes it with `kerasprune.prune(model, policy="xnnpack_sparse")` to 90% zeros
in its 1x1 convolutions, converts it, and checks the file against every condition with
`tflite_export.sparse_inference`. XNNPACK turns the sparse path off on x86 CPUs with AVX,
so the latencies measured here (dense vs sparse file, both protocols) show no speed-up:
they say where the path does not run, not what it gives on ARM.

Run: python -m bench.xnnpack_sparse [--size 224] [--sparsity 0.9] [--runs 100]
"""

from __future__ import annotations

import argparse
import time
import warnings

from bench import common

common.quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402

import kerasprune  # noqa: E402
import kerasprune.tfmot as tfmot  # noqa: E402
import tflite_export  # noqa: E402
from tflite_export.benchmarking import set_single_sample, time_blocked, time_interleaved  # noqa: E402
from tflite_export.xnnpack_sparse import CONDITIONS, sparse_inference  # noqa: E402

SECTION = "xnnpack-sparse"
L = keras.layers
# MobileNetV2's inverted residual blocks: (expansion, output channels, repeats, stride).
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2_for_xnnpack(size: int = 224, classes: int = 1000) -> keras.Model:
    """MobileNetV2 (width 1.0) with the stem and stride-2 depthwise convolutions padded by
    ZeroPadding2D(1) and a mean that keeps its dimensions, then Flatten and the classifier."""
    inputs = keras.Input((size, size, 3))
    x = L.Conv2D(32, 3, strides=2, use_bias=False, name="stem")(L.ZeroPadding2D(1)(inputs))
    x = L.ReLU(6.0)(L.BatchNormalization()(x))
    index = 0
    for expansion, channels, repeats, stride in BLOCKS:
        for repeat in range(repeats):
            x = _inverted_residual(x, expansion, channels, stride if repeat == 0 else 1,
                                   f"block{index}")
            index += 1
    x = L.Conv2D(1280, 1, use_bias=False, name="last_conv")(x)
    x = L.ReLU(6.0)(L.BatchNormalization()(x))
    x = L.GlobalAveragePooling2D(keepdims=True, name="mean")(x)
    outputs = L.Dense(classes, name="logits")(L.Flatten()(x))
    return keras.Model(inputs, outputs, name="mobilenet_v2_xnnpack")


def _inverted_residual(x, expansion: int, channels: int, stride: int, name: str):
    y = x
    if expansion != 1:
        y = L.Conv2D(x.shape[-1] * expansion, 1, use_bias=False, name=f"{name}_expand")(y)
        y = L.ReLU(6.0)(L.BatchNormalization()(y))
    if stride == 2:
        y = L.ZeroPadding2D(1)(y)
    y = L.DepthwiseConv2D(3, strides=stride, padding="same" if stride == 1 else "valid",
                          use_bias=False, name=f"{name}_depthwise")(y)
    y = L.ReLU(6.0)(L.BatchNormalization()(y))
    y = L.Conv2D(channels, 1, use_bias=False, name=f"{name}_project")(y)
    y = L.BatchNormalization()(y)
    if stride == 1 and x.shape[-1] == channels:
        y = L.Add(name=f"{name}_add")([x, y])
    return y


def latency(contents: list[bytes], x: np.ndarray, runs: int) -> list[tuple[float, float]]:
    """(interleaved, blocked) median microseconds of each file under XNNPACK, 1 thread."""
    loaded = [tflite_export.load_interpreter(c, num_threads=1) for c in contents]
    interpreters = [item.interpreter for item in loaded]
    for interpreter in interpreters:
        set_single_sample(interpreter, x)
    interleaved = time_interleaved(interpreters, runs=runs, warmup=10)
    blocked = time_blocked(interpreters, runs=runs, warmup=5, block=max(1, runs // 4))
    return [(float(np.median(i)) * 1e6, float(np.median(b)) * 1e6)
            for i, b in zip(interleaved, blocked)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    start = time.time()
    keras.utils.set_random_seed(0)
    model = mobilenet_v2_for_xnnpack(args.size)
    pruned = kerasprune.prune(model, policy="xnnpack_sparse")
    wrapped = [w.layer.name for w in kerasprune.prune_wrappers(pruned)]
    pointwise = [layer.name for layer in model.layers
                 if isinstance(layer, L.Conv2D) and tuple(layer.kernel_size) == (1, 1)]
    tfmot_count = sum(isinstance(layer, tfmot.sparsity.keras.PruneLowMagnitude)
                      for layer in tfmot.sparsity.keras.prune_low_magnitude(
                          model, pruning_policy=tfmot.sparsity.keras.PruneForLatencyOnXNNPack()
                      ).layers)
    kerasprune.update_masks(pruned, args.sparsity)
    dense = tflite_export.convert(model, sparse=False, verbose=0)
    sparse = tflite_export.convert(pruned, verbose=0)
    report = sparse_inference(sparse)
    (subgraph,) = report.subgraphs
    inspection = tflite_export.inspect(sparse)
    x = np.random.default_rng(0).random((1, args.size, args.size, 3), dtype=np.float32)
    (dense_i, dense_b), (sparse_i, sparse_b) = latency([dense, sparse], x, args.runs)
    applications = keras.applications.MobileNetV2((args.size, args.size, 3), weights=None)
    try:
        kerasprune.prune(applications, policy="xnnpack_sparse")
        refusal = "accepted (unexpected)"
    except ValueError as error:
        refusal = str(error).split(" (Conditions:")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        applications_report = sparse_inference(tflite_export.convert(applications, verbose=0))
    broken = [c.name for s in applications_report.subgraphs for c in s.conditions if not c.ok]
    rows = [f"| {CONDITIONS[c.name]} | {'yes' if c.ok else 'NO'} | {c.detail} |"
            for c in subgraph.conditions]
    text = f"""## XNNPACK sparse inference: MobileNetV2 at {args.size}x{args.size}

`python -m bench.xnnpack_sparse`: MobileNetV2 (width 1.0, {model.count_params():,} weights,
random) built with the padding and the mean XNNPACK's sparse path needs, pruned with
`kerasprune.prune(model, policy="xnnpack_sparse")` and `update_masks(pruned,
{args.sparsity})`, converted with `tflite_export.convert` (sparse). The policy wrapped
{len(wrapped)} layers: the {len(pointwise)} 1x1 convolutions of the network
{'(all of them, no more)' if sorted(wrapped) == sorted(pointwise) else '(NOT all of them)'};
TFMOT's `PruneForLatencyOnXNNPack` on the same model wraps {tfmot_count}. The converted
file, read by `tflite_export.sparse_inference` (from the file alone):
**{'every condition holds' if subgraph.ok else 'a condition is broken'}**.

| condition of XNNPACK's README, "Sparse Inference" | holds | found in the file |
|---|---|---|
{chr(10).join(rows)}

{inspection.summary()}; file {len(sparse):,} B (dense {len(dense):,} B,
{len(sparse) / len(dense):.3f}x).

What this machine can and cannot say: XNNPACK switches the sparse path on only where its
hardware configuration allows NCHW sparse kernels (ARM); on this x86 CPU with AVX it is
off, so both files run the same dense kernels: XNNPACK, 1 thread, batch 1, dense
{dense_i:.0f} us / sparse {sparse_i:.0f} us interleaved ({dense_i / sparse_i:.2f}x),
{dense_b:.0f} us / {sparse_b:.0f} us blocked ({dense_b / sparse_b:.2f}x). Fast Sparse
ConvNets report 1.3-2.4x on ARM phones for MobileNets at 80-90% sparsity; that figure is
theirs, not measured here.

keras.applications.MobileNetV2 is refused by the policy: "{refusal}"; its converted file
breaks {', '.join(dict.fromkeys(broken))}.
"""
    print(text)
    common.write_section(SECTION, text, wall_seconds=time.time() - start)


if __name__ == "__main__":
    main()
