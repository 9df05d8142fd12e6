"""One rule per layer type: how channels flow through the layer, and how to rebuild it smaller.

A `LayerRule` answers two questions for one kind of layer, in one class:

- `propagate`: given the channels of the layer's inputs (their atoms, and the constant each
  carries, NaN when not constant), which channels does its output hold and what
  constants do they carry? (see `kerasprune.structured.channel_analysis`);
- `rebuild`: given the channels that survive, what are the config and weights of the
  smaller copy of the layer?

`rule_for(layer, inputs)` finds the rule of a layer through `register_layer_rule`'s
registry (looked up along the class hierarchy, so subclasses inherit their base's rule).
A layer without a rule is opaque: all of its input channels are kept, its outputs get
new channels. Adding a layer type is one `LayerRule` subclass and one registration.
"""

from __future__ import annotations

import numpy as np
import keras


class LayerRule:
    """Base class: how one kind of layer moves channels and is rebuilt with fewer.

    Subclasses implement `propagate`; `rebuild` defaults to an unchanged copy (right for
    layers without per-channel weights or shape arguments). A rule only sees layers for
    which `rule_for` chose it: channels-last layers with the number of inputs given by
    `single_input`, and for which `applies` returns True.

    Example:

    >>> class Negate(keras.layers.Layer):
    ...     def call(self, x):
    ...         return -x
    >>> class NegateRule(LayerRule):
    ...     def propagate(self, analysis, node):
    ...         (x,), out = node.input_tensors, node.outputs[0]
    ...         analysis.assign(out, analysis.atoms(x), -analysis.values(x))
    >>> register_layer_rule(Negate, NegateRule())
    >>> type(rule_for(Negate(), [keras.Input((3,))])).__name__
    'NegateRule'
    """

    #: True for layers called on one tensor, False for layers merging several.
    single_input = True

    def applies(self, layer, inputs) -> bool:
        """Whether this rule understands this particular layer (its arguments)."""
        return True

    def propagate(self, analysis, node) -> None:
        """Give the node's output its atoms and constants (`analysis.assign`/`fresh`)."""
        raise NotImplementedError

    def rebuild(self, node, analysis, config: dict, weights: dict) -> tuple[dict, dict]:
        """The config and weights (by short variable name) of the smaller copy."""
        return config, weights


class MixerRule(LayerRule):
    """Conv1D/2D/3D and Dense: each output channel is new; constant inputs fold into the bias.

    A dead output channel (all-zero kernel slice) carries its bias, through the layer's
    own activation. A constant input channel can be removed when its constant can become
    part of the bias: always for 0, otherwise only without zero padding (Dense, `valid`
    padding or a 1x1 kernel).
    """

    def applies(self, layer, inputs) -> bool:
        return getattr(layer, "groups", 1) == 1

    def propagate(self, analysis, node) -> None:
        layer, x, out = node.operation, node.input_tensors[0], node.outputs[0]
        kernel = np.asarray(layer.kernel)
        if not conv_folds(layer, kernel):
            analysis.require(analysis.atoms(x), np.nan_to_num(analysis.values(x)) == 0)
        dead = ~kernel.reshape(-1, kernel.shape[-1]).any(axis=0)
        bias = np.asarray(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1])
        analysis.fresh(out, activate(layer, np.where(dead, bias, np.nan)))

    def rebuild(self, node, analysis, config, weights):
        layer, x, out = node.operation, node.input_tensors[0], node.outputs[0]
        in_keep, out_keep = analysis.keep(x), analysis.keep(out)
        kernel = weights["kernel"]
        values = np.nan_to_num(analysis.values(x))
        removed = kernel[..., ~in_keep, :] * values[~in_keep][:, None]
        folded = removed.reshape(-1, kernel.shape[-1]).sum(axis=0)
        bias = weights.get("bias", np.zeros(kernel.shape[-1])) + folded
        key = "units" if isinstance(layer, keras.layers.Dense) else "filters"
        config[key] = int(out_keep.sum())
        weights["kernel"] = kernel[..., in_keep, :][..., out_keep]
        if not layer.use_bias and np.any(folded != 0):
            config["use_bias"] = True
        if config.get("use_bias", layer.use_bias):
            weights["bias"] = bias[out_keep].astype(kernel.dtype)
        return config, weights


