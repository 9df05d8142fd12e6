"""Which subgraph of a TFLite file XNNPACK's sparse inference can run, read from the file alone.

XNNPACK runs 1x1 convolutions as sparse matrix products in NCHW layout (Elsen et al.
2020, "Fast Sparse ConvNets") on a subgraph that satisfies every condition of the
"Sparse Inference" section of its TFLite delegate's README, as XNNPACK's source
(`xnn_check_nchw_compatibility`, `xnn_subgraph_rewrite_for_nchw`) applies them:

- its weights are stored sparse (TFLite's delegate asks XNNPACK for sparse inference only
  when a weight it reads comes out of a DENSIFY op);
- it starts with a 3x3 stride-2 CONV_2D, no dilation, 3 input channels, padding 1 on each
  side (a PAD of 1 before a VALID convolution, which XNNPACK folds into it);
- it ends with a MEAN over the spatial axes (keep_dims) or a DEPTH_TO_SPACE;
- in between it holds only 1x1 CONV_2D (stride 1, no padding), DEPTHWISE_CONV_2D 3x3 or
  5x5 with stride 1 or 2 and padding 1 or 2 on each side, ADD and MUL of two 4D tensors (a
  constant one a scalar or a vector), RESIZE_BILINEAR, spatial MEAN and the unary ops,
  computing in float32, with fused activations the delegate takes (none, RELU, RELU6,
  RELU_N1_TO_1), and no value inside it is read from or by an op outside it;
- at least 2/3 of the 1x1 CONV_2D weights across it are zeros (XNNPACK counts them).

XNNPACK enables this path on ARM and turns it off on x86 CPUs with AVX (dense is faster
there), so what can be checked on such a machine is the graph, not the speed.
`sparse_inference(content)` checks it; `inspect` includes it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tflite_export import _compat
from tflite_export.interpreter import read_model

UNARY_OPS = ("ABS", "CEIL", "ELU", "FLOOR", "HARD_SWISH", "LEAKY_RELU", "LOGISTIC", "NEG",
             "RELU", "RELU6", "RELU_N1_TO_1", "ROUND", "SQUARE")
FUSED_ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6")
ZEROS_NEEDED = 2 / 3
# The ops that unpack a constant weight once, before the graph runs.
_UNPACKING = ("DENSIFY", "DEQUANTIZE")

CONDITIONS = {
    "stored sparse": "weights stored sparse (read through DENSIFY)",
    "stem": "starts with a 3x3 stride-2 CONV_2D, 3 input channels, padding 1 on each side",
    "end": "ends with a spatial MEAN (keep_dims) or DEPTH_TO_SPACE",
    "ops": "in between only 1x1 CONV_2D, 3x3/5x5 DEPTHWISE_CONV_2D, ADD/MUL of 4D tensors, "
           "RESIZE_BILINEAR, MEAN and unary ops, in float32",
    "closed": "no value inside is read from or by an op outside",
    "zeros": "at least 2/3 of the 1x1 CONV_2D weights are zeros",
}


@dataclasses.dataclass(frozen=True)
class Condition:
    """One condition of XNNPACK's sparse inference, checked on one subgraph.

    Attributes:
        name: its key in `CONDITIONS` ("stem", "end", "ops", "closed", "zeros",
            "stored sparse").
        ok: whether the subgraph satisfies it.
        detail: what was found, naming the op (and its Keras layer) that breaks it.
    """

    name: str
    ok: bool
    detail: str


@dataclasses.dataclass(frozen=True)
class SparseSubgraph:
    """The subgraph that starts at one model input's first convolution.

    Attributes:
        ops: indices of the ops inside, in execution order (folded PAD and the
            unpacking DENSIFY/DEQUANTIZE left out).
        conditions: every condition, in `CONDITIONS` order.
        zeros: the fraction of zeros over its 1x1 CONV_2D weights.
    """

    ops: tuple[int, ...]
    conditions: tuple[Condition, ...]
    zeros: float

    @property
    def ok(self) -> bool:
        """True when every condition holds."""
        return all(c.ok for c in self.conditions)

    def condition(self, name: str) -> Condition:
        return next(c for c in self.conditions if c.name == name)


@dataclasses.dataclass(frozen=True)
class SparseInference:
    """Result of `sparse_inference`: one `SparseSubgraph` per model input.

    Attributes:
        subgraphs: the candidate subgraphs.
    """

    subgraphs: tuple[SparseSubgraph, ...]

    @property
    def ready(self) -> bool:
        """True when some subgraph satisfies every condition."""
        return any(s.ok for s in self.subgraphs)

    def summary(self) -> str:
        """One line: ready or the first broken condition."""
        for s in self.subgraphs:
            if s.ok:
                return (f"XNNPACK sparse inference: ready ({len(s.ops)} ops, 1x1 weights "
                        f"{s.zeros:.0%} zeros; the path runs on ARM, XNNPACK turns it off "
                        "on x86 with AVX)")
        broken = [c for s in self.subgraphs for c in s.conditions if not c.ok]
        first = broken[0] if broken else None
        return ("XNNPACK sparse inference: not ready" +
                (f": {first.name}: {first.detail}" if first else ": no model input"))

    def to_markdown(self) -> str:
        lines = []
        for number, s in enumerate(self.subgraphs):
            lines += [f"subgraph {number}: {'ready' if s.ok else 'not ready'}", "",
                      "| condition | holds | found |", "|---|---|---|"]
            lines += [f"| {CONDITIONS[c.name]} | {'yes' if c.ok else 'NO'} | {c.detail} |"
                      for c in s.conditions]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def sparse_inference(tflite_bytes_or_path) -> SparseInference:
    """Check, from the file alone, which subgraph XNNPACK's sparse inference can run.

    Args:
        tflite_bytes_or_path: TFLite flatbuffer bytes or a path to a .tflite file.

    Returns:
        A `SparseInference`: per model input, the subgraph from its first convolution and
        each condition with what was found.

    Example:
    report = sparse_inference(tflite_export.convert(pruned))
    report.ready, [c.name for c in report.subgraphs[0].conditions if not c.ok]
    (True, [])
    """
    graph = _Graph(read_model(tflite_bytes_or_path))
    return SparseInference(tuple(_subgraph(graph, t) for t in graph.inputs))


class _Graph:
    """A TFLite graph as XNNPACK's delegate sees it: unpacked weights are constants, and
    a zero PAD before a VALID convolution is folded into that convolution."""

    def __init__(self, content: bytes):
        model, schema = _compat.flatbuffer_model(content)
        graph = model.subgraphs[0]
        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self._activation = {v: k for k, v in vars(schema.ActivationFunctionType).items()
                            if not k.startswith("_")}
        self.tensors, self.buffers = graph.tensors, model.buffers
        self.inputs, self.outputs = list(graph.inputs), set(graph.outputs)
        self.ops = [(names[max(model.operatorCodes[op.opcodeIndex].builtinCode,
                                model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)],
                     op) for op in graph.operators]
        self.sparse: set[int] = set()  # unpacked tensors stored sparse
        self.constant = {i for i, t in enumerate(self.tensors) if self._data(i) is not None}
        self.source: dict[int, int] = {}  # unpacked tensor -> the stored one
        for name, op in self.ops:
            if name in _UNPACKING and op.inputs[0] in self.constant:
                self.constant.add(op.outputs[0])
                self.source[op.outputs[0]] = self.source.get(op.inputs[0], op.inputs[0])
                if name == "DENSIFY" or op.inputs[0] in self.sparse:
                    self.sparse.add(op.outputs[0])
        self.padding: dict[int, tuple] = {}  # op index -> (top, bottom, left, right) folded in
        self.skipped = {i for i, (name, op) in enumerate(self.ops)
                        if name in _UNPACKING and op.outputs[0] in self.constant}
        self.reads = self._fold_pads()
        self.producer = {o: i for i, (_, op) in enumerate(self.ops) if i not in self.skipped
                         for o in op.outputs}
        self.consumers: dict[int, list[int]] = {}
        for i in range(len(self.ops)):
            if i not in self.skipped:
                for t in self.reads[i]:
                    self.consumers.setdefault(t, []).append(i)

    def _data(self, index: int):
        tensor = self.tensors[index]
        data = self.buffers[tensor.buffer].data if tensor.buffer < len(self.buffers) else None
        return data if data is not None and len(data) else None

    def _fold_pads(self) -> dict[int, list[int]]:
        """The tensors each op reads, a folded PAD's input in place of its output."""
        reads = {i: [t for t in op.inputs if t >= 0] for i, (_, op) in enumerate(self.ops)}
        users: dict[int, list[int]] = {}
        for i, tensors in reads.items():
            for t in tensors:
                users.setdefault(t, []).append(i)
        for i, (name, op) in enumerate(self.ops):
            pads = self._spatial_zero_pads(name, op)
            following = users.get(op.outputs[0], [])
            if pads is None or len(following) != 1 or op.outputs[0] in self.outputs:
                continue
            user_name, user = self.ops[following[0]]
            options = user.builtinOptions
            if user_name in ("CONV_2D", "DEPTHWISE_CONV_2D") and options.padding == 1:
                self.skipped.add(i)
                self.padding[following[0]] = pads
                reads[following[0]][0] = op.inputs[0]
        return reads

    def _spatial_zero_pads(self, name: str, op) -> tuple | None:
        if name not in ("PAD", "PADV2") or op.inputs[1] not in self.constant:
            return None
        if name == "PADV2" and np.any(self.values(op.inputs[2]) != 0):
            return None
        pads = self.values(op.inputs[1]).reshape(-1, 2)
        if pads.shape[0] != 4 or np.any(pads[[0, 3]] != 0):
            return None
        return int(pads[1, 0]), int(pads[1, 1]), int(pads[2, 0]), int(pads[2, 1])

    def values(self, index: int) -> np.ndarray:
        """A constant tensor's stored values (a sparse one's nonzero entries)."""
        index = self.source.get(index, index)
        tensor = self.tensors[index]
        dtype = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64, 9: np.int8}.get(
            tensor.type, np.uint8)
        return np.frombuffer(np.asarray(self._data(index), np.uint8).tobytes(), dtype=dtype)

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(s) for s in self.tensors[index].shape)

    def zeros(self, index: int) -> tuple[int, int]:
        """(zeros, size) of a constant weight, from its stored values."""
        size = int(np.prod(self.shape(index)))
        return size - int(np.count_nonzero(self.values(index))), size

    def name(self, index: int) -> str:
        return self.ops[index][0]

    def activation(self, op) -> str:
        return self._activation.get(getattr(op.builtinOptions, "fusedActivationFunction", 0),
                                    "NONE")

    def describe(self, index: int) -> str:
        """`"op 7 CONV_2D (layer 'expand')"`, the layer read from the weight's name."""
        from tflite_export.inspection import keras_layer

        name, op = self.ops[index]
        weighted = name in ("CONV_2D", "DEPTHWISE_CONV_2D")
        named = [t for t in op.inputs[1:2] if t >= 0 and weighted] + list(op.outputs)
        layer = next((keras_layer(_text(self.tensors[t].name), name) for t in named
                      if keras_layer(_text(self.tensors[t].name), name)), "")
        return f"op {index} {name}" + (f" (layer '{layer}')" if layer else "")


