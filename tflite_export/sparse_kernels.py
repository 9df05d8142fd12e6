"""Which weights TFLite runs on a sparse kernel, and why the others are not.

TFLite encodes a weight sparse only from 30% zeros on, and of the sparse-encoded
weights only a Dense kernel pruned in blocks of consecutive inputs runs on a sparse
kernel (FULLY_CONNECTED); convolutions are expanded back by a DENSIFY op. These
rules let `convert` warn when sparsity was asked for but the file will not run faster,
naming the layer and what to change.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from kerasprune.core.caller import user_stacklevel
from tflite_export import _compat, inspection

QUANTIZE_MODES = (None, "float16", "dynamic", "int8")
# The converter encodes a weight sparse only from this fraction of zeros on.
MIN_ENCODED_SPARSITY = 0.3
# TFLite's sparse FULLY_CONNECTED kernel: blocks of this many consecutive
# input rows of a Keras Dense kernel [in, out] (1x4 / 1x16 in TFLite's [out, in]).
FC_BLOCK_ROWS = {"float": 4, "int8": 16}

_SPARSE_CAPABLE = {
    "Dense": "FULLY_CONNECTED",
    "Conv2D": "CONV_2D",
    "DepthwiseConv2D": "DEPTHWISE_CONV_2D",
    "Conv2DTranspose": "TRANSPOSE_CONV",
}


class SparsityWarning(UserWarning):
    """Sparsity was asked for but no weight of the TFLite file runs sparse."""


class SparseKernelWarning(UserWarning):
    """A weight of the TFLite file runs on a sparse kernel that computes it wrong."""


def check_quantize(quantize) -> None:
    """One of `QUANTIZE_MODES` (None or a string: an array's `in` would compare elementwise)."""
    if not (quantize is None or isinstance(quantize, str)) or quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"Expected quantize to be one of {QUANTIZE_MODES}. Received: quantize={quantize!r}"
        )


def tflite_block_shape(quantize: str | None = None) -> tuple[int, int]:
    """The `block_shape` for `kerasprune.prune` that TFLite's sparse kernel runs.

    TFLite's sparse FULLY_CONNECTED kernel reads float32 weights in blocks of 4
    consecutive inputs and int8 weights in blocks of 16, so a Dense kernel
    pruned in `(4, 1)` or `(16, 1)` blocks runs sparse. `(16, 1)` blocks also
    satisfy the float kernel (and the float layers a "dynamic" export keeps).

    Args:
        quantize: the `quantize` you will pass to `convert`.

    Example:
    >>> tflite_block_shape(), tflite_block_shape("int8")
    ((4, 1), (16, 1))
    """
    check_quantize(quantize)
    if quantize == "float16":
        raise ValueError(
            'quantize="float16" has no sparse kernel in TFLite: its weights are expanded '
            'to float32 at run time. Use quantize=None or "dynamic" for sparse speed.'
        )
    return (FC_BLOCK_ROWS["float"], 1) if quantize is None else (FC_BLOCK_ROWS["int8"], 1)


def warn_if_not_sparse(model: keras.Model, content: bytes, quantize: str | None) -> None:
    """One line when sparsity was asked for but nothing runs sparse: what and what to do.

    The reason of every layer is on demand: `why_not_sparse_kernel(model)`, or
    `kerasprune inspect FILE` for how each weight of the file is stored and run.
    """
    report = inspection.inspect(content)
    if report.on_sparse_kernel or _xnnpack_sparse_ready(model, report):
        return
    reasons = _reasons(model, quantize)
    kinds = {kind for _, kind, _ in reasons}
    if not report.sparse_tensors and kinds <= {"few zeros"}:
        what = (f"no weight of model '{model.name}' has the >= {MIN_ENCODED_SPARSITY:.0%} "
                "zeros the converter encodes, so the file is dense, as expected for an "
                "unpruned model or one made smaller by kerasprune.shrink. Pass sparse=False "
                "(kerasprune export --dense) to skip this check")
    else:
        stored = ("stored sparse but expanded to dense by DENSIFY at load time"
                  if report.densified else "all stored dense")
        rows = FC_BLOCK_ROWS["float" if quantize in (None, "float16") else "int8"]
        what = (f"the TFLite file runs no faster than dense: its weights are {stored} "
                f"({_counts(reasons)}). Only TFLite's FULLY_CONNECTED has a sparse kernel: "
                f"prune Dense layers with block_shape=({rows}, 1) for speed, or "
                "convolutions with kerasprune.Channels and kerasprune.shrink")
    warnings.warn(
        f"Sparsity was asked for but {what}. Per layer: "
        "tflite_export.why_not_sparse_kernel(model) or `kerasprune inspect FILE`.",
        SparsityWarning,
        stacklevel=user_stacklevel(),
    )


