"""Rules for the layers that make channels: Conv/Dense, depthwise, transposed and separable
convs, embeddings.

Each of these layers creates its output channels (new atoms) and holds them in its
kernel's output axis, so its output channels are slots of channel groups. A dead output
channel (all-zero kernel slice) carries its bias through the layer's activation. A
constant input channel can be dropped when the layer can absorb the constant into its
bias: always for 0, otherwise only where no zero padding makes it position-dependent.
"""

from __future__ import annotations

import numpy as np
import keras

from kerasprune.structured.layer_rules import (
    ChannelSlot,
    LayerRule,
    activate,
    kept,
    macs,
    register_layer_rule,
    resized,
)


_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)


def folds_constants(layer) -> bool:
    """True when a constant input channel becomes a constant bias (no zero padding)."""
    if isinstance(layer, keras.layers.Dense):
        return True
    return layer.padding == "valid" or all(k == 1 for k in layer.kernel_size)


def _bias(analysis, layer, n: int) -> np.ndarray:
    return analysis.weight(layer, "bias") if layer.use_bias else np.zeros(n)


def _kernel_positions(layer) -> int:
    return int(np.prod(layer.kernel.shape[:-2], dtype=np.int64))


def _output_slot(analysis, layer, output, kernel_axis: int) -> list[ChannelSlot]:
    axes = {"kernel": kernel_axis}
    if layer.use_bias:
        axes["bias"] = 0
    return [ChannelSlot(layer, analysis.atoms(output), axes, ("kernel",))]


class MixerRule(LayerRule):
    """Conv1D/2D/3D (ungrouped) and Dense: every output channel mixes all input channels."""

    def applies(self, layer, inputs) -> bool:
        return getattr(layer, "groups", 1) == 1

    def condition(self, layer) -> str:
        return "groups=1" if hasattr(layer, "groups") else ""

    def propagate(self, analysis, layer, inputs, output) -> None:
        x = inputs[0]
        if not folds_constants(layer):
            analysis.require(
                analysis.atoms(x), np.nan_to_num(analysis.values(x)) == 0,
                f"a removed channel would carry a non-zero constant into '{layer.name}', "
                "whose zero padding makes it position-dependent")
        kernel = analysis.weight(layer, "kernel")
        dead = ~kernel.reshape(-1, kernel.shape[-1]).any(axis=0)
        bias = _bias(analysis, layer, kernel.shape[-1])
        analysis.fresh(output, activate(layer, np.where(dead, bias, np.nan)))

    def slots(self, analysis, layer, inputs, output):
        return _output_slot(analysis, layer, output, -1)

    def cost(self, decision, layer, inputs, output):
        n_in, n_out = decision.keep(inputs[0]).sum(), decision.keep(output).sum()
        weights = _kernel_positions(layer) * int(n_in) * int(n_out)
        return macs(layer, inputs, output, weights), weights + int(n_out) * layer.use_bias

    def rebuild(self, decision, layer, inputs, output, config, weights):
        in_keep, out_keep = decision.keep(inputs[0]), decision.keep(output)
        kernel = weights["kernel"]
        values = np.nan_to_num(decision.values(inputs[0]))
        removed = kernel[..., ~in_keep, :] * values[~in_keep][:, None]
        folded = removed.reshape(-1, kernel.shape[-1]).sum(axis=0)
        bias = weights.get("bias", np.zeros(kernel.shape[-1])) + folded
        config["units" if isinstance(layer, keras.layers.Dense) else "filters"] = int(
            out_keep.sum())
        weights["kernel"] = kernel[..., in_keep, :][..., out_keep]
        if not layer.use_bias and np.any(folded != 0):
            config["use_bias"] = True
        if config.get("use_bias", layer.use_bias):
            weights["bias"] = bias[out_keep].astype(kernel.dtype)
        return config, weights

    def timed_channels(self, decision, layer, inputs, output):
        return kept(decision, inputs[0]), kept(decision, output)

    def timed_layer(self, layer, inputs, counts):
        key = "units" if isinstance(layer, keras.layers.Dense) else "filters"
        return resized(layer, inputs, counts[0], {key: int(counts[1])})