def _text(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


def _subgraph(graph: _Graph, input_tensor: int) -> SparseSubgraph:
    stem = _first_convolution(graph, input_tensor)
    problem = ("no convolution follows the input" if stem is None
               else _stem_problem(graph, stem))
    conditions = {"stem": Condition("stem", problem is None, problem or graph.describe(stem))}
    inside, ends, broken = _walk(graph, stem) if stem is not None else ([], [], [])
    conditions["end"] = Condition(
        "end", bool(ends) and not any(kind == "end" for kind, _ in broken),
        _first(broken, "end") or ", ".join(graph.describe(e) for e in ends) or "none")
    conditions["ops"] = Condition("ops", not _first(broken, "ops"),
                                  _first(broken, "ops") or f"{len(inside)} ops")
    outside = _first(broken, "closed") or _outside_reads(graph, inside + ends, stem)
    conditions["closed"] = Condition("closed", not outside, outside or "yes")
    pointwise = [i for i in inside if _is_pointwise(graph, i)]
    zeros, size = map(sum, zip(*[graph.zeros(graph.ops[i][1].inputs[1]) for i in pointwise]
                               or [(0, 0)]))
    enough = size > 0 and zeros * 3 > size * 2
    conditions["zeros"] = Condition(
        "zeros", enough, f"{zeros:,} of {size:,} ({zeros / max(size, 1):.1%}) in "
        f"{len(pointwise)} 1x1 CONV_2D" if size else "no 1x1 CONV_2D inside")
    weights = [t for i in inside + ([stem] if stem is not None else [])
               for t in graph.ops[i][1].inputs[1:2] if t in graph.constant]
    stored = [t for t in weights if t in graph.sparse]
    conditions["stored sparse"] = Condition(
        "stored sparse", bool(stored), f"{len(stored)} of {len(weights)} weights")
    ordered = tuple(conditions[name] for name in CONDITIONS)
    return SparseSubgraph(tuple(sorted(inside + ends)), ordered, zeros / max(size, 1))


def _first(broken: list[tuple[str, str]], kind: str) -> str:
    return next((text for k, text in broken if k == kind), "")


def _first_convolution(graph: _Graph, tensor: int) -> int | None:
    """The first convolution (or other weighted op) reached from a model input."""
    seen, frontier = set(), [tensor]
    while frontier:
        for i in graph.consumers.get(frontier.pop(0), []):
            if graph.name(i) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                 "TRANSPOSE_CONV"):
                return i
            if i not in seen:
                seen.add(i)
                frontier += list(graph.ops[i][1].outputs)
    return None


