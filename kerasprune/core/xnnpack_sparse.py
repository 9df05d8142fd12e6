"""XNNPACK's sparse inference, read on a Keras graph: which layers it runs sparse, what breaks it.

XNNPACK, TFLite's default CPU delegate, runs 1x1 convolutions whose weights are at least
2/3 zeros as sparse matrix products in NCHW layout (Elsen et al. 2020, "Fast Sparse
ConvNets"), but only on a subgraph of one shape (the "Sparse Inference" section of its
README, and `xnn_subgraph_rewrite_for_nchw` in XNNPACK's source): it starts with a 3x3
stride-2 convolution of 3 input channels padded by 1 on each side, ends with a spatial
mean (`GlobalAveragePooling2D(keepdims=True)`), and holds in between only 1x1
convolutions, 3x3 or 5x5 depthwise convolutions padded by 1 or 2 on each side, additions
and multiplications of two feature maps, bilinear upsampling, spatial means and unary
activations; no value inside may be used outside it. XNNPACK enables that path on ARM and
turns it off on x86 CPUs with AVX, where dense is faster.

`check(model)` reads those conditions on a Functional or Sequential model before training
and returns the layers the path runs sparse (its 1x1 convolutions), or raises naming the
layer and the condition it breaks: `kerasprune.prune(model, policy="xnnpack_sparse")`
prunes exactly those. `kerasprune.tfmot`'s `PruneForLatencyOnXNNPack` reads the same
conditions with TFMOT's more lenient rules (`tfmot=True`: any `GlobalAveragePooling2D`
ends the subgraph, `x - y`, unfolded BatchNormalization and any ZeroPadding2D pass). The
converted file is checked against the same conditions by `tflite_export.inspect`.
"""

from __future__ import annotations

import keras

from kerasprune import _compat
from kerasprune.core.prune_wrapper import PruneWrapper

layers = keras.layers

#: The layer activations the converter turns into ops XNNPACK's sparse path runs
#: (fused RELU/RELU6, LOGISTIC, ELU, LEAKY_RELU, HARD_SWISH, LOGISTIC x MUL for swish).
SPARSE_ACTIVATIONS = ("linear", "relu", "relu6", "sigmoid", "elu", "leaky_relu",
                      "hard_silu", "hard_swish", "silu", "swish")
#: TFMOT's list of `Activation` layers (`PruneForLatencyOnXNNPack._check_layer_support`).
TFMOT_ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "sigmoid")
#: The padding each depthwise kernel needs on each side.
DEPTHWISE_PADDING = {(3, 3): 1, (5, 5): 2}
POLICY = "xnnpack_sparse"


class Call:
    """One call of an operation in the model's graph (a `PruneWrapper` is looked through)."""

    def __init__(self, operation, inputs: list[int], outputs: list[int],
                 input_shapes: tuple = ()):
        self.operation = operation
        self.layer = operation.layer if isinstance(operation, PruneWrapper) else operation
        self.inputs, self.outputs = inputs, outputs
        self.input_shapes = input_shapes

    @property
    def name(self) -> str:
        return getattr(self.layer, "name", type(self.layer).__name__)

    def describe(self) -> str:
        return f"'{self.name}' ({type(self.layer).__name__})"


class CallGraph:
    """The calls of a Functional or Sequential model, nested models opened in place."""

    def __init__(self, model: keras.Model):
        graph = _compat.functional_graph(model)
        self._alias: dict[int, int] = {}
        self.inputs = [Call(_compat.producer_of(t), [], [id(t)]) for t in graph.inputs]
        self.calls = list(self.inputs)
        self._open(graph)
        self._made = {k: c for c in self.calls for k in c.outputs}
        self._used: dict[int, list] = {}
        for call in self.calls:
            for key in call.inputs:
                self._used.setdefault(key, []).append(call)
        self.outputs = [self._made[self._key(t)] for t in graph.outputs]

    def _key(self, tensor) -> int:
        key = id(tensor)
        while key in self._alias:
            key = self._alias[key]
        return key

    def _open(self, graph) -> None:
        for node in _compat.graph_nodes(graph):
            operation = node.operation
            inner = (_compat.functional_graph(operation)
                     if isinstance(operation, keras.Model) else None)
            if inner is None:
                self.calls.append(Call(operation, [self._key(t) for t in node.input_tensors],
                                       [id(t) for t in node.output_tensors],
                                       tuple(tuple(t.shape) for t in node.input_tensors)))
                continue
            for inner_input, outer in zip(inner.inputs, node.input_tensors):
                self._alias[id(inner_input)] = self._key(outer)
            self._open(inner)
            for outer, inner_output in zip(node.output_tensors, inner.outputs):
                self._alias[id(outer)] = self._key(inner_output)

    def producers(self, call: Call) -> list[Call]:
        return [self._made[k] for k in call.inputs if k in self._made]

    def consumers(self, call: Call) -> list[Call]:
        return [c for k in call.outputs for c in self._used.get(k, [])]