class DepthwiseRule(LayerRule):
    """DepthwiseConv1D/2D with `depth_multiplier=1`: output channel i is input channel i."""

    def applies(self, layer, inputs) -> bool:
        return layer.depth_multiplier == 1

    def propagate(self, analysis, node) -> None:
        layer, x, out = node.operation, node.input_tensors[0], node.outputs[0]
        kernel = np.asarray(layer.kernel)  # (..., channels, 1)
        per_channel = kernel.reshape(-1, kernel.shape[-2])
        bias = np.asarray(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-2])
        values = analysis.values(x)
        zero_in = np.nan_to_num(values, nan=1.0) == 0
        dead = ~per_channel.any(axis=0) | zero_in
        constant = np.where(dead, bias, np.nan)
        if conv_folds(layer, kernel):
            constant = np.where(np.isnan(constant), values * per_channel.sum(axis=0) + bias,
                                constant)
        analysis.assign(out, analysis.atoms(x), activate(layer, constant))

    def rebuild(self, node, analysis, config, weights):
        keep = analysis.keep(node.outputs[0])
        weights["kernel"] = weights["kernel"][..., keep, :]
        if "bias" in weights:
            weights["bias"] = weights["bias"][keep]
        return config, weights


class BatchNormRule(LayerRule):
    """BatchNormalization over the last axis: an affine map per channel (inference mode)."""

    def applies(self, layer, inputs) -> bool:
        axis = layer.axis if isinstance(layer.axis, int) else (
            layer.axis[0] if len(layer.axis) == 1 else None)
        rank = len(inputs[0].shape)
        return axis is not None and axis % rank == rank - 1

    def propagate(self, analysis, node) -> None:
        layer, x, out = node.operation, node.input_tensors[0], node.outputs[0]
        values = analysis.values(x)
        n = values.size
        gamma = np.asarray(layer.gamma) if layer.scale else np.ones(n)
        beta = np.asarray(layer.beta) if layer.center else np.zeros(n)
        mean, var = np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)
        result = gamma * (values - mean) / np.sqrt(var + layer.epsilon) + beta
        analysis.assign(out, analysis.atoms(x), result)

    def rebuild(self, node, analysis, config, weights):
        keep = analysis.keep(node.outputs[0])
        return config, {name: value[keep] for name, value in weights.items()}


class ActivationRule(LayerRule):
    """Pointwise activations (ReLU, `Activation("sigmoid")`, ...): f applied per channel."""

    def applies(self, layer, inputs) -> bool:
        if isinstance(layer, keras.layers.Activation):
            return is_pointwise(layer.activation)
        return True

    def propagate(self, analysis, node) -> None:
        x, out = node.input_tensors[0], node.outputs[0]
        analysis.assign(out, analysis.atoms(x), apply_known(node.operation, analysis.values(x)))


class PassThroughRule(LayerRule):
    """Layers that keep each channel and its constant: pooling, cropping, upsampling, and
    dropout or noise (the identity at inference)."""

    def propagate(self, analysis, node) -> None:
        x, out = node.input_tensors[0], node.outputs[0]
        analysis.assign(out, analysis.atoms(x), analysis.values(x))


class ZeroPaddingRule(LayerRule):
    """ZeroPadding: keeps channels, but a non-zero constant becomes position-dependent."""

    def propagate(self, analysis, node) -> None:
        x, out = node.input_tensors[0], node.outputs[0]
        values = analysis.values(x)
        analysis.assign(out, analysis.atoms(x), np.where(values == 0, 0.0, np.nan))


