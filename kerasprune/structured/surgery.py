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
"""

from __future__ import annotations

import warnings

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.validation import check_model
from kerasprune.core.wrapping import strip

_MIXERS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_TRANSPOSED = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
               keras.layers.Conv3DTranspose, keras.layers.SeparableConv1D,
               keras.layers.SeparableConv2D)
_IDENTITY_AT_INFERENCE = (
    keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D, keras.layers.GaussianNoise, keras.layers.GaussianDropout,
    keras.layers.AlphaDropout, keras.layers.ActivityRegularization,
)
_CONSTANT_PRESERVING = (
    keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D, keras.layers.AveragePooling2D, keras.layers.AveragePooling3D,
    keras.layers.GlobalMaxPooling1D, keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D, keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D, keras.layers.GlobalAveragePooling3D,
    keras.layers.Cropping1D, keras.layers.Cropping2D, keras.layers.Cropping3D,
    keras.layers.UpSampling1D, keras.layers.UpSampling2D, keras.layers.UpSampling3D,
)
_ZERO_PADDING = (keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D,
                 keras.layers.ZeroPadding3D)
_ELEMENTWISE_ACTIVATIONS = (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU)
_POINTWISE_ACTIVATION_NAMES = {
    "linear", "relu", "relu6", "sigmoid", "tanh", "swish", "silu", "gelu", "elu", "selu",
    "softplus", "softsign", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu",
    "mish", "exponential",
}
_MERGE_REDUCERS = {
    keras.layers.Add: lambda vs: np.sum(vs, axis=0),
    keras.layers.Subtract: lambda vs: vs[0] - vs[1],
    keras.layers.Multiply: lambda vs: np.prod(vs, axis=0),
    keras.layers.Average: lambda vs: np.mean(vs, axis=0),
    keras.layers.Maximum: lambda vs: np.max(vs, axis=0),
    keras.layers.Minimum: lambda vs: np.min(vs, axis=0),
}


def shrink(model: keras.Model) -> keras.Model:
    """Return a smaller dense copy of `model` with its pruned channels physically removed.

    Works on Functional and Sequential models, plain or holding `PruneWrapper` layers
    (they are stripped first). Pruned channels are found from exactly-zero kernel slices
    (masks zero them). The copy computes the same outputs as `model` in inference mode
    (up to float rounding); `model` is not modified.

    Args:
        model: a `keras.Model` built from a graph of layers (Functional or Sequential).

    Returns:
        A new Functional `keras.Model` with fewer filters/units where channels were pruned.

    Warns:
        UserWarning: when no channel can be removed (e.g. an unstructured pruned model):
            the copy then has the same size as `model`.

    Raises:
        TypeError: if `model` is not a `keras.Model`.
        ValueError: naming the model or layer when it cannot be rebuilt (subclassed
            models, layers called more than once, layers that cannot be re-created
            from their config).

    Example:

    >>> import keras
    >>> from kerasprune import shrink
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, "relu"),
    ...                           keras.layers.Dense(2)])
    >>> kernel, bias = model.layers[0].get_weights()
    >>> kernel[:, :2] = 0.0; bias[:2] = 0.0
    >>> model.layers[0].set_weights([kernel, bias])
    >>> shrink(model).layers[1].units
    2
    """
    check_model(model)
    model = _without_wrappers(model)
    graph = _graph_of(model)
    analysis = _ChannelAnalysis(graph)
    if not analysis.removed.any():
        warnings.warn(
            f"shrink removed nothing: no channel of model '{model.name}' is entirely zero "
            "(or removable exactly), so the copy has the same size. Unstructured and block "
            "pruning zero single weights, not channels: prune with "
            "pattern=kerasprune.Channels(...) to remove channels.",
            stacklevel=2,
        )
    return _rebuild(graph, analysis)


def _without_wrappers(model: keras.Model) -> keras.Model:
    return strip(model) if prune_wrappers(model) else model


def _graph_of(model: keras.Model):
    """The Functional graph of `model` (a Sequential model keeps one inside)."""
    graph = _compat.functional_graph(model)
    if graph is None and isinstance(model, keras.Sequential):
        raise ValueError(
            f"Sequential model '{model.name}' has no known input shape: start it with "
            "keras.Input(shape) so that shrink can follow its graph."
        )
    if graph is None:
        raise ValueError(
            f"Model '{model.name}' of type {type(model).__name__} is subclassed: shrink can "
            "only rebuild Functional or Sequential models, whose graph of layers is known."
        )
    return graph


class _ChannelAnalysis:
    """Which channels of which tensor can be removed, and the constants they carry.

    Every channel position of every tensor is mapped to an "atom": one channel created by
    one producing layer. Layers that keep channels aligned (Add, BatchNormalization,
    depthwise conv, ...) unify the atoms of their inputs and output, so that a set of
    unified atoms is one channel that lives or dies everywhere together.
    """

    def __init__(self, graph):
        self.atoms: dict[int, np.ndarray] = {}  # id(tensor) -> atom id per channel
        self.values: dict[int, np.ndarray] = {}  # id(tensor) -> constant or NaN per channel
        self.parent: list[int] = []
        self.constraints: list[tuple[np.ndarray, np.ndarray]] = []
        self.foldable: dict[int, bool] = {}  # id(node) -> consumer may absorb constants
        seen: set[int] = set()
        for tensor in graph.inputs:
            self._fresh(tensor, np.full(_channels(tensor), np.nan))
        for node in _compat.graph_nodes(graph):
            op = node.operation
            if id(op) in seen:
                raise ValueError(
                    f"Layer '{op.name}' is called more than once in model '{graph.name}': "
                    "shrink cannot remove channels of a shared layer."
                )
            seen.add(id(op))
            self._visit(node)
        for tensor in graph.outputs:
            self._pin(tensor)
        self.removed = self._decide()

    # --- atoms ---------------------------------------------------------------
    def _fresh(self, tensor, values: np.ndarray) -> None:
        start = len(self.parent)
        self.parent += list(range(start, start + values.size))
        self._set(tensor, np.arange(start, start + values.size), values)

    def _set(self, tensor, atoms: np.ndarray, values: np.ndarray) -> None:
        self.atoms[id(tensor)] = atoms
        self.values[id(tensor)] = values.astype(np.float64)
        self.constraints.append((atoms, ~np.isnan(values)))

    def _find(self, atom: int) -> int:
        while self.parent[atom] != atom:
            self.parent[atom] = self.parent[self.parent[atom]]
            atom = self.parent[atom]
        return atom

    def _unify(self, a: np.ndarray, b: np.ndarray) -> None:
        for x, y in zip(a, b):
            rx, ry = self._find(int(x)), self._find(int(y))
            if rx != ry:
                self.parent[ry] = rx

    def _pin(self, tensor) -> None:
        atoms = self.atoms[id(tensor)]
        self.constraints.append((atoms, np.zeros(atoms.size, dtype=bool)))

    # --- layer rules ---------------------------------------------------------
    def _visit(self, node) -> None:
        op = node.operation
        ins, outs = node.input_tensors, node.outputs
        if len(outs) == 1 and len(ins) >= 1 and all(id(t) in self.atoms for t in ins):
            rule = self._rule_for(op, ins)
            if rule is not None:
                rule(node, op, ins, outs[0])
                return
        for tensor in ins:
            if id(tensor) in self.atoms:
                self._pin(tensor)
        for tensor in outs:
            self._fresh(tensor, np.full(_channels(tensor), np.nan))

    def _rule_for(self, op, ins):
        if not _channels_last(op):
            return None
        single = len(ins) == 1
        if single and isinstance(op, _MIXERS) and not isinstance(op, _TRANSPOSED) and (
            getattr(op, "groups", 1) == 1
        ):
            return self._mixer
        if single and isinstance(op, _DEPTHWISE) and op.depth_multiplier == 1:
            return self._depthwise
        if single and isinstance(op, keras.layers.BatchNormalization) and _last_axis(op, ins[0]):
            return self._batch_norm
        if single and (_is_pointwise_activation(op) or isinstance(op, _IDENTITY_AT_INFERENCE)):
            return self._elementwise
        if single and isinstance(op, _CONSTANT_PRESERVING):
            return self._same_values
        if single and isinstance(op, _ZERO_PADDING):
            return self._zero_padding
        if single and (isinstance(op, keras.layers.Flatten) or _reshape_kind(op, ins[0])):
            return self._flatten_or_reshape
        if not single and type(op) in _MERGE_REDUCERS:
            return self._merge
        if not single and isinstance(op, keras.layers.Concatenate) and _concat_last(op, ins):
            return self._concatenate
        return None

    def _mixer(self, node, op, ins, out) -> None:
        kernel = np.asarray(op.kernel)
        self.foldable[id(node)] = isinstance(op, keras.layers.Dense) or _conv_folds(op, kernel)
        values = self.values[id(ins[0])]
        if not self.foldable[id(node)]:
            self.constraints.append((self.atoms[id(ins[0])], np.nan_to_num(values) == 0))
        dead = ~kernel.reshape(-1, kernel.shape[-1]).any(axis=0)
        bias = np.asarray(op.bias) if op.use_bias else np.zeros(kernel.shape[-1])
        self._fresh(out, _activate(op, np.where(dead, bias, np.nan)))

    def _depthwise(self, node, op, ins, out) -> None:
        kernel = np.asarray(op.kernel)  # (..., channels, 1)
        per_channel = kernel.reshape(-1, kernel.shape[-2])
        bias = np.asarray(op.bias) if op.use_bias else np.zeros(kernel.shape[-2])
        values = self.values[id(ins[0])]
        zero_in = np.nan_to_num(values, nan=1.0) == 0
        dead = ~per_channel.any(axis=0) | zero_in
        constant = np.where(dead, bias, np.nan)
        if _conv_folds(op, kernel):
            constant = np.where(np.isnan(constant), values * per_channel.sum(axis=0) + bias,
                                constant)
        self._set(out, self.atoms[id(ins[0])], _activate(op, constant))

    def _batch_norm(self, node, op, ins, out) -> None:
        values = self.values[id(ins[0])]
        n = values.size
        gamma = np.asarray(op.gamma) if op.scale else np.ones(n)
        beta = np.asarray(op.beta) if op.center else np.zeros(n)
        mean, var = np.asarray(op.moving_mean), np.asarray(op.moving_variance)
        result = gamma * (values - mean) / np.sqrt(var + op.epsilon) + beta
        self._set(out, self.atoms[id(ins[0])], result)

    def _elementwise(self, node, op, ins, out) -> None:
        values = self.values[id(ins[0])]
        result = values if isinstance(op, _IDENTITY_AT_INFERENCE) else _apply(op, values)
        self._set(out, self.atoms[id(ins[0])], result)

    def _same_values(self, node, op, ins, out) -> None:
        self._set(out, self.atoms[id(ins[0])], self.values[id(ins[0])])

    def _zero_padding(self, node, op, ins, out) -> None:
        values = self.values[id(ins[0])]
        self._set(out, self.atoms[id(ins[0])], np.where(values == 0, 0.0, np.nan))

    def _flatten_or_reshape(self, node, op, ins, out) -> None:
        repeat = _channels(out) // _channels(ins[0])
        atoms, values = self.atoms[id(ins[0])], self.values[id(ins[0])]
        self._set(out, np.tile(atoms, repeat), np.tile(values, repeat))

    def _merge(self, node, op, ins, out) -> None:
        first = self.atoms[id(ins[0])]
        for tensor in ins[1:]:
            self._unify(first, self.atoms[id(tensor)])
        values = np.stack([self.values[id(t)] for t in ins])
        result = _MERGE_REDUCERS[type(op)](values)
        if isinstance(op, keras.layers.Multiply):
            result = np.where((values == 0).any(axis=0), 0.0, result)
        self._set(out, first, result)

    def _concatenate(self, node, op, ins, out) -> None:
        atoms = np.concatenate([self.atoms[id(t)] for t in ins])
        values = np.concatenate([self.values[id(t)] for t in ins])
        self._set(out, atoms, values)

    # --- decision ------------------------------------------------------------
    def _decide(self) -> np.ndarray:
        roots = np.array([self._find(a) for a in range(len(self.parent))], dtype=np.int64)
        removable = np.ones(len(self.parent), dtype=bool)
        for atoms, ok in self.constraints:
            np.logical_and.at(removable, roots[atoms], ok)
        # Never empty a tensor: keep its first channel if all of them could go.
        for atoms in self.atoms.values():
            if atoms.size and removable[roots[atoms]].all():
                removable[roots[atoms[0]]] = False
        return removable[roots]

    def keep(self, tensor) -> np.ndarray:
        return ~self.removed[self.atoms[id(tensor)]]


def _channels(tensor) -> int:
    shape = tensor.shape
    return 0 if len(shape) == 0 or shape[-1] is None else int(shape[-1])


def _channels_last(op) -> bool:
    return getattr(op, "data_format", "channels_last") == "channels_last"


def _last_axis(op, tensor) -> bool:
    axis = op.axis if isinstance(op.axis, int) else (op.axis[0] if len(op.axis) == 1 else None)
    return axis is not None and axis % len(tensor.shape) == len(tensor.shape) - 1


def _is_pointwise_activation(op) -> bool:
    if isinstance(op, _ELEMENTWISE_ACTIVATIONS):
        return True
    if isinstance(op, keras.layers.Activation):
        return _is_pointwise(op.activation)
    return False


def _is_pointwise(activation) -> bool:
    name = keras.activations.serialize(activation)
    name = name if isinstance(name, str) else getattr(activation, "__name__", "")
    return name in _POINTWISE_ACTIVATION_NAMES


def _apply(function, values: np.ndarray) -> np.ndarray:
    """`function` on the known constants of `values`; unknown ones (NaN) stay unknown."""
    known = np.nan_to_num(values).astype(np.float32)[None, :]
    result = np.asarray(function(known), dtype=np.float64)[0]
    result[np.isnan(values)] = np.nan
    return result


def _activate(op, values: np.ndarray) -> np.ndarray:
    """The layer's own activation (Conv/Dense `activation=`) applied to its constants."""
    activation = getattr(op, "activation", None)
    if activation is None:
        return values
    if not _is_pointwise(activation):
        return np.full(values.shape, np.nan)
    return _apply(activation, values)