def warn_if_sparse_kernel_is_wrong(content: bytes, quantize: str | None = None) -> bool:
    """Warn, naming the layers, when TFLite's sparse FULLY_CONNECTED kernel will compute
    some of them wrong: their number of inputs is not a multiple of their block. Returns
    whether it warned.

    Measured with ai-edge-litert 2.3.0 and TensorFlow 2.21's converter: the float (1x4),
    int8 (1x16) and dynamic-range kernels return outputs off by 0.02-0.4 for such a
    weight, where the same weights stored dense are exact
    (tests/tflite_export/test_sparse_kernels.py). The int8 converter stores a layer in
    blocks of 16 even when it was pruned without blocks, so only for the other modes does
    pruning without blocks help.
    """
    wrong = [t for t in inspection.inspect(content).on_sparse_kernel
             if t.block_shape and t.shape[-1] % t.block_shape[-1]]
    if not wrong:
        return False
    names = ", ".join(f"'{t.layer or t.name}' ({t.shape[-1]} inputs, blocks of "
                      f"{t.block_shape[-1]})" for t in wrong)
    unblocked = ("quantize='int8' stores such a layer in blocks of 16 even when it is pruned "
                 "without blocks, so pruning it without blocks does not help here"
                 if quantize == "int8" else
                 "pruning such a layer without blocks also works (its zeros are then stored "
                 "sparse and expanded at load, exactly)")
    warnings.warn(
        f"The TFLite file computes wrong outputs: {names} run(s) on TFLite's sparse "
        "FULLY_CONNECTED kernel, which is wrong when a layer's number of inputs is not a "
        "multiple of its block. Convert with sparse=False (kerasprune export --dense): the "
        "weights are then stored dense and the file computes the model; or leave such a "
        f"layer dense (`exclude=` in kerasprune.prune); {unblocked}.",
        SparseKernelWarning,
        stacklevel=user_stacklevel(),
    )
    return True


def wrongly_sparse_weights(content: bytes) -> list[str]:
    """The weights the file stores sparse where LiteRT reads them wrong, as "'layer', ...
    (why)", one item per reason.

    Measured with ai-edge-litert 2.3.0 and TensorFlow 2.21's converter
    (tests/tflite_export/test_recurrent_and_mixed_precision.py): a sparse weight inside a
    control-flow body (the WHILE loop of a recurrent layer) can give outputs off by 0.1-0.8,
    NaN on the first XNNPACK invoke (a SimpleRNN or LSTM on 3 features; on 4 it happens to be
    right), and none runs on a sparse kernel anyway; a float16 weight stored sparse in blocks
    goes straight to DEQUANTIZE, which reads it as dense: NaN outputs. Stored dense, both
    are exact.
    """
    model, schema = _compat.flatbuffer_model(content)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    found: dict[str, list[str]] = {}
    for index, graph in enumerate(model.subgraphs):
        readers = {}
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            for tensor in op.inputs:
                readers.setdefault(int(tensor), names[max(code.builtinCode,
                                                          code.deprecatedBuiltinCode)])
        for i, tensor in enumerate(graph.tensors):
            if tensor.sparsity is None:
                continue
            if index > 0:
                why = "read inside a WHILE loop, as a recurrent layer's weights are"
            elif readers.get(i) == "DEQUANTIZE":
                why = "float16 stored sparse, which DEQUANTIZE reads as dense"
            else:
                continue
            name = tensor.name.decode()
            layer = inspection.keras_layer(name, "FULLY_CONNECTED") or name
            found.setdefault(why, []).append(f"'{layer}'")
    return [f"{', '.join(dict.fromkeys(layers))} ({why})" for why, layers in found.items()]


def _xnnpack_sparse_ready(model: keras.Model, report) -> bool:
    """True when the file is shaped for XNNPACK's sparse inference and meets every
    condition (it runs sparse on ARM); a warning names the first broken condition when it
    is shaped for it but does not."""
    if not report.shaped_for_xnnpack_sparse:
        return False
    if report.sparse_inference.ready:
        return True
    warnings.warn(
        f"Model '{model.name}' starts as XNNPACK's sparse inference needs, but its TFLite "
        f"file breaks a condition: {report.sparse_inference.summary()}. Per condition: "
        "print(tflite_export.inspect(content).sparse_inference).",
        SparsityWarning,
        stacklevel=user_stacklevel(),
    )
    return True