def search(sources, stop, step) -> list:
    """Walk from `sources` with `step` until `stop`; the stopping calls, or [] at a dead end."""
    to_visit, seen, found = list(sources), {id(s) for s in sources}, []
    while to_visit:
        call = to_visit.pop()
        if stop(call):
            found.append(call)
            continue
        following = step(call)
        if not following:
            return []
        for other in following:
            if id(other) not in seen:
                seen.add(id(other))
                to_visit.append(other)
    return found


# -- the conditions, one function per part of the subgraph ------------------------------

def stem_problem(call: Call, graph: CallGraph, *, tfmot: bool = False) -> str | None:
    """Why `call` cannot start the sparse subgraph (None if it can): a 3x3 stride-2
    `Conv2D` on 3 channels, `padding="valid"` after its own `ZeroPadding2D(1)`."""
    layer = call.layer
    if not isinstance(layer, layers.Conv2D) or not layer.built:
        return "it is not a Conv2D"
    shape = tuple(layer.kernel.shape[:3])
    if shape != (3, 3, 3):
        return f"its kernel is {shape[:2]} on {shape[2]} input channels, not 3x3 on 3"
    if tuple(layer.strides) != (2, 2):
        return f"its strides are {tuple(layer.strides)}, not (2, 2)"
    if not tfmot and (tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1):
        return "it is dilated or grouped"
    if layer.padding != "valid":
        return (f"padding={layer.padding!r} with stride 2 (XNNPACK takes TensorFlow SAME "
                "padding at stride 1 only): use ZeroPadding2D(1) then padding='valid'")
    return _padding_problem(call, graph, 1, tfmot)


def end_problem(call: Call, *, tfmot: bool = False) -> str | None:
    """Why `call` cannot end the sparse subgraph (None if it can): a spatial mean
    keeping its dimensions, XNNPACK's MEAN (TFMOT takes any GlobalAveragePooling2D)."""
    layer = call.layer
    if not isinstance(layer, layers.GlobalAveragePooling2D):
        return "it is not a GlobalAveragePooling2D"
    if not tfmot and not layer.keepdims:
        return "keepdims=False: XNNPACK's MEAN needs keep_dims (GlobalAveragePooling2D(keepdims=True))"
    return None


def layer_problem(call: Call, graph: CallGraph, *, tfmot: bool = False) -> str | None:
    """Why XNNPACK's sparse path cannot run `call` inside the subgraph (None if it can)."""
    layer = call.layer
    if not isinstance(layer, keras.layers.Layer):  # `x + y` and friends on Keras tensors
        return _operation_problem(call, tfmot)
    if isinstance(layer, (layers.Dropout, layers.Identity)):
        return None
    if isinstance(layer, (layers.Add, layers.Multiply)):
        return None if tfmot or len(call.inputs) == 2 else "it does not join two feature maps"
    if isinstance(layer, layers.ZeroPadding2D):
        return None if tfmot else _padding_consumer_problem(call, graph)
    if isinstance(layer, (layers.ReLU, layers.LeakyReLU, layers.ELU)):
        return None if tfmot else _activation_layer_problem(layer)
    if isinstance(layer, layers.DepthwiseConv2D):
        return _depthwise_problem(call, graph, tfmot)
    if isinstance(layer, layers.Conv2D):
        return _pointwise_problem(layer, tfmot)
    if isinstance(layer, layers.GlobalAveragePooling2D):
        return None if layer.keepdims else "keepdims=False (XNNPACK's MEAN needs keep_dims)"
    if isinstance(layer, layers.BatchNormalization):
        return _normalization_problem(call, graph, tfmot)
    if isinstance(layer, layers.UpSampling2D):
        return None if layer.interpolation == "bilinear" else "interpolation is not bilinear"
    if isinstance(layer, layers.Activation):
        allowed = TFMOT_ACTIVATIONS if tfmot else SPARSE_ACTIVATIONS
        return _activation_problem(layer.activation, allowed)
    return "XNNPACK's sparse path has no such op"


def is_pointwise(layer: keras.layers.Layer) -> bool:
    """True for a 1x1 `Conv2D` (the layers TFMOT's policy prunes)."""
    return isinstance(layer, layers.Conv2D) and tuple(layer.kernel_size) == (1, 1)


def _operation_problem(call: Call, tfmot: bool) -> str | None:
    name = type(call.layer).__name__
    if name not in ("Add", "Multiply", "Subtract") or (name == "Subtract" and not tfmot):
        return f"XNNPACK's sparse path has no {name} op (only ADD and MUL)"
    return None if tfmot or len(call.inputs) == 2 else "one operand is a constant, not a 4D map"


