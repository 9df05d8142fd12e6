"""Structured surgery: rebuild a smaller dense model with pruned channels removed.

A channel (an output channel of a convolution, a unit of a Dense layer) whose kernel
slice is all zero carries an input-independent value: its bias, passed through the
batch normalization and activation that follow. `shrink` finds every such channel,
follows it through the graph (normalization, activations, pooling, padding, Flatten,
Reshape, Add/Concatenate groups, depthwise convolutions) and removes it everywhere at
once, folding its constant into the bias of the next Conv/Dense layer.

A channel is removed only when that is exact: it is constant in every tensor it
reaches, no model output contains it, and every layer that mixes it into other channels
can absorb its constant into a bias (always when the constant is 0; otherwise a Dense
layer, or a convolution with `padding="valid"` or a 1x1 kernel, since zero padding at the
borders would make the constant position-dependent). Layers the analysis does not know
keep all of their input channels, so the result always computes the same function.
Which channels go is `ChannelAnalysis`'s decision; how each layer is rebuilt is its
`LayerRule`'s.
"""

from __future__ import annotations

import warnings

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.model_walk import (
    all_layers, copy_model, fresh_copy, is_graph_model, prune_wrappers, wraps_pruned_layer)
from kerasprune.core.validation import check_model, check_verbose
from kerasprune.core.wrapping import strip
from kerasprune.structured.channel_analysis import (
    ChannelAnalysis,
    Decision,
    decide,
    graph_of,
    nested_graph,
    variables_by_name,
)


def shrink(model: keras.Model, *, verbose: int | str = "auto") -> keras.Model:
    """Return a smaller dense copy of `model` with its pruned channels physically removed.

    Works on Functional and Sequential models and on Functional subclasses (KerasHub
    backbones and tasks), plain or holding `PruneWrapper` layers (they are stripped
    first). Pruned channels are found from exactly-zero kernel slices (masks zero them).
    The copy computes the same outputs as `model` in inference mode (up to float
    rounding); `model` is not modified.

    Args:
        model: a `keras.Model` built from a graph of layers (Functional or Sequential, or
            a subclass of Functional).
        verbose: 1 shows Keras' progress bar over the analysis and each layer rebuilt, 0
            nothing; `"auto"` shows it when stdout is a terminal.

    Returns:
        A smaller copy with fewer filters/units where channels were pruned: a new
        Functional `keras.Model`, or for a Functional subclass an instance of its class
        (a KerasHub task keeps its preprocessor) whose smaller layers save and load with
        it. `kerasprune.sparsity_report(shrunk, baseline=model)` reports its multiply-
        accumulates per layer against `model`'s and the theoretical speed-up.

    Warns:
        UserWarning: when no channel can be removed (e.g. an unstructured pruned model):
            the copy then has the same size as `model`.

    Raises:
        TypeError: if `model` is not a `keras.Model`.
        ValueError: naming the model or layer when it cannot be rebuilt (subclassed
            models, layers called more than once, layers that cannot be re-created
            from their config, pruned layers inside a quantization wrapper: shrink
            before `quantize_model`).

    Example:

    >>> import keras
    >>> from kerasprune import shrink
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, "relu"),
    ...                           keras.layers.Dense(2)])
    >>> kernel, bias = model.layers[0].get_weights()
    >>> kernel[:, :2] = 0.0; bias[:2] = 0.0
    >>> model.layers[0].set_weights([kernel, bias])
    >>> small = shrink(model)
    >>> small.layers[1].units
    2
    >>> from kerasprune import sparsity_report
    >>> sparsity_report(small, baseline=model).speedup  # (8x4 + 4x2) / (8x2 + 2x2)
    2.0
    """
    check_model(model)
    verbose = check_verbose(verbose)
    _check_no_outer_wrappers(model)
    if prune_wrappers(model):
        model = strip(model)
    graph = graph_of(model)
    analysis = ChannelAnalysis(graph)
    progress = keras.utils.Progbar(1 + len(analysis.calls), verbose=verbose, unit_name="layer")
    progress.add(1)
    decision = decide(analysis)
    if not decision.removed.any():
        warnings.warn(
            f"shrink removed nothing: no channel of model '{model.name}' is entirely zero "
            "(or removable exactly), so the copy has the same size. Unstructured and block "
            "pruning zero single weights, not channels: prune with "
            "pattern=kerasprune.Channels(...) to remove channels.",
            stacklevel=user_stacklevel(),
        )
    rebuilt, new_ops = _rebuild(graph, decision, progress)
    if is_graph_model(model):
        return rebuilt
    return _shrunk_in_class(model, new_ops)


