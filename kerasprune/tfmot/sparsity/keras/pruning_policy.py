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

    The model must be a Functional (or Sequential) network that starts with a 3x3
    stride-2 `Conv2D` on 3 input channels after `ZeroPadding2D(1)`, ends in
    `GlobalAveragePooling2D(keepdims=True)`, and holds in between only the layers
    XNNPACK's sparse inference supports (TFMOT's rule, after "Fast Sparse ConvNets").
    As measured on x86 with AVX, XNNPACK's sparse path does not engage there; it helps
    on ARM phones.

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
            raise ValueError(
                "PruneForLatencyOnXNNPack needs a Sequential or Functional model. "
                f"Received: a model of type {type(model).__name__}"
            )
        graph = _compat.functional_graph(model)
        inputs = [_compat.producer_of(t) for t in graph.inputs]
        starts = _search(inputs, _is_stem, _consumers)
        if not starts:
            raise ValueError(
                "Could not find a `Conv2D` 3x3 with stride 2, 3 input channels and 'valid' "
                "padding after `ZeroPadding2D(1)` in every input branch of the model."
            )
        outputs = [_compat.producer_of(t) for t in graph.outputs]
        ends = _search(outputs, lambda l: isinstance(l, layers.GlobalAveragePooling2D),
                       _compat.inbound_producers)
        if not ends:
            raise ValueError("Could not find a `GlobalAveragePooling2D` in every output branch.")

        def check(layer):
            if layer not in ends and not _supported(layer):
                raise ValueError(
                    f"Layer '{layer.name}' ({type(layer).__name__}) is not supported by the "
                    "PruneForLatencyOnXNNPack pruning policy."
                )
            return layer in ends

        _search([c for s in starts for c in _consumers(s)], check, _consumers)


def _consumers(layer) -> list:
    return _compat.outbound_consumers(layer)


def _search(sources, stop, step) -> list:
    """Walk from `sources` with `step` until `stop`; the stopping layers, or [] at a dead end."""
    to_visit, seen, found = list(sources), {id(s) for s in sources}, []
    while to_visit:
        layer = to_visit.pop()
        if stop(layer):
            found.append(layer)
            continue
        following = step(layer)
        if not following:
            return []
        for other in following:
            if id(other) not in seen:
                seen.add(id(other))
                to_visit.append(other)
    return found


def _is_stem(layer) -> bool:
    if not isinstance(layer, layers.Conv2D) or not layer.built:
        return False
    producers = _compat.inbound_producers(layer)
    return (tuple(layer.kernel.shape[:3]) == (3, 3, 3) and tuple(layer.strides) == (2, 2)
            and layer.padding == "valid" and len(producers) == 1
            and isinstance(producers[0], layers.ZeroPadding2D)
            and _padding(producers[0]) == ((1, 1), (1, 1)))


def _padding(layer) -> tuple:
    return tuple(tuple(int(p) for p in side) for side in layer.padding)


def _supported(layer) -> bool:
    """XNNPACK's sparse-inference subgraph rule, layer by layer (TFMOT's list)."""
    if isinstance(layer, PruneWrapper):
        return _supported(layer.layer)
    if isinstance(layer, (layers.Add, layers.Multiply, layers.ZeroPadding2D, layers.ReLU,
                          layers.LeakyReLU, layers.ELU, layers.Dropout)):
        return True
    if isinstance(layer, layers.DepthwiseConv2D):
        return _depthwise_supported(layer)
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


def _depthwise_supported(layer) -> bool:
    producers = _compat.inbound_producers(layer)
    padded = (producers[0] if len(producers) == 1
              and isinstance(producers[0], layers.ZeroPadding2D) else None)
    kernel, strides = tuple(layer.kernel_size), tuple(layer.strides)
    pad = {(3, 3): ((1, 1), (1, 1)), (5, 5): ((2, 2), (2, 2))}.get(kernel)
    same = kernel in ((3, 3), (5, 5)) and strides == (1, 1) and layer.padding == "same"
    valid = (pad is not None and strides in ((1, 1), (2, 2)) and layer.padding == "valid"
             and padded is not None and _padding(padded) == pad)
    return layer.depth_multiplier == 1 and tuple(layer.dilation_rate) == (1, 1) and (same or valid)