def _activation_problem(activation, allowed: tuple[str, ...]) -> str | None:
    name = keras.activations.serialize(activation)
    name = name if isinstance(name, str) else name.get("config", name)
    return None if name in allowed else f"activation {name!r} is not one of {allowed}"


def _activation_layer_problem(layer) -> str | None:
    if isinstance(layer, layers.ReLU):
        plain = layer.threshold == 0 and layer.negative_slope == 0
        return None if plain and layer.max_value in (None, 6) else (
            "a ReLU with a threshold, a slope or a cap other than 6 is not one op")
    if isinstance(layer, layers.ELU) and layer.alpha != 1:
        return "ELU with alpha != 1 is not one op"
    return None


def _pointwise_problem(layer, tfmot: bool) -> str | None:
    if tuple(layer.kernel_size) != (1, 1):
        return f"a {tuple(layer.kernel_size)} convolution; inside, only 1x1 ones run"
    if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1):
        return "a 1x1 convolution with strides or dilation"
    if layer.groups != 1:
        return "a grouped 1x1 convolution"
    return None if tfmot else _activation_problem(layer.activation, SPARSE_ACTIVATIONS)


def _depthwise_problem(call: Call, graph: CallGraph, tfmot: bool) -> str | None:
    layer = call.layer
    kernel, strides = tuple(layer.kernel_size), tuple(layer.strides)
    if layer.depth_multiplier != 1 or tuple(layer.dilation_rate) != (1, 1):
        return "depth_multiplier != 1 or dilated"
    if kernel not in DEPTHWISE_PADDING:
        return f"kernel {kernel}: only 3x3 and 5x5 run"
    if strides not in ((1, 1), (2, 2)):
        return f"strides {strides}: only 1 and 2 run"
    if layer.padding == "same":
        if strides != (1, 1):
            return ("padding='same' with stride 2 (XNNPACK takes TensorFlow SAME padding at "
                    f"stride 1 only): use ZeroPadding2D({DEPTHWISE_PADDING[kernel]}) then "
                    "padding='valid'")
    else:
        problem = _padding_problem(call, graph, DEPTHWISE_PADDING[kernel], tfmot)
        if problem:
            return problem
    return None if tfmot else _activation_problem(layer.activation, SPARSE_ACTIVATIONS)


def _padding_problem(call: Call, graph: CallGraph, pad: int, tfmot: bool) -> str | None:
    """A 'valid' convolution needs its own ZeroPadding2D of `pad` on each side."""
    producers = graph.producers(call)
    padding = producers[0] if len(producers) == 1 else None
    if padding is None or not isinstance(padding.layer, layers.ZeroPadding2D):
        return f"padding='valid' without a ZeroPadding2D({pad}) before it"
    if _padding(padding.layer) != ((pad, pad), (pad, pad)):
        return f"its ZeroPadding2D pads {_padding(padding.layer)}, not {pad} on each side"
    if not tfmot and len(graph.consumers(padding)) != 1:
        return f"its ZeroPadding2D '{padding.name}' also feeds other layers"
    sizes = padding.input_shapes[0][1:3] if padding.input_shapes else ()
    if not tfmot and tuple(call.layer.strides) == (2, 2) and any(
            d is not None and d % 2 for d in sizes):
        return (f"its input is {sizes[0]}x{sizes[1]}, odd: there the converter folds the "
                "ZeroPadding2D into TensorFlow SAME padding, which XNNPACK does not take "
                "at stride 2 (use even sizes)")
    return None


def _padding_consumer_problem(call: Call, graph: CallGraph) -> str | None:
    """A ZeroPadding2D inside runs only folded into the depthwise conv it pads."""
    consumers = graph.consumers(call)
    fits = (len(consumers) == 1 and isinstance(consumers[0].layer, layers.DepthwiseConv2D)
            and consumers[0].layer.padding == "valid")
    return None if fits else ("a ZeroPadding2D runs only folded into the one depthwise "
                              "convolution (padding='valid') it feeds")


def _normalization_problem(call: Call, graph: CallGraph, tfmot: bool) -> str | None:
    """BatchNormalization runs only folded into the convolution before it (alone, it is
    a MUL by a 1D vector, which XNNPACK's sparse path does not run)."""
    if layer_axis(call.layer) not in (3, -1):
        return "normalizes another axis than the channels"
    if tfmot:
        return None
    producers = graph.producers(call)
    folded = (len(producers) == 1
              and isinstance(producers[0].layer, (layers.Conv2D, layers.DepthwiseConv2D))
              and len(graph.consumers(producers[0])) == 1)
    return None if folded else ("it does not follow a convolution alone, so the converter "
                                "cannot fold it (alone it is a MUL by a 1D vector)")


