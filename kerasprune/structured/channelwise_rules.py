"""Rules for layers that keep channels apart: normalization, activations, pooling, padding,
reshapes, and the merges that join channels of several tensors (Add, Concatenate, ...).

None of these creates channels: output channel i is (a function of) input channel i, so
the output gets the input's atoms. A merge of several tensors makes channel i of every
input one channel (the atoms are unified): that is how residual streams, squeeze-and-
excitation gates (`Multiply` with a broadcast gate) and the like couple layers.
"""

from __future__ import annotations

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.structured.layer_rules import (
    ChannelSlot,
    LayerRule,
    apply_known,
    channels,
    is_pointwise,
    register_layer_rule,
    variables_by_name,
)


class BatchNormRule(LayerRule):
    """BatchNormalization over the last axis: an affine map per channel (inference mode)."""

    def applies(self, layer, inputs) -> bool:
        rank = len(inputs[0].shape)  # Keras 3 keeps one int axis
        return layer.axis % rank == rank - 1

    def propagate(self, analysis, layer, inputs, output) -> None:
        values = analysis.values(inputs[0])
        n = values.size
        gamma = analysis.weight(layer, "gamma") if layer.scale else np.ones(n)
        beta = analysis.weight(layer, "beta") if layer.center else np.zeros(n)
        mean = analysis.weight(layer, "moving_mean")
        variance = analysis.weight(layer, "moving_variance")
        result = gamma * (values - mean) / np.sqrt(variance + layer.epsilon) + beta
        analysis.assign(output, analysis.atoms(inputs[0]), result)

    def slots(self, analysis, layer, inputs, output):
        axes = {name: 0 for name, present in (("gamma", layer.scale), ("beta", layer.center))
                if present}
        return [ChannelSlot(layer, analysis.atoms(output), axes)]

    def cost(self, decision, layer, inputs, output):
        return 0, len(layer.weights) * int(decision.keep(output).sum())

    def rebuild(self, decision, layer, inputs, output, config, weights):
        keep = decision.keep(output)
        return config, {name: value[keep] for name, value in weights.items()}


class ActivationRule(LayerRule):
    """Pointwise activations (ReLU, `Activation("sigmoid")`, ...): f applied per channel."""

    def applies(self, layer, inputs) -> bool:
        if isinstance(layer, keras.layers.Activation):
            return is_pointwise(layer.activation)
        return True

    def propagate(self, analysis, layer, inputs, output) -> None:
        x = inputs[0]
        analysis.assign(output, analysis.atoms(x), apply_known(layer, analysis.values(x)))


class PassThroughRule(LayerRule):
    """Layers that keep each channel and its constant: pooling, cropping, upsampling, and
    dropout or noise (the identity at inference)."""

    def propagate(self, analysis, layer, inputs, output) -> None:
        x = inputs[0]
        analysis.assign(output, analysis.atoms(x), analysis.values(x))


class ZeroPaddingRule(LayerRule):
    """ZeroPadding: keeps channels, but a non-zero constant becomes position-dependent."""

    def propagate(self, analysis, layer, inputs, output) -> None:
        x = inputs[0]
        values = analysis.values(x)
        analysis.assign(output, analysis.atoms(x), np.where(values == 0, 0.0, np.nan))


class FlattenRule(LayerRule):
    """Flatten, and a Reshape that flattens or keeps the last axis: each channel owns a
    block of output positions (the channel pattern repeats)."""

    def applies(self, layer, inputs) -> bool:
        return isinstance(layer, keras.layers.Flatten) or _reshape_kind(layer, inputs[0]) is not None

    def propagate(self, analysis, layer, inputs, output) -> None:
        x = inputs[0]
        repeat = channels(output) // channels(x)
        analysis.assign(output, np.tile(analysis.atoms(x), repeat),
                        np.tile(analysis.values(x), repeat))

    def rebuild(self, decision, layer, inputs, output, config, weights):
        if isinstance(layer, keras.layers.Reshape):
            target = list(layer.target_shape)
            kept = decision.keep(output if len(target) == 1 else inputs[0])
            target[-1] = int(kept.sum())
            config["target_shape"] = tuple(target)
        return config, weights