def _check_no_outer_wrappers(model: keras.Model) -> None:
    """Refuse a pruned layer inside another wrapper (quantization-aware training's): shrink
    does not look into it, so its zero channels would silently stay."""
    outer = [layer for layer in all_layers(model) if wraps_pruned_layer(layer)]
    if outer:
        kinds = sorted({type(layer).__name__ for layer in outer})
        raise ValueError(
            f"shrink cannot remove channels of pruned layers inside other wrappers: model "
            f"'{model.name}' holds {[layer.name for layer in outer]} ({', '.join(kinds)}). "
            "Shrink first, then wrap: e.g. "
            "kerasprune.quantization.quantize_model(kerasprune.shrink(pruned)).")


def _shrunk_in_class(model: keras.Model, new_ops: dict) -> keras.Model:
    """A copy of a Functional subclass (same class, config and preprocessor) whose layers
    are the rebuilt ones: the smaller ones put in place, the others given their weights
    (a removed channel's constant may have been folded into them)."""

    def replace(layer, twin):
        new = new_ops.get(id(layer))
        if not isinstance(new, keras.layers.Layer):  # a nested model: its layers follow
            return None
        if type(new) is type(layer) and _shapes(new) == _shapes(layer) and (
                new.get_config() == layer.get_config()):
            twin.set_weights(new.get_weights())
            return None
        smaller = type(new).from_config(new.get_config())
        smaller.build_from_config(new.get_build_config())
        smaller.set_weights(new.get_weights())
        return smaller

    return copy_model(model, replace, substitutes_hold_weights=True)


def _shapes(layer) -> list[tuple]:
    return [tuple(w.shape) for w in layer.weights]


def _rebuild(graph, decision: Decision, progress) -> tuple[keras.Model, dict]:
    """The shrunk Functional model, and its operation for each of `graph`'s (by id)."""
    new_ops: dict[int, object] = {}
    new_weights: dict[int, dict[str, np.ndarray] | list[np.ndarray]] = {}
    _new_operations(graph, decision, new_ops, new_weights, progress)
    inputs = [
        keras.Input(batch_shape=t.shape, dtype=t.dtype, name=_compat.producer_of(t).name)
        for t in graph.inputs
    ]
    outputs = _compat.run_graph(
        graph, inputs if len(inputs) > 1 else inputs[0], lambda op: new_ops[id(op)]
    )
    rebuilt = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs,
                          name=f"{graph.name}_shrunk")
    for key, weights in new_weights.items():
        layer = new_ops[key]
        if isinstance(weights, dict):
            names = list(variables_by_name(layer))
            # Same names: by name; auto-named variables ("variable_3") differ: in order.
            weights = ([weights[n] for n in names] if set(names) == set(weights)
                       else list(weights.values()))
        layer.set_weights(weights)
    return rebuilt, new_ops


def _new_operations(graph, decision: Decision, new_ops: dict, new_weights: dict,
                    progress) -> None:
    """The rebuilt operation of every node of `graph`; models used as layers are inlined."""
    for node in _compat.graph_nodes(graph):
        op = node.operation
        inner = nested_graph(op)
        if inner is not None and len(node.input_tensors) == len(inner.inputs):
            _new_operations(inner, decision, new_ops, new_weights, progress)
            new_ops[id(op)] = _Inlined(inner, new_ops)
        elif not isinstance(op, keras.layers.Layer):
            new_ops[id(op)] = op  # a stateless keras.ops operation
        else:
            cls, config, new_weights[id(op)] = _shrunk_layer(node, decision)
            new_ops[id(op)] = _recreated(op, cls, config)
        if decision.call_at(node) is not None:
            progress.add(1)


def _recreated(op: keras.layers.Layer, cls: type, config: dict) -> keras.layers.Layer:
    if cls is keras.layers.Lambda and config == op.get_config():
        return fresh_copy(op)  # its functions are in memory: a config round trip refuses them
    try:
        return cls.from_config(config)
    except Exception as error:  # any failure here means we cannot rebuild it
        raise ValueError(
            f"shrink cannot re-create layer '{op.name}' ({type(op).__name__}) from "
            f"its config: {error}"
        ) from error


class _Inlined:
    """A model used as a layer, replaced by its rebuilt layers called in place."""

    def __init__(self, graph, new_ops: dict):
        self.graph, self.new_ops = graph, new_ops

    def __call__(self, inputs, *args, **kwargs):
        return _compat.run_graph(self.graph, inputs, lambda op: self.new_ops[id(op)])


def _shrunk_layer(node, decision: Decision):
    """The class, config and weights (by name, or in order if unchanged) of the rebuilt copy."""
    layer = node.operation
    config = layer.get_config()
    call = decision.call_at(node)
    if call is None or call.rule is None:
        return type(layer), config, layer.get_weights()
    weights = {name: np.asarray(v) for name, v in variables_by_name(layer).items()}
    config, weights = call.rule.rebuild(decision, call.layer, call.inputs, call.output, config,
                                        weights)
    return call.rule.rebuilt_class(decision, call.layer), config, weights
