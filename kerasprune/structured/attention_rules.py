"""Rules for attention: heads and feed-forward units are channels that live inside a layer.

A head is its query, key and value columns (`[d_model, heads, head_dim]` kernels, axis 1)
and its rows of the output projection (`[heads, head_dim, d_out]`, axis 0). A head
whose output rows are all zero (or whose value projection is all zero) adds nothing to
the output, so `shrink` rebuilds the layer with fewer heads. The attention's inputs keep
their width (the output width follows the query's) and its outputs are new channels.

KerasHub's `TransformerEncoder` (matched by its registered name, so KerasHub is not
imported here) holds an attention and a feed-forward block; a feed-forward unit is its
up-projection column and its down-projection row. A unit whose column is zero outputs a
constant that the down-projection's bias absorbs, so `shrink` rebuilds the encoder with a
smaller `intermediate_dim`. The encoder derives its head size from its width and head
count, so an encoder that loses heads is rebuilt as a `HeadPrunedTransformerEncoder`,
which keeps the head size.
"""

from __future__ import annotations

import numpy as np
import keras

from kerasprune.core.registry import score_macs
from kerasprune.structured.kerashub_encoder import head_pruned_encoder_class
from kerasprune.structured.layer_rules import (
    ChannelSlot,
    LayerRule,
    apply_known,
    is_pointwise,
    positions,
    register_layer_rule,
    variables_by_name,
)

_HEAD_AXES = {"query/kernel": 1, "query/bias": 0, "key/kernel": 1, "key/bias": 0,
              "value/kernel": 1, "value/bias": 0, "attention_output/kernel": 0}
_SCORED = ("query/kernel", "key/kernel", "value/kernel", "attention_output/kernel")


class MultiHeadAttentionRule(LayerRule):
    """`keras.layers.MultiHeadAttention` (one attention axis): heads are prunable."""

    single_input = None

    def applies(self, layer, inputs) -> bool:
        return layer.built

    def propagate(self, analysis, layer, inputs, output) -> None:
        for tensor in inputs:
            analysis.pin(tensor, f"it enters the attention layer '{layer.name}', whose "
                         "input width is kept")
        heads = analysis.new_atoms(layer.num_heads)
        analysis.set_internal(layer, heads)
        analysis.require(heads, dead_heads(analysis, layer, ""),
                         f"a head of '{layer.name}' still adds to its output")
        analysis.fresh(output, np.full(output.shape[-1], np.nan))

    def slots(self, analysis, layer, inputs, output):
        names = variables_by_name(layer)
        axes = {name: axis for name, axis in _HEAD_AXES.items() if name in names}
        return [ChannelSlot(layer, analysis.internal(layer), axes, _SCORED)]

    def cost(self, decision, layer, inputs, output):
        heads = int(decision.keep(decision.internal(layer)).sum())
        value = inputs[1] if len(inputs) > 1 else inputs[0]
        return attention_cost(heads, layer.key_dim, layer.value_dim or layer.key_dim,
                              inputs[0], value, output.shape[-1], layer.use_bias)

    def rebuild(self, decision, layer, inputs, output, config, weights):
        keep = decision.keep(decision.internal(layer))
        config["num_heads"] = int(keep.sum())
        return config, drop_heads(keep, weights, "")