def _conv_folds(op, kernel: np.ndarray) -> bool:
    """A constant input channel becomes a constant bias only without zero padding."""
    if isinstance(op, keras.layers.Dense):
        return True
    spatial = kernel.shape[:-2]
    return op.padding == "valid" or all(k == 1 for k in spatial)


def _reshape_kind(op, tensor) -> str | None:
    """'keep_last' if a Reshape keeps the channel axis, 'flatten' if it flattens to 1-D."""
    if not isinstance(op, keras.layers.Reshape) or None in tensor.shape[1:]:
        return None
    target = tuple(op.target_shape)
    if len(target) == 1:
        return "flatten"
    if target[-1] == tensor.shape[-1]:
        return "keep_last"
    return None


def _concat_last(op, tensors) -> bool:
    return op.axis % len(tensors[0].shape) == len(tensors[0].shape) - 1


# --- rebuild -------------------------------------------------------------------
def _rebuild(graph, analysis: _ChannelAnalysis) -> keras.Model:
    new_ops: dict[int, object] = {}
    new_weights: dict[int, dict[str, np.ndarray]] = {}
    for node in _compat.graph_nodes(graph):
        op = node.operation
        if not isinstance(op, keras.layers.Layer):
            new_ops[id(op)] = op  # a stateless keras.ops operation
            continue
        config, weights = _shrunk_layer(node, op, analysis)
        try:
            new_ops[id(op)] = type(op).from_config(config)
        except Exception as error:  # any failure here means we cannot rebuild this layer
            raise ValueError(
                f"shrink cannot re-create layer '{op.name}' ({type(op).__name__}) from its "
                f"config: {error}"
            ) from error
        new_weights[id(op)] = weights
    inputs = [
        keras.Input(batch_shape=t.shape, dtype=t.dtype, name=_compat.producer_of(t).name)
        for t in graph.inputs
    ]
    outputs = _compat.run_graph(
        graph, inputs if len(inputs) > 1 else inputs[0], lambda op: new_ops[id(op)]
    )
    rebuilt = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs,
                          name=f"{graph.name}_shrunk")
    for node in _compat.graph_nodes(graph):
        if id(node.operation) in new_weights:
            layer, weights = new_ops[id(node.operation)], new_weights[id(node.operation)]
            layer.set_weights([weights[_short_name(v)] for v in layer.weights])
    return rebuilt


