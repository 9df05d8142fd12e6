"""What a TFLite file really contains: which weights are sparse and how they run.

A weight tensor stored sparse either feeds an op with a sparse kernel directly
(only FULLY_CONNECTED has one: float blocks 1x4, int8 blocks 1x16 in TFLite's
[out, in] layout), or feeds a DENSIFY op that expands it once at start-up, in
which case the file is smaller but the model runs exactly as fast as dense.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re

import numpy as np

from tflite_export import _compat
from tflite_export.interpreter import load_interpreter, read_model
from tflite_export.xnnpack_sparse import SparseInference, sparse_inference

# Ops whose constant weights the converter may encode sparse.
WEIGHT_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")
# Ops that sit between a stored weight and the op using it.
_PASS_THROUGH = ("DENSIFY", "DEQUANTIZE")
# The last part of the TensorFlow op name a weight of each TFLite op comes from.
_WEIGHT_OP_NAMES = {
    "FULLY_CONNECTED": ("MatMul", "Tensordot", "einsum", "Einsum", "BiasAdd"),
    "CONV_2D": ("convolution", "Conv2D", "BiasAdd"),
    "DEPTHWISE_CONV_2D": ("depthwise", "DepthwiseConv2dNative", "BiasAdd"),
    "TRANSPOSE_CONV": ("conv_transpose", "conv2d_transpose", "Conv2DBackpropInput"),
}
# What `WeightTensor.layer` says of a weight whose layer the file does not name: the
# converter names a sparse weight after its op's output, renamed after the model's output.
OUTPUT_LAYER = "(model output layer)"
# TensorFlow appends `_1`, `_2`, ... to a name scope entered again: a Keras layer's
# scope is entered when the model is built and again when `convert` traces it.
_REENTERED = re.compile(r"^(.+)_\d+$")

SPARSE_KERNEL = "sparse kernel"
DENSIFY = "DENSIFY"
DEQUANTIZE = "DEQUANTIZE"
DENSE = "dense"


@dataclasses.dataclass(frozen=True)
class WeightTensor:
    """One weight tensor of a TFLite file.

    Attributes:
        name: tensor name given by the converter (TensorFlow op names, `;`-joined
            when the converter fused several ops).
        shape: stored (dense) shape, TFLite layout ([out, in] for FULLY_CONNECTED).
        dtype: numpy dtype name, e.g. "float32", "int8".
        op: the op that consumes the weight (after DENSIFY/DEQUANTIZE).
        sparse: whether the tensor is stored in sparse format.
        block_shape: block shape in TFLite layout, (1, 4) for a float sparse
            FULLY_CONNECTED block, (1, 1) for random sparsity; None if dense.
        runs: "sparse kernel"; "DENSIFY" or "DEQUANTIZE" when stored sparse
            but expanded to dense by that op before use; or "dense".
        layer: the Keras layer the weight belongs to, read from `name`
            (`"block/conv"` for a layer inside a nested model or a composite layer);
            `"(model output layer)"` for the layer producing the model's output when the
            converter named its weight after that output (sparse weights); "" when the
            converter left no layer in the name (a shared layer's weight).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    op: str
    sparse: bool
    block_shape: tuple[int, ...] | None
    runs: str
    layer: str = ""


@dataclasses.dataclass(frozen=True)
class Inspection:
    """Result of `inspect`: weight tensors, ops and file size.

    Attributes:
        tensors: the weight tensors of WEIGHT_OPS (rank >= 2), in execution order.
        ops: op names in execution order.
        file_bytes: size of the flatbuffer.
        gzip_bytes: size after gzip (level 9), what a download would cost.
        sparse_inference: which subgraph XNNPACK's sparse inference (1x1 convolutions
            in NCHW, on ARM) can run, condition by condition
            (`tflite_export.xnnpack_sparse`).
    """

    tensors: tuple[WeightTensor, ...]
    ops: tuple[str, ...]
    file_bytes: int
    gzip_bytes: int
    sparse_inference: SparseInference | None = None

    @property
    def shaped_for_xnnpack_sparse(self) -> bool:
        """True when a subgraph starts as XNNPACK's sparse inference needs (its stem)."""
        return self.sparse_inference is not None and any(
            s.condition("stem").ok for s in self.sparse_inference.subgraphs)

    @property
    def sparse_tensors(self) -> list[WeightTensor]:
        """Weight tensors stored sparse (on a sparse kernel or densified)."""
        return [t for t in self.tensors if t.sparse]

    @property
    def on_sparse_kernel(self) -> list[WeightTensor]:
        """Weight tensors that really run on a sparse kernel."""
        return [t for t in self.tensors if t.runs == SPARSE_KERNEL]

    @property
    def densified(self) -> list[WeightTensor]:
        """Weight tensors stored sparse but expanded to dense before use."""
        return [t for t in self.tensors if t.sparse and t.runs != SPARSE_KERNEL]

    def summary(self) -> str:
        """One line: how many weights run sparse, densified, dense."""
        counts = {kind: 0 for kind in (SPARSE_KERNEL, DENSIFY, DEQUANTIZE, DENSE)}
        for t in self.tensors:
            counts[t.runs] += 1
        return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no weights"

    def to_dict(self) -> dict:
        """Every fact of the table (TFLite's tensor names too) as plain data (for JSON)."""
        return {**dataclasses.asdict(self), "summary": self.summary()}

    def to_markdown(self) -> str:
        """The tensors by Keras layer as a markdown table, then the file sizes."""
        lines = [
            "| layer | op | shape | dtype | stored | block | runs |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in self.tensors:
            block = "x".join(map(str, t.block_shape)) if t.block_shape else "-"
            lines.append(
                f"| {t.layer or t.name} | {t.op} | {list(t.shape)} | {t.dtype} | "
                f"{'sparse' if t.sparse else 'dense'} | {block} | {t.runs} |"
            )
        lines.append("")
        lines.append(
            f"file: {self.file_bytes:,} B, gzip: {self.gzip_bytes:,} B; "
            f"weights: {self.summary()}"
        )
        if self.shaped_for_xnnpack_sparse:
            lines.append(self.sparse_inference.summary())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def inspect(tflite_bytes_or_path: bytes | str | os.PathLike) -> Inspection:
    """Reports how each weight tensor of a TFLite model is stored and run.

    Args:
        tflite_bytes_or_path: TFLite flatbuffer bytes or a path to a .tflite file.

    Returns:
        An `Inspection`; `print` it for a table.

    Example:
    from tflite_export import convert, inspect
    report = inspect(convert(pruned_model))
    [t.runs for t in report.tensors]
    ['sparse kernel', 'dense']
    """
    content = read_model(tflite_bytes_or_path)
    # Built-in kernels only: the default delegate may refuse some sparse models.
    interpreter = load_interpreter(content, xnnpack=False).interpreter
    ops = _compat.ops_details(interpreter)
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    consumers = _consumers(ops)
    produced = {int(i) for op in ops for i in op["outputs"]}
    inputs = {d["index"] for d in interpreter.get_input_details()}
    outputs = {d["index"] for d in interpreter.get_output_details()}
    found = []  # (index of the op using the weight, WeightTensor)
    for index, detail in details.items():
        if index in produced or index in inputs or len(detail["shape"]) < 2:
            continue
        path, feeding = _follow(index, consumers)
        if not path or path[-1]["op_name"] not in WEIGHT_OPS:
            continue
        read_sparse = bool(details[feeding].get("sparsity_parameters"))
        tensor = _describe(detail, [op["op_name"] for op in path], read_sparse)
        if not tensor.layer:  # a sparse weight may be named after its op's output instead
            tensor = dataclasses.replace(tensor, layer=_layer_of_output(path[-1], details,
                                                                       outputs))
        found.append((path[-1]["index"], tensor))
    tensors = [tensor for _, tensor in sorted(found, key=lambda item: item[0])]
    return Inspection(
        tensors=tuple(tensors),
        ops=tuple(op["op_name"] for op in ops),
        file_bytes=len(content),
        gzip_bytes=len(gzip.compress(content, compresslevel=9)),
        sparse_inference=sparse_inference(content),
    )


def _consumers(ops: list[dict]) -> dict[int, dict]:
    """Maps a tensor index to the first op reading it."""
    result: dict[int, dict] = {}
    for op in ops:
        for i in op["inputs"]:
            result.setdefault(int(i), op)
    return result


def _follow(index: int, consumers: dict) -> tuple[list[dict], int]:
    """Ops from a weight to the op using it (through DENSIFY/DEQUANTIZE), and
    the index of the tensor that op really reads."""
    path = []
    while index in consumers:
        op = consumers[index]
        path.append(op)
        if op["op_name"] not in _PASS_THROUGH or len(op["outputs"]) == 0:
            break
        index = int(op["outputs"][0])
    return path, index


def _describe(detail: dict, path: list[str], read_sparse: bool) -> WeightTensor:
    sparsity = detail.get("sparsity_parameters") or {}
    sparse = bool(sparsity)
    if not sparse:
        runs = DENSE
    elif read_sparse:
        runs = SPARSE_KERNEL
    else:
        runs = path[0]  # the op that expands it to dense: DENSIFY or DEQUANTIZE
    shape = tuple(int(s) for s in detail["shape"])
    return WeightTensor(
        name=detail["name"],
        shape=shape,
        dtype=np.dtype(detail["dtype"]).name,
        op=path[-1],
        sparse=sparse,
        block_shape=_block_shape(sparsity, len(shape)) if sparse else None,
        runs=runs,
        layer=keras_layer(detail["name"], path[-1]),
    )


def _layer_of_output(op: dict, details: dict, model_outputs: set) -> str:
    """The layer named by what `op` outputs; "(model output)" when that is the model's
    output, which the converter renames after the serving signature."""
    output = int(op["outputs"][0]) if len(op["outputs"]) else -1
    if output in model_outputs:
        return OUTPUT_LAYER
    return keras_layer(details[output]["name"], op["op_name"]) if output in details else ""


def keras_layer(tensor_name: str, op: str) -> str:
    """The Keras layer a weight tensor comes from, read from its TFLite name.

    The converter names a weight after the TensorFlow ops it was folded from,
    `model_1/layer_1/MatMul`, several joined by `;` when it fused them (a convolution
    with the BatchNormalization after it); each scope carries a `_N` suffix since it was
    entered again when the model was traced. The part whose op makes `op`'s weight is
    read, and the layer path is the scopes between the model's and the op's, suffixes
    dropped.

    Example:

    >>> keras_layer("sequential_1_1/dense_3_1/MatMul", "FULLY_CONNECTED")
    'dense_3'
    >>> keras_layer("net_1/bn_1/batchnorm/mul_1;net_1/dw_1/depthwise", "DEPTHWISE_CONV_2D")
    'dw'
    >>> keras_layer("functional_1/block_1/conv_1/convolution", "CONV_2D")
    'block/conv'
    """
    parts = [p.split("/") for p in tensor_name.split(";") if "/" in p]
    if not parts:
        return ""
    wanted = _WEIGHT_OP_NAMES.get(op, ())
    chosen = next((p for p in parts if p[-1] in wanted),
                  next((p for p in parts if any(w in p for w in wanted)), parts[0]))
    layers = []
    for scope in chosen[1:-1]:  # the model's scope first, the op last
        match = _REENTERED.match(scope)
        if match is None:
            break  # an op's own scope (batchnorm, einsum): the layer path has ended
        layers.append(match.group(1))
    return "/".join(layers)


def _block_shape(sparsity: dict, rank: int) -> tuple[int, ...]:
    """Block size per original dimension, from the block dimensions' metadata."""
    block = [1] * rank
    block_dims = sparsity.get("dim_metadata", [])[rank:]
    for original_dim, meta in zip(sparsity.get("block_map", []), block_dims):
        block[int(original_dim)] = int(meta["dense_size"])
    return tuple(block)