class TransformerEncoderRule(LayerRule):
    """KerasHub's `TransformerEncoder`: attention heads and feed-forward units are prunable."""

    single_input = None
    attention, up, down = "self_attention_layer/", "feedforward_intermediate_dense/", (
        "feedforward_output_dense/")

    def applies(self, layer, inputs) -> bool:
        return layer.built

    def propagate(self, analysis, layer, inputs, output) -> None:
        for tensor in inputs:
            analysis.pin(tensor, f"it enters the encoder block '{layer.name}', whose width "
                         "is kept")
        heads = analysis.new_atoms(layer.num_heads)
        units = analysis.new_atoms(layer.intermediate_dim)
        analysis.set_internal(layer, np.concatenate([heads, units]))
        analysis.require(heads, dead_heads(analysis, layer, self.attention),
                         f"a head of '{layer.name}' still adds to its output")
        dead = ~analysis.weight(layer, self.down + "kernel").any(axis=1)
        if is_pointwise(layer.activation):  # a zero column outputs activation(bias)
            dead |= ~analysis.weight(layer, self.up + "kernel").any(axis=0)
        analysis.require(units, dead, f"a feed-forward unit of '{layer.name}' is not constant")
        analysis.fresh(output, np.full(output.shape[-1], np.nan))

    def _split(self, analysis, layer) -> tuple[np.ndarray, np.ndarray]:
        atoms = analysis.internal(layer)
        return atoms[:layer.num_heads], atoms[layer.num_heads:]

    def slots(self, analysis, layer, inputs, output):
        heads, units = self._split(analysis, layer)
        names = variables_by_name(layer)
        head_axes = {self.attention + n: a for n, a in _HEAD_AXES.items()
                     if self.attention + n in names}
        unit_axes = {self.up + "kernel": -1, self.up + "bias": 0, self.down + "kernel": 0}
        return [ChannelSlot(layer, heads, head_axes, tuple(self.attention + n for n in _SCORED)),
                ChannelSlot(layer, units, unit_axes, (self.up + "kernel", self.down + "kernel"))]

    def cost(self, decision, layer, inputs, output):
        heads, units = (int(decision.keep(a).sum()) for a in self._split(decision, layer))
        width, size = output.shape[-1], head_size(layer)
        macs, params = attention_cost(heads, size, size, inputs[0], inputs[0], width, True)
        ffn = 2 * units * width
        return macs + positions(output) * ffn, params + ffn + units + width

    def rebuild(self, decision, layer, inputs, output, config, weights):
        heads, units = self._split(decision, layer)
        if not decision.keep(heads).all():
            config["key_dim"] = head_size(layer)
            config["num_heads"] = int(decision.keep(heads).sum())
            weights = drop_heads(decision.keep(heads), weights, self.attention)
        keep = decision.keep(units)
        up_kernel, up_bias = weights[self.up + "kernel"], weights[self.up + "bias"]
        down_kernel = weights[self.down + "kernel"]
        constants = (apply_known(layer.activation, up_bias[~keep])
                     if is_pointwise(layer.activation) else np.zeros((~keep).sum()))
        weights[self.down + "bias"] = weights[self.down + "bias"] + (
            constants[:, None] * down_kernel[~keep]).sum(axis=0).astype(down_kernel.dtype)
        weights[self.up + "kernel"], weights[self.up + "bias"] = up_kernel[:, keep], up_bias[keep]
        weights[self.down + "kernel"] = down_kernel[keep]
        config["intermediate_dim"] = int(keep.sum())
        return config, weights

    def rebuilt_class(self, decision, layer) -> type:
        heads, _ = self._split(decision, layer)
        if decision.keep(heads).all():
            return type(layer)
        return head_pruned_encoder_class()


def head_size(encoder) -> int:
    """The head size of a KerasHub encoder (its query kernel is width x heads x size)."""
    return int(variables_by_name(encoder)[TransformerEncoderRule.attention
                                          + "query/kernel"].shape[2])


def drop_heads(keep: np.ndarray, weights: dict, prefix: str) -> dict:
    """`weights` of an attention (its names below `prefix`) with the heads `keep` drops."""
    for name, axis in _HEAD_AXES.items():
        if prefix + name in weights:
            weights[prefix + name] = np.compress(keep, weights[prefix + name], axis=axis)
    return weights


def dead_heads(analysis, layer, prefix: str) -> np.ndarray:
    """Heads whose output rows or value columns are all zero."""
    out_rows = analysis.weight(layer, prefix + "attention_output/kernel")
    value = analysis.weight(layer, prefix + "value/kernel")
    heads = out_rows.shape[0]
    return ~out_rows.reshape(heads, -1).any(axis=1) | ~np.moveaxis(value, 1, 0).reshape(
        heads, -1).any(axis=1)


def attention_cost(heads, key_dim, value_dim, query, value, d_out, use_bias) -> tuple[int, int]:
    """Multiply-accumulates and parameters of an attention with `heads` heads."""
    t_q, t_v = positions(query), positions(value)
    d_q, d_v = query.shape[-1], value.shape[-1]
    params = heads * (d_q * key_dim + d_v * key_dim + d_v * value_dim + value_dim * d_out)
    macs = (t_q * heads * key_dim * d_q + t_v * heads * (key_dim + value_dim) * d_v
            + score_macs(t_q, t_v, heads, key_dim, value_dim) + t_q * heads * value_dim * d_out)
    return macs, params + use_bias * (heads * (2 * key_dim + value_dim) + d_out)


register_layer_rule(keras.layers.MultiHeadAttention, MultiHeadAttentionRule())
register_layer_rule("keras_hub>TransformerEncoder", TransformerEncoderRule())
