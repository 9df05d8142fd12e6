"""TFMOT's pruning policies: which layers `prune_low_magnitude` wraps in a model."""

from __future__ import annotations

import abc

import keras

from kerasprune import _compat
from kerasprune.core.prune_wrapper import PruneWrapper

layers = keras.layers


class PruningPolicy(abc.ABC):
    """Decides per layer whether to wrap it, and checks the model first."""

    @abc.abstractmethod
    def allow_pruning(self, layer: keras.layers.Layer) -> bool:
        """Whether `prune_low_magnitude` should wrap `layer`."""

    @abc.abstractmethod
    def ensure_model_supports_pruning(self, model: keras.Model) -> None:
        """Raise `ValueError` if the model does not suit this policy."""


class PruneForLatencyOnXNNPack(PruningPolicy):
    """Prune only the 1x1 convolutions of a model XNNPACK can run sparse.

    The model must be a Functional (or Sequential) network, nested models included, whose
    every input branch starts with a 3x3 stride-2 `Conv2D` on 3 input channels after
    `ZeroPadding2D(1)`, whose every output branch ends in `GlobalAveragePooling2D`, and
    which holds in between only what XNNPACK's sparse inference supports (TFMOT's rule,
    after "Fast Sparse ConvNets"): 1x1 convolutions, some depthwise convolutions,
    batch normalization, the usual activations, `x + y`, `x - y`, `x * y` and identities.
    As measured on x86 with AVX, XNNPACK's sparse path does not engage there; it helps on
    ARM phones.

    Example:

    >>> import keras
    >>> policy = PruneForLatencyOnXNNPack()
    >>> policy.allow_pruning(keras.layers.Conv2D(8, 1)), policy.allow_pruning(keras.layers.Dense(8))
    (True, False)
    """

    def allow_pruning(self, layer):
        return isinstance(layer, layers.Conv2D) and tuple(layer.kernel_size) == (1, 1)

    def ensure_model_supports_pruning(self, model):
        if not (isinstance(model, keras.Sequential) or _compat.is_functional(model)):
            raise ValueError("Subclassed models are not supported currently.")
        if not model.built or _compat.functional_graph(model) is None:
            raise ValueError("Unbuilt models are not supported currently.")
        graph = _CallGraph(model)
        starts = _search(graph.inputs, _is_stem(graph), graph.consumers)
        if not starts:
            raise ValueError(
                "Could not find `Conv2D 3x3` layer with stride 2x2, `input filters == 3` and "
                "`VALID` padding and preceding `ZeroPadding2D` with `padding == 1` in all "
                "input branches of the model"
            )
        ends = _search(graph.outputs, lambda c: isinstance(c.layer, layers.GlobalAveragePooling2D),
                       graph.producers)
        if not ends:
            raise ValueError(
                "Could not find a `GlobalAveragePooling2D` layer in all output branches")

        def check(call):
            if call not in ends and not _supported(call, graph):
                raise ValueError(
                    f"Layer {type(call.layer).__name__} is not supported for the "
                    f"{type(self).__name__} pruning policy"
                )
            return call in ends

        _search([c for s in starts for c in graph.consumers(s)], check, graph.consumers)


class _Call:
    """One call of an operation in the model's graph (a wrapper is looked through)."""

    def __init__(self, operation, inputs: list[int], outputs: list[int]):
        self.operation = operation
        self.layer = operation.layer if isinstance(operation, PruneWrapper) else operation
        self.inputs, self.outputs = inputs, outputs


class _CallGraph:
    """The calls of a Functional or Sequential model, nested models opened in place."""

    def __init__(self, model):
        graph = _compat.functional_graph(model)
        self._alias: dict[int, int] = {}
        self.inputs = [_Call(_compat.producer_of(t), [], [id(t)]) for t in graph.inputs]
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
                self.calls.append(_Call(operation, [self._key(t) for t in node.input_tensors],
                                        [id(t) for t in node.output_tensors]))
                continue
            for inner_input, outer in zip(inner.inputs, node.input_tensors):
                self._alias[id(inner_input)] = self._key(outer)
            self._open(inner)
            for outer, inner_output in zip(node.output_tensors, inner.outputs):
                self._alias[id(outer)] = self._key(inner_output)

    def producers(self, call: _Call) -> list[_Call]:
        return [self._made[k] for k in call.inputs if k in self._made]

    def consumers(self, call: _Call) -> list[_Call]:
        return [c for k in call.outputs for c in self._used.get(k, [])]


def _search(sources, stop, step) -> list:
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


def _is_stem(graph: _CallGraph):
    def stem(call) -> bool:
        layer = call.layer
        if not isinstance(layer, layers.Conv2D) or not layer.built:
            return False
        producers = graph.producers(call)
        return (tuple(layer.kernel.shape[:3]) == (3, 3, 3) and tuple(layer.strides) == (2, 2)
                and layer.padding == "valid" and len(producers) == 1
                and isinstance(producers[0].layer, layers.ZeroPadding2D)
                and _padding(producers[0].layer) == ((1, 1), (1, 1)))

    return stem


def _padding(layer) -> tuple:
    return tuple(tuple(int(p) for p in side) for side in layer.padding)


def _supported(call: _Call, graph: _CallGraph) -> bool:
    """XNNPACK's sparse-inference subgraph rule, call by call (TFMOT's list)."""
    layer = call.layer
    if not isinstance(layer, keras.layers.Layer):  # `x + y` and friends on Keras tensors
        return type(layer).__name__ in ("Add", "Subtract", "Multiply")
    if isinstance(layer, (layers.Add, layers.Multiply, layers.ZeroPadding2D, layers.ReLU,
                          layers.LeakyReLU, layers.ELU, layers.Dropout, layers.Identity)):
        return True
    if isinstance(layer, layers.DepthwiseConv2D):
        return _depthwise_supported(layer, graph.producers(call))
    if isinstance(layer, layers.Conv2D):
        return (layer.groups == 1 and tuple(layer.dilation_rate) == (1, 1)
                and tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) == (1, 1))
    if isinstance(layer, layers.GlobalAveragePooling2D):
        return bool(layer.keepdims)
    if isinstance(layer, layers.BatchNormalization):
        return layer.axis in (3, -1, [3], [-1])
    if isinstance(layer, layers.UpSampling2D):
        return layer.interpolation == "bilinear"
    if isinstance(layer, layers.Activation):
        name = keras.activations.serialize(layer.activation)
        name = name if isinstance(name, str) else name.get("config", name)
        return name in ("relu", "relu6", "leaky_relu", "elu", "sigmoid")
    return False


def _depthwise_supported(layer, producers: list[_Call]) -> bool:
    padded = (producers[0].layer if len(producers) == 1
              and isinstance(producers[0].layer, layers.ZeroPadding2D) else None)
    kernel, strides = tuple(layer.kernel_size), tuple(layer.strides)
    pad = {(3, 3): ((1, 1), (1, 1)), (5, 5): ((2, 2), (2, 2))}.get(kernel)
    same = kernel in ((3, 3), (5, 5)) and strides == (1, 1) and layer.padding == "same"
    valid = (pad is not None and strides in ((1, 1), (2, 2)) and layer.padding == "valid"
             and padded is not None and _padding(padded) == pad)
    return layer.depth_multiplier == 1 and tuple(layer.dilation_rate) == (1, 1) and (same or valid)