class DepthwiseRule(LayerRule):
    """One filter per channel: DepthwiseConv1D/2D with `depth_multiplier=1` (kernel
    `(..., channels, 1)`), or a Conv with `groups == filters == input channels` (kernel
    `(..., 1, channels)`, ConvNeXt's depthwise conv). Output channel i is input channel i.
    """

    def applies(self, layer, inputs) -> bool:
        if isinstance(layer, _DEPTHWISE):
            return layer.depth_multiplier == 1
        return 1 < layer.groups == layer.filters == inputs[0].shape[-1]

    def condition(self, layer) -> str:
        if isinstance(layer, _DEPTHWISE):
            return "depth_multiplier=1"
        return "groups equal to its filters and its input channels"

    @staticmethod
    def _axis(layer) -> int:
        return -2 if isinstance(layer, _DEPTHWISE) else -1

    def propagate(self, analysis, layer, inputs, output) -> None:
        x, axis = inputs[0], self._axis(layer)
        kernel = analysis.weight(layer, "kernel")
        per_channel = np.moveaxis(kernel, axis, -1).reshape(-1, kernel.shape[axis])
        bias = _bias(analysis, layer, kernel.shape[axis])
        values = analysis.values(x)
        zero_in = np.nan_to_num(values, nan=1.0) == 0
        constant = np.where(~per_channel.any(axis=0) | zero_in, bias, np.nan)
        if folds_constants(layer):
            constant = np.where(np.isnan(constant), values * per_channel.sum(axis=0) + bias,
                                constant)
        analysis.assign(output, analysis.atoms(x), activate(layer, constant))

    def slots(self, analysis, layer, inputs, output):
        return _output_slot(analysis, layer, output, self._axis(layer))

    def cost(self, decision, layer, inputs, output):
        n = int(decision.keep(output).sum())
        weights = _kernel_positions(layer) * n
        return macs(layer, inputs, output, weights), weights + n * layer.use_bias

    def rebuild(self, decision, layer, inputs, output, config, weights):
        keep, axis = decision.keep(output), self._axis(layer)
        weights["kernel"] = np.compress(keep, weights["kernel"], axis=axis)
        if axis == -1:
            config["filters"] = config["groups"] = int(keep.sum())
        if "bias" in weights:
            weights["bias"] = weights["bias"][keep]
        return config, weights

    def timed_channels(self, decision, layer, inputs, output):
        return (kept(decision, output),)

    def timed_layer(self, layer, inputs, counts):
        n = int(counts[0])
        changes = {} if self._axis(layer) == -2 else {"filters": n, "groups": n}
        return resized(layer, inputs, n, changes)


class TransposedConvRule(LayerRule):
    """Conv1D/2D/3DTranspose: kernel `(..., filters, in)`; outputs are new channels.

    A constant input channel spreads unevenly over the upsampled output, so only a zero
    input channel can be dropped.
    """

    def propagate(self, analysis, layer, inputs, output) -> None:
        x = inputs[0]
        analysis.require(
            analysis.atoms(x), np.nan_to_num(analysis.values(x)) == 0,
            f"a removed channel would carry a non-zero constant into '{layer.name}' "
            "(a transposed convolution)")
        kernel = analysis.weight(layer, "kernel")
        dead = ~np.moveaxis(kernel, -2, 0).reshape(kernel.shape[-2], -1).any(axis=1)
        bias = _bias(analysis, layer, kernel.shape[-2])
        analysis.fresh(output, activate(layer, np.where(dead, bias, np.nan)))

    def slots(self, analysis, layer, inputs, output):
        return _output_slot(analysis, layer, output, -2)

    def cost(self, decision, layer, inputs, output):
        n_in, n_out = decision.keep(inputs[0]).sum(), decision.keep(output).sum()
        weights = _kernel_positions(layer) * int(n_in) * int(n_out)
        return macs(layer, inputs, output, weights), weights + int(n_out) * layer.use_bias

    def rebuild(self, decision, layer, inputs, output, config, weights):
        in_keep, out_keep = decision.keep(inputs[0]), decision.keep(output)
        config["filters"] = int(out_keep.sum())
        weights["kernel"] = weights["kernel"][..., out_keep, :][..., in_keep]
        if "bias" in weights:
            weights["bias"] = weights["bias"][out_keep]
        return config, weights

    def timed_channels(self, decision, layer, inputs, output):
        return kept(decision, inputs[0]), kept(decision, output)

    def timed_layer(self, layer, inputs, counts):
        return resized(layer, inputs, counts[0], {"filters": int(counts[1])})