class FlattenRule(LayerRule):
    """Flatten, and a Reshape that flattens or keeps the last axis: each channel owns a
    block of output positions (the channel pattern repeats)."""

    def applies(self, layer, inputs) -> bool:
        return isinstance(layer, keras.layers.Flatten) or _reshape_kind(layer, inputs[0]) is not None

    def propagate(self, analysis, node) -> None:
        x, out = node.input_tensors[0], node.outputs[0]
        repeat = channels(out) // channels(x)
        analysis.assign(out, np.tile(analysis.atoms(x), repeat),
                        np.tile(analysis.values(x), repeat))

    def rebuild(self, node, analysis, config, weights):
        layer = node.operation
        if isinstance(layer, keras.layers.Reshape):
            target = list(layer.target_shape)
            kept = analysis.keep(node.outputs[0] if len(target) == 1 else node.input_tensors[0])
            target[-1] = int(kept.sum())
            config["target_shape"] = tuple(target)
        return config, weights


class MergeRule(LayerRule):
    """Add, Subtract, Multiply, Average, Maximum, Minimum: channel i of every input is one
    channel (unified), whose constant is the merge of the inputs' constants."""

    single_input = False
    reducers = {
        keras.layers.Add: lambda vs: np.sum(vs, axis=0),
        keras.layers.Subtract: lambda vs: vs[0] - vs[1],
        keras.layers.Multiply: lambda vs: np.prod(vs, axis=0),
        keras.layers.Average: lambda vs: np.mean(vs, axis=0),
        keras.layers.Maximum: lambda vs: np.max(vs, axis=0),
        keras.layers.Minimum: lambda vs: np.min(vs, axis=0),
    }

    def applies(self, layer, inputs) -> bool:
        return type(layer) in self.reducers  # a subclass may compute something else

    def propagate(self, analysis, node) -> None:
        inputs, out = node.input_tensors, node.outputs[0]
        first = analysis.atoms(inputs[0])
        for tensor in inputs[1:]:
            analysis.unify(first, analysis.atoms(tensor))
        values = np.stack([analysis.values(t) for t in inputs])
        result = self.reducers[type(node.operation)](values)
        if isinstance(node.operation, keras.layers.Multiply):
            result = np.where((values == 0).any(axis=0), 0.0, result)
        analysis.assign(out, first, result)


class ConcatenateRule(LayerRule):
    """Concatenate on the last axis: the output's channels are the inputs' side by side."""

    single_input = False

    def applies(self, layer, inputs) -> bool:
        rank = len(inputs[0].shape)
        return layer.axis % rank == rank - 1

    def propagate(self, analysis, node) -> None:
        inputs, out = node.input_tensors, node.outputs[0]
        analysis.assign(out, np.concatenate([analysis.atoms(t) for t in inputs]),
                        np.concatenate([analysis.values(t) for t in inputs]))


_RULES: dict[type, LayerRule] = {}


def register_layer_rule(layer_class: type, rule: LayerRule) -> None:
    """Use `rule` for `layer_class` and its subclasses (replacing any earlier rule).

    Example:

    >>> register_layer_rule(keras.layers.ReLU, ActivationRule())
    """
    if not (isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer)):
        raise TypeError(
            "`layer_class` must be a subclass of keras.layers.Layer. "
            f"Received: layer_class={layer_class!r}"
        )
    if not isinstance(rule, LayerRule):
        raise TypeError(f"`rule` must be a LayerRule instance. Received: rule={rule!r}")
    _RULES[layer_class] = rule


def rule_for(layer, inputs) -> LayerRule | None:
    """The rule that understands `layer` called on `inputs`, or None (opaque layer).

    Example:

    >>> type(rule_for(keras.layers.Dense(4), [keras.Input((3,))])).__name__
    'MixerRule'
    >>> rule_for(keras.layers.LayerNormalization(), [keras.Input((3,))]) is None
    True
    """
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    for cls in type(layer).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            single = len(inputs) == 1
            return rule if single == rule.single_input and rule.applies(layer, inputs) else None
    return None