def _counts(reasons: list[tuple[str, str, str]]) -> str:
    """The reasons counted by kind, with the first layers of each named."""
    by_kind: dict[str, list[str]] = {}
    for layer, kind, _ in reasons:
        by_kind.setdefault(kind, []).append(layer)
    parts = []
    for kind, layers in by_kind.items():
        names = ", ".join(layers[:3]) + (", ..." if len(layers) > 3 else "")
        parts.append(f"{len(layers)} {_KINDS[kind]} ({names})" if layers[0] else _KINDS[kind])
    return "; ".join(parts) or "no Dense/Conv kernel found"


_KINDS = {
    "float16": "float16 weights, which TFLite expands to float32",
    "few zeros": "kernel(s) below the converter's 30% zeros",
    "no sparse kernel": "convolution kernel(s), which have no sparse kernel in TFLite",
    "not blocks": "Dense kernel(s) whose zeros are not in the blocks TFLite's kernel reads",
}


def why_not_sparse_kernel(model: keras.Model, quantize: str | None = None) -> list[str]:
    """For each sparse-capable kernel, why TFLite will not run it on a sparse kernel.

    Returns an empty list when every Dense kernel has >= 30% zeros in the
    block pattern TFLite's sparse FULLY_CONNECTED kernel runs. A pruning-ready model
    is read as `convert` reads it, stripped of its wrappers.

    Example:
    why_not_sparse_kernel(dense_model)
    ['dense: 0% zeros (the converter encodes only >= 30%)']
    """
    import kerasprune

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected model to be a keras.Model. Received: model of type {type(model).__name__}")
    check_quantize(quantize)
    if kerasprune.prune_wrappers(model):
        model = kerasprune.strip(model)
    return [text for _, _, text in _reasons(model, quantize)]


def _reasons(model: keras.Model, quantize: str | None) -> list[tuple[str, str, str]]:
    """`(layer name, kind, sentence)` for each kernel that will not run sparse."""
    rows = FC_BLOCK_ROWS["float" if quantize in (None, "float16") else "int8"]
    reasons = []
    if quantize == "float16":
        reasons.append((
            "", "float16",
            "float16 weights are expanded to dense float32 by DEQUANTIZE at run "
            'time (TFLite has no float16 sparse kernel); use quantize=None or "dynamic"'))
    for layer in all_layers(model):
        layer = getattr(layer, "inner_layer", layer)  # inside a QuantizeWrapper
        op = _SPARSE_CAPABLE.get(type(layer).__name__)
        kernel = getattr(layer, "kernel", None)
        if op is None or kernel is None:
            continue
        weights = np.asarray(kernel.numpy())
        zeros = float(np.mean(weights == 0))
        if zeros < MIN_ENCODED_SPARSITY:
            reasons.append((layer.name, "few zeros", (
                f"{layer.name}: {zeros:.0%} zeros (the converter encodes only >= "
                f"{MIN_ENCODED_SPARSITY:.0%})")))
        elif op != "FULLY_CONNECTED":
            reasons.append((layer.name, "no sparse kernel", (
                f"{layer.name}: {op} has no sparse kernel in TFLite, a DENSIFY op "
                "expands it (only the file shrinks)")))
        elif _zero_block_fraction(weights, rows) < 0.9 * zeros:
            reasons.append((layer.name, "not blocks", (
                f"{layer.name}: {zeros:.0%} zeros but not in blocks of {rows} "
                "consecutive input rows, the pattern of TFLite's sparse "
                f"FULLY_CONNECTED kernel; prune with block_shape=({rows}, 1)")))
    return reasons


def _zero_block_fraction(kernel: np.ndarray, rows: int) -> float:
    """Fraction of weights in all-zero blocks of `rows` consecutive input rows."""
    n_in, n_out = kernel.shape
    usable = n_in - n_in % rows
    if usable == 0:
        return 0.0
    blocks = kernel[:usable].reshape(usable // rows, rows, n_out)
    return float(np.mean(np.all(blocks == 0, axis=1))) * usable / n_in


def all_layers(model: keras.Model) -> list:
    """Every layer of `model`, descending into nested models (public `layers` only)."""
    result = []
    for layer in model.layers:
        result += all_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return result