def _padding(graph: _Graph, index: int, kernel: tuple[int, int], strides: tuple[int, int]):
    """(top, bottom, left, right) padding of a convolution; None for TensorFlow SAME
    padding XNNPACK cannot make explicit (any stride other than 1)."""
    options = graph.ops[index][1].builtinOptions
    if options.padding == 1:  # VALID, maybe after a folded PAD
        return graph.padding.get(index, (0, 0, 0, 0))
    if strides != (1, 1):
        return None
    (kh, kw) = kernel
    return (kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2


def _pads_text(pads) -> str:
    if pads is None:
        return "SAME at stride 2 (XNNPACK takes TensorFlow SAME padding at stride 1 only)"
    return f"{pads} (top, bottom, left, right)"


def _geometry(graph: _Graph, index: int):
    """(kernel, strides, dilation, input channels) of a convolution op."""
    op = graph.ops[index][1]
    options, filters = op.builtinOptions, graph.shape(op.inputs[1])
    return ((filters[1], filters[2]), (options.strideH, options.strideW),
            (options.dilationHFactor, options.dilationWFactor), filters[3])


def _stem_problem(graph: _Graph, index: int) -> str | None:
    if graph.name(index) != "CONV_2D":
        return f"{graph.describe(index)} is not a CONV_2D"
    kernel, strides, dilation, channels = _geometry(graph, index)
    if kernel != (3, 3) or channels != 3:
        return f"{graph.describe(index)}: kernel {kernel} on {channels} channels, not 3x3 on 3"
    if strides != (2, 2) or dilation != (1, 1):
        return f"{graph.describe(index)}: strides {strides}, dilation {dilation}"
    pads = _padding(graph, index, kernel, strides)
    if pads != (1, 1, 1, 1):
        return f"{graph.describe(index)}: padding {_pads_text(pads)}, not 1 on each side"
    return _float_problem(graph, index) or _activation_problem(graph, index)


def _end_problem(graph: _Graph, index: int) -> str | None:
    """None for an op that ends the subgraph; a reason for a MEAN that almost does."""
    name, op = graph.ops[index]
    if name == "DEPTH_TO_SPACE":
        return None
    if name != "MEAN":
        return "not an end"
    if len(graph.shape(op.inputs[0])) != 4 or op.inputs[1] not in graph.constant:
        return f"{graph.describe(index)}: not a MEAN of a 4D tensor"
    if sorted(graph.values(op.inputs[1]).tolist()) != [1, 2]:
        return f"{graph.describe(index)}: not over the spatial axes"
    if not op.builtinOptions.keepDims:
        return f"{graph.describe(index)}: keep_dims is False (XNNPACK's MEAN needs it)"
    return None


def _walk(graph: _Graph, stem: int):
    """The ops from the stem to the ends: (inside, ends, [(condition, what breaks it)]).

    A path may leave the subgraph only right after a MEAN or DEPTH_TO_SPACE (XNNPACK's
    NCHW-to-NHWC ops); a MEAN whose output stays inside (a squeeze-and-excitation gate)
    is an op inside like the others.
    """
    inside, ends, broken, seen = [], [], [], {stem}
    frontier = [stem]
    while frontier:
        producer = frontier.pop(0)
        can_end = producer != stem and _end_problem(graph, producer) is None
        for tensor in graph.ops[producer][1].outputs:
            users = graph.consumers.get(tensor, [])
            if can_end:
                staying = [u for u in users if _op_problem(graph, u) is None]
                if graph.name(producer) == "DEPTH_TO_SPACE" or not staying:
                    ends.append(producer)
                    continue
                if len(staying) != len(users) or tensor in graph.outputs:
                    broken.append(("closed", f"{graph.describe(producer)} feeds ops both "
                                             "inside and outside the subgraph"))
            elif tensor in graph.outputs:
                broken.append(("end", f"{graph.describe(producer)} reaches a model output "
                                      "without a MEAN or DEPTH_TO_SPACE before it"))
            for user in users:
                if user in seen:
                    continue
                seen.add(user)
                problem = _end_problem(graph, user) and _op_problem(graph, user)
                if problem:
                    kind = "end" if graph.name(user) == "MEAN" else "ops"
                    broken.append((kind, problem))
                inside.append(user)
                frontier.append(user)
    ends = sorted(set(ends))
    return sorted(set(inside) - set(ends)), ends, broken


def _op_problem(graph: _Graph, index: int) -> str | None:
    """Why XNNPACK's sparse path cannot run op `index` (None if it can)."""
    name, op = graph.ops[index]
    what = graph.describe(index)
    if name == "CONV_2D":
        kernel, strides, dilation, _ = _geometry(graph, index)
        if kernel != (1, 1) or strides != (1, 1) or dilation != (1, 1):
            return f"{what}: kernel {kernel}, strides {strides}; inside, only 1x1 stride 1 runs"
        if _padding(graph, index, kernel, strides) != (0, 0, 0, 0):
            return f"{what}: a padded 1x1 convolution"
    elif name == "DEPTHWISE_CONV_2D":
        problem = _depthwise_problem(graph, index)
        if problem:
            return f"{what}: {problem}"
    elif name in ("ADD", "MUL"):
        problem = _binary_problem(graph, op)
        if problem:
            return f"{what}: {problem}"
    elif name == "MEAN":
        return _end_problem(graph, index)
    elif name == "RESIZE_BILINEAR":
        if min(graph.shape(op.inputs[0])[1:3] + graph.shape(op.outputs[0])[1:3]) <= 1:
            return f"{what}: spatial size 1"
    elif name in UNARY_OPS:
        if len(graph.shape(op.inputs[0])) != 4:
            return f"{what}: input is not 4D"
    else:
        return f"{what}: XNNPACK's sparse path has no {name}"
    return _float_problem(graph, index) or _activation_problem(graph, index)


def _depthwise_problem(graph: _Graph, index: int) -> str | None:
    op = graph.ops[index][1]
    kernel, strides, dilation, _ = _geometry(graph, index)
    if graph.shape(op.inputs[0])[-1] != graph.shape(op.outputs[0])[-1]:
        return "depth multiplier other than 1"
    if kernel not in ((3, 3), (5, 5)) or dilation != (1, 1):
        return f"kernel {kernel}, dilation {dilation}; only 3x3 and 5x5 run"
    if strides not in ((1, 1), (2, 2)):
        return f"strides {strides}; only 1 and 2 run"
    pad = (kernel[0] - 1) // 2
    pads = _padding(graph, index, kernel, strides)
    if pads != (pad,) * 4:
        return f"padding {_pads_text(pads)}, not {pad} on each side"
    return None


def _binary_problem(graph: _Graph, op) -> str | None:
    shapes = [graph.shape(t) for t in op.inputs]
    if any(len(s) != 4 for s in shapes):
        return f"inputs of shapes {shapes}, not both 4D"
    for t, shape in zip(op.inputs, shapes):
        if t in graph.constant and sum(d != 1 for d in shape) > 1:
            return f"a constant of shape {shape}, neither a scalar nor a vector"
    return None


def _float_problem(graph: _Graph, index: int) -> str | None:
    outputs = graph.ops[index][1].outputs
    if any(graph.tensors[t].type != 0 for t in outputs):
        return f"{graph.describe(index)}: computes in another type than float32"
    return None


def _activation_problem(graph: _Graph, index: int) -> str | None:
    activation = graph.activation(graph.ops[index][1])
    if activation not in FUSED_ACTIVATIONS:
        return f"{graph.describe(index)}: fused {activation}, which XNNPACK does not take"
    return None


def _is_pointwise(graph: _Graph, index: int) -> bool:
    return graph.name(index) == "CONV_2D" and _geometry(graph, index)[0] == (1, 1)


def _outside_reads(graph: _Graph, inside: list[int], stem: int | None) -> str:
    """The first value an op inside reads from an op outside (weights excepted)."""
    known = set(inside) | ({stem} if stem is not None else set())
    for i in inside:
        for t in graph.reads[i]:
            producer = graph.producer.get(t)
            if t not in graph.constant and producer not in known:
                source = graph.describe(producer) if producer is not None else "a model input"
                return f"{graph.describe(i)} reads {source}, outside the subgraph"
    return ""