def channels(tensor) -> int:
    """The size of a tensor's last (channel) axis, 0 when unknown or scalar."""
    shape = tensor.shape
    return 0 if len(shape) == 0 or shape[-1] is None else int(shape[-1])


_POINTWISE_ACTIVATION_NAMES = {
    "linear", "relu", "relu6", "sigmoid", "tanh", "swish", "silu", "gelu", "elu", "selu",
    "softplus", "softsign", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu",
    "mish", "exponential",
}


def is_pointwise(activation) -> bool:
    """True for an activation function applied to each value on its own (not softmax)."""
    name = keras.activations.serialize(activation)
    name = name if isinstance(name, str) else getattr(activation, "__name__", "")
    return name in _POINTWISE_ACTIVATION_NAMES


def apply_known(function, values: np.ndarray) -> np.ndarray:
    """`function` on the known constants of `values`; unknown ones (NaN) stay unknown."""
    known = np.nan_to_num(values).astype(np.float32)[None, :]
    result = np.asarray(function(known), dtype=np.float64)[0]
    result[np.isnan(values)] = np.nan
    return result


def activate(layer, values: np.ndarray) -> np.ndarray:
    """The layer's own activation (Conv/Dense `activation=`) applied to its constants."""
    activation = getattr(layer, "activation", None)
    if activation is None:
        return values
    if not is_pointwise(activation):
        return np.full(values.shape, np.nan)
    return apply_known(activation, values)


def conv_folds(layer, kernel: np.ndarray) -> bool:
    """A constant input channel becomes a constant bias only without zero padding."""
    if isinstance(layer, keras.layers.Dense):
        return True
    spatial = kernel.shape[:-2]
    return layer.padding == "valid" or all(k == 1 for k in spatial)


def _reshape_kind(layer, tensor) -> str | None:
    """'keep_last' if a Reshape keeps the channel axis, 'flatten' if it flattens to 1-D."""
    if not isinstance(layer, keras.layers.Reshape) or None in tensor.shape[1:]:
        return None
    target = tuple(layer.target_shape)
    if len(target) == 1:
        return "flatten"
    if target[-1] == tensor.shape[-1]:
        return "keep_last"
    return None


def _register_builtin_rules() -> None:
    layers = keras.layers
    kinds = {
        MixerRule(): (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Dense),
        DepthwiseRule(): (layers.DepthwiseConv1D, layers.DepthwiseConv2D),
        BatchNormRule(): (layers.BatchNormalization,),
        ActivationRule(): (layers.ReLU, layers.LeakyReLU, layers.ELU, layers.Activation),
        PassThroughRule(): (
            layers.Dropout, layers.SpatialDropout1D, layers.SpatialDropout2D,
            layers.SpatialDropout3D, layers.GaussianNoise, layers.GaussianDropout,
            layers.AlphaDropout, layers.ActivityRegularization,
            layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D,
            layers.AveragePooling1D, layers.AveragePooling2D, layers.AveragePooling3D,
            layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalMaxPooling3D,
            layers.GlobalAveragePooling1D, layers.GlobalAveragePooling2D,
            layers.GlobalAveragePooling3D, layers.Cropping1D, layers.Cropping2D,
            layers.Cropping3D, layers.UpSampling1D, layers.UpSampling2D, layers.UpSampling3D,
        ),
        ZeroPaddingRule(): (layers.ZeroPadding1D, layers.ZeroPadding2D, layers.ZeroPadding3D),
        FlattenRule(): (layers.Flatten, layers.Reshape),
        MergeRule(): tuple(MergeRule.reducers),
        ConcatenateRule(): (layers.Concatenate,),
    }
    for rule, classes in kinds.items():
        for layer_class in classes:
            register_layer_rule(layer_class, rule)


_register_builtin_rules()
