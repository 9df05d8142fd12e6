"""TFMOT's pruning policies: which layers `prune_low_magnitude` wraps in a model."""

from __future__ import annotations

import abc

import keras

from kerasprune import _compat
from kerasprune.core import xnnpack_sparse as xnnpack


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
    The conditions are kerasprune's (`kerasprune.core.xnnpack_sparse`) read with TFMOT's
    leniency; `kerasprune.prune(model, policy="xnnpack_sparse")` reads them as XNNPACK
    does. As measured on x86 with AVX, XNNPACK's sparse path does not engage there; it
    helps on ARM phones.

    Example:

    >>> import keras
    >>> policy = PruneForLatencyOnXNNPack()
    >>> policy.allow_pruning(keras.layers.Conv2D(8, 1)), policy.allow_pruning(keras.layers.Dense(8))
    (True, False)
    """

    def allow_pruning(self, layer):
        return xnnpack.is_pointwise(layer)

    def ensure_model_supports_pruning(self, model):
        if not (isinstance(model, keras.Sequential) or _compat.is_functional(model)):
            raise ValueError("Subclassed models are not supported currently.")
        if not model.built or _compat.functional_graph(model) is None:
            raise ValueError("Unbuilt models are not supported currently.")
        graph = xnnpack.CallGraph(model)
        starts = xnnpack.search(
            graph.inputs, lambda c: xnnpack.stem_problem(c, graph, tfmot=True) is None,
            graph.consumers)
        if not starts:
            raise ValueError(
                "Could not find `Conv2D 3x3` layer with stride 2x2, `input filters == 3` and "
                "`VALID` padding and preceding `ZeroPadding2D` with `padding == 1` in all "
                "input branches of the model"
            )
        ends = xnnpack.search(
            graph.outputs, lambda c: xnnpack.end_problem(c, tfmot=True) is None,
            graph.producers)
        if not ends:
            raise ValueError(
                "Could not find a `GlobalAveragePooling2D` layer in all output branches")

        def check(call):
            if call not in ends and xnnpack.layer_problem(call, graph, tfmot=True):
                raise ValueError(
                    f"Layer {type(call.layer).__name__} is not supported for the "
                    f"{type(self).__name__} pruning policy"
                )
            return call in ends

        xnnpack.search([c for s in starts for c in graph.consumers(s)], check, graph.consumers)