def layer_axis(layer) -> int | None:
    axis = layer.axis
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    return axis if isinstance(axis, int) else None


def _padding(layer) -> tuple:
    return tuple(tuple(int(p) for p in side) for side in layer.padding)


# -- the whole graph ----------------------------------------------------------------------

class XNNPackSparseError(ValueError):
    """A model breaks a condition of XNNPACK's sparse inference (the layer is named)."""


def check(model: keras.Model) -> list[keras.layers.Layer]:
    """The 1x1 convolutions XNNPACK's sparse path runs in `model`, after checking every
    condition of its subgraph.

    Raises:
        XNNPackSparseError: naming the layer and the condition it breaks.

    Example:

    >>> L = keras.layers
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = L.Conv2D(8, 3, strides=2, name="stem")(L.ZeroPadding2D(1)(inputs))
    >>> x = L.Conv2D(16, 1, activation="relu", name="expand")(x)
    >>> x = L.GlobalAveragePooling2D(keepdims=True)(x)
    >>> model = keras.Model(inputs, L.Dense(10, name="logits")(L.Flatten()(x)))
    >>> [layer.name for layer in check(model)]
    ['expand']
    """
    _check_model(model)
    graph = CallGraph(model)
    stems = [_stem_of(call, graph) for call in graph.inputs]
    ends = {id(_end_of(call, graph)) for call in graph.outputs}
    inside = _walk(stems, ends, graph)
    return list({id(c.layer): c.layer for c in inside if is_pointwise(c.layer)}.values())


def _check_model(model) -> None:
    if not (isinstance(model, keras.Sequential) or _compat.is_functional(model)):
        raise XNNPackSparseError(
            f"policy={POLICY!r} needs a Functional or Sequential model, whose graph can be "
            f"checked. Received: model '{model.name}' of type {type(model).__name__}")
    if not model.built or _compat.functional_graph(model) is None:
        raise XNNPackSparseError(
            f"policy={POLICY!r} needs a built model: call it on data or start it with "
            f"keras.Input. Received: model '{model.name}' (not built)")


def _fail(call: Call, role: str, problem: str) -> XNNPackSparseError:
    return XNNPackSparseError(
        f"Layer {call.describe()} breaks a condition of XNNPACK's sparse inference: as "
        f"{role}, {problem}. (Conditions: the 'Sparse Inference' section of XNNPACK's "
        f"README; see kerasprune.core.xnnpack_sparse.) Received: policy={POLICY!r}")


def _stem_of(input_call: Call, graph: CallGraph) -> Call:
    """The first convolution after a model input, which must start the subgraph."""
    found = search([input_call], lambda c: hasattr(c.layer, "kernel_size")
                   or isinstance(c.layer, layers.Dense), graph.consumers)
    if len(found) != 1:
        raise XNNPackSparseError(
            f"Input '{input_call.name}' reaches {len(found)} first layers with weights: "
            "XNNPACK's sparse subgraph starts with one 3x3 stride-2 Conv2D on 3 channels "
            f"after ZeroPadding2D(1). Received: policy={POLICY!r}")
    problem = stem_problem(found[0], graph)
    if problem:
        raise _fail(found[0], "the first convolution (the stem)", problem)
    return found[0]


def _end_of(output_call: Call, graph: CallGraph) -> Call:
    """The last GlobalAveragePooling2D before a model output, which must end the subgraph."""
    found = search([output_call], lambda c: isinstance(c.layer, layers.GlobalAveragePooling2D),
                   graph.producers)
    if not found:
        raise XNNPackSparseError(
            f"Output of {output_call.describe()} is not reached through a spatial mean: "
            "XNNPACK's sparse subgraph ends with GlobalAveragePooling2D(keepdims=True). "
            f"Received: policy={POLICY!r}")
    for end in found:
        problem = end_problem(end)
        if problem:
            raise _fail(end, "the end of the subgraph", problem)
    return found[0]


def _walk(stems: list[Call], ends: set[int], graph: CallGraph) -> list[Call]:
    """Every call from the stems to the ends, each checked; the calls inside."""
    inside: list[Call] = []

    def visit(call) -> bool:
        problem = layer_problem(call, graph) if id(call) not in ends else end_problem(call)
        if problem:
            raise _fail(call, "a layer inside the sparse subgraph", problem)
        inside.append(call)
        return id(call) in ends

    reached = search([c for s in stems for c in graph.consumers(s)], visit, graph.consumers)
    if not reached:
        raise XNNPackSparseError(
            "The layers after the stem reach a model output without passing a "
            "GlobalAveragePooling2D(keepdims=True), which must end XNNPACK's sparse "
            f"subgraph. Received: policy={POLICY!r}")
    return inside