class SeparableConvRule(LayerRule):
    """SeparableConv1D/2D: a depthwise kernel `(..., in, multiplier)` per input channel,
    then a pointwise kernel `(1.., in * multiplier, filters)` making new channels.

    Only a zero input channel can be dropped (no depthwise bias to absorb a constant).
    """

    def propagate(self, analysis, layer, inputs, output) -> None:
        x = inputs[0]
        analysis.require(
            analysis.atoms(x), np.nan_to_num(analysis.values(x)) == 0,
            f"a removed channel would carry a non-zero constant into '{layer.name}' "
            "(a separable convolution)")
        pointwise = analysis.weight(layer, "pointwise_kernel")
        dead = ~pointwise.reshape(-1, pointwise.shape[-1]).any(axis=0)
        bias = _bias(analysis, layer, pointwise.shape[-1])
        analysis.fresh(output, activate(layer, np.where(dead, bias, np.nan)))

    def slots(self, analysis, layer, inputs, output):
        axes = {"pointwise_kernel": -1}
        if layer.use_bias:
            axes["bias"] = 0
        return [ChannelSlot(layer, analysis.atoms(output), axes, ("pointwise_kernel",))]

    def cost(self, decision, layer, inputs, output):
        n_in, n_out = int(decision.keep(inputs[0]).sum()), int(decision.keep(output).sum())
        spatial = int(np.prod(layer.depthwise_kernel.shape[:-2], dtype=np.int64))
        depthwise = spatial * n_in * layer.depth_multiplier
        pointwise = n_in * layer.depth_multiplier * n_out
        params = depthwise + pointwise + n_out * layer.use_bias
        return macs(layer, inputs, output, depthwise + pointwise), params

    def rebuild(self, decision, layer, inputs, output, config, weights):
        in_keep, out_keep = decision.keep(inputs[0]), decision.keep(output)
        rows = np.repeat(in_keep, layer.depth_multiplier)
        config["filters"] = int(out_keep.sum())
        weights["depthwise_kernel"] = weights["depthwise_kernel"][..., in_keep, :]
        weights["pointwise_kernel"] = weights["pointwise_kernel"][..., rows, :][..., out_keep]
        if "bias" in weights:
            weights["bias"] = weights["bias"][out_keep]
        return config, weights

    def timed_channels(self, decision, layer, inputs, output):
        return kept(decision, inputs[0]), kept(decision, output)

    def timed_layer(self, layer, inputs, counts):
        return resized(layer, inputs, counts[0], {"filters": int(counts[1])})


class EmbeddingRule(LayerRule):
    """Embedding: each output column is a new channel; an all-zero column outputs 0."""

    def applies(self, layer, inputs) -> bool:
        return type(layer) is keras.layers.Embedding  # subclasses may reuse the table

    def propagate(self, analysis, layer, inputs, output) -> None:
        table = analysis.weight(layer, "embeddings")
        analysis.fresh(output, np.where(table.any(axis=0), np.nan, 0.0))

    def slots(self, analysis, layer, inputs, output):
        return [ChannelSlot(layer, analysis.atoms(output), {"embeddings": -1}, ("embeddings",))]

    def cost(self, decision, layer, inputs, output):
        return 0, layer.input_dim * int(decision.keep(output).sum())

    def rebuild(self, decision, layer, inputs, output, config, weights):
        keep = decision.keep(output)
        config["output_dim"] = int(keep.sum())
        weights["embeddings"] = weights["embeddings"][:, keep]
        return config, weights


def _register() -> None:
    layers = keras.layers
    kinds = {
        MixerRule(): (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Dense),
        DepthwiseRule(): (layers.DepthwiseConv1D, layers.DepthwiseConv2D, layers.Conv1D,
                          layers.Conv2D, layers.Conv3D),
        TransposedConvRule(): (layers.Conv1DTranspose, layers.Conv2DTranspose,
                               layers.Conv3DTranspose),
        SeparableConvRule(): (layers.SeparableConv1D, layers.SeparableConv2D),
        EmbeddingRule(): (layers.Embedding,),
    }
    for rule, classes in kinds.items():
        for layer_class in classes:
            register_layer_rule(layer_class, rule)


_register()