def _shrunk_layer(node, op, analysis: _ChannelAnalysis) -> tuple[dict, dict[str, np.ndarray]]:
    """The config and weights of the rebuilt copy of `op` at `node`."""
    config = op.get_config()
    weights = {_short_name(v): np.asarray(v) for v in op.weights}
    ins, out = node.input_tensors, node.outputs[0] if node.outputs else None
    if id(node) in analysis.foldable:
        in_keep, out_keep = analysis.keep(ins[0]), analysis.keep(out)
        kernel = weights["kernel"]
        values = np.nan_to_num(analysis.values[id(ins[0])])
        removed = kernel[..., ~in_keep, :] * values[~in_keep][:, None]
        folded = removed.reshape(-1, kernel.shape[-1]).sum(axis=0)
        bias = weights.get("bias", np.zeros(kernel.shape[-1])) + folded
        key = "units" if isinstance(op, keras.layers.Dense) else "filters"
        config[key] = int(out_keep.sum())
        weights["kernel"] = kernel[..., in_keep, :][..., out_keep]
        if not op.use_bias and np.any(folded != 0):
            config["use_bias"] = True
        if config.get("use_bias", op.use_bias):
            weights["bias"] = bias[out_keep].astype(kernel.dtype)
    elif isinstance(op, _DEPTHWISE) and id(ins[0]) in analysis.atoms and not _opaque(
        node, analysis
    ):
        keep = analysis.keep(out)
        weights["kernel"] = weights["kernel"][..., keep, :]
        if "bias" in weights:
            weights["bias"] = weights["bias"][keep]
    elif isinstance(op, keras.layers.BatchNormalization) and not _opaque(node, analysis):
        keep = analysis.keep(out)
        weights = {k: v[keep] for k, v in weights.items()}
    elif isinstance(op, keras.layers.Reshape) and not _opaque(node, analysis):
        target = list(op.target_shape)
        target[-1] = int(analysis.keep(out).sum()) if len(target) == 1 else int(
            analysis.keep(ins[0]).sum()
        )
        config["target_shape"] = tuple(target)
    return config, weights


def _opaque(node, analysis: _ChannelAnalysis) -> bool:
    """True when the layer was not understood (its output got fresh, all-alive atoms)."""
    ins, outs = node.input_tensors, node.outputs
    if not ins or len(outs) != 1 or id(outs[0]) not in analysis.atoms:
        return True
    return analysis._rule_for(node.operation, ins) is None


def _short_name(variable) -> str:
    return variable.path.split("/")[-1]