class MergeRule(LayerRule):
    """Add, Subtract, Multiply, Average, Maximum, Minimum of tensors with equal channel
    counts: channel i of every input is one channel (unified), whose constant is the
    merge of the inputs' constants (spatial broadcasting, as in a gate, is fine)."""

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
        # A subclass may compute something else; a 1-channel gate broadcasts over channels.
        return type(layer) in self.reducers and len({channels(t) for t in inputs}) == 1

    def propagate(self, analysis, layer, inputs, output) -> None:
        first = analysis.atoms(inputs[0])
        for tensor in inputs[1:]:
            analysis.unify(first, analysis.atoms(tensor))
        values = np.stack([analysis.values(t) for t in inputs])
        analysis.assign(output, first, self.reducers[type(layer)](values))


class ElementwiseRule(LayerRule):
    """Layers and `keras.ops` calls acting on each value alone, on one tensor or on several
    of equal channel count (`x + 3`, `x * gate`, `x + r * scale`): the tensors' channel i
    is one channel, whose constant is the layer applied to the inputs' constants."""

    single_input = None

    def applies(self, layer, inputs) -> bool:
        return len({channels(t) for t in inputs}) == 1

    def propagate(self, analysis, layer, inputs, output) -> None:
        first = analysis.atoms(inputs[0])
        for tensor in inputs[1:]:
            analysis.unify(first, analysis.atoms(tensor))
        values = [analysis.values(t) for t in inputs]
        result = analysis.evaluate(layer, values)
        if result.shape != first.shape:  # a constant argument of another shape
            result = np.full(first.shape, np.nan)
        unknown = np.isnan(np.stack(values)).any(axis=0)
        analysis.assign(output, first, np.where(unknown, np.nan, result))


class LayerScaleRule(ElementwiseRule):
    """ConvNeXt's `LayerScale`: `x * gamma` with one `gamma` per channel."""

    single_input = True

    @staticmethod
    def _gamma(layer) -> str:
        return next(n for n, v in variables_by_name(layer).items() if v is layer.gamma)

    def slots(self, analysis, layer, inputs, output):
        return [ChannelSlot(layer, analysis.atoms(output), {self._gamma(layer): 0})]

    def rebuild(self, decision, layer, inputs, output, config, weights):
        keep, name = decision.keep(output), self._gamma(layer)
        config["projection_dim"] = int(keep.sum())
        return config, {name: weights[name][keep]}


class ConcatenateRule(LayerRule):
    """Concatenate on the last axis: the output's channels are the inputs' side by side."""

    single_input = False

    def applies(self, layer, inputs) -> bool:
        rank = len(inputs[0].shape)
        return layer.axis % rank == rank - 1

    def propagate(self, analysis, layer, inputs, output) -> None:
        analysis.assign(output, np.concatenate([analysis.atoms(t) for t in inputs]),
                        np.concatenate([analysis.values(t) for t in inputs]))


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


def _register() -> None:
    layers = keras.layers
    kinds = {
        BatchNormRule(): (layers.BatchNormalization,),
        ActivationRule(): (layers.ReLU, layers.LeakyReLU, layers.ELU, layers.Activation),
        PassThroughRule(): (
            layers.Identity, layers.Dropout, layers.SpatialDropout1D, layers.SpatialDropout2D,
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
    applications = _compat.applications_layers()
    kinds[ElementwiseRule()] = (*_compat.elementwise_operations(),
                                applications["CustomScaleLayer"])
    kinds[LayerScaleRule()] = (applications["LayerScale"],)
    for rule, classes in kinds.items():
        for layer_class in classes:
            register_layer_rule(layer_class, rule)


_register()
