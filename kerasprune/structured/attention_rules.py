"""Rules for attention: `MultiHeadAttention` heads are channels that live inside the layer.

A head is its query, key and value columns (`[d_model, heads, head_dim]` kernels, axis 1)
and its rows of the output projection (`[heads, head_dim, d_out]`, axis 0). A head
whose output rows are all zero (or whose value projection is all zero) adds nothing to
the output, so `shrink` rebuilds the layer with fewer heads. The attention's inputs keep
their width (the output width follows the query's) and its outputs are new channels.
"""

from __future__ import annotations

import numpy as np
import keras

from kerasprune.structured.layer_rules import (
    ChannelSlot,
    LayerRule,
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
            analysis.require(analysis.atoms(tensor), np.zeros(tensor.shape[-1], dtype=bool),
                             f"it enters the attention layer '{layer.name}', whose input "
                             "width is kept")
        heads = analysis.new_atoms(layer.num_heads)
        analysis.set_internal(layer, heads)
        out_rows = analysis.weight(layer, "attention_output/kernel")
        value = analysis.weight(layer, "value/kernel")
        dead = ~out_rows.reshape(layer.num_heads, -1).any(axis=1) | ~np.moveaxis(
            value, 1, 0).reshape(layer.num_heads, -1).any(axis=1)
        analysis.require(heads, dead, f"a head of '{layer.name}' still adds to its output")
        analysis.fresh(output, np.full(output.shape[-1], np.nan))

    def slots(self, analysis, layer, inputs, output):
        names = variables_by_name(layer)
        axes = {name: axis for name, axis in _HEAD_AXES.items() if name in names}
        return [ChannelSlot(layer, analysis.internal(layer), axes, _SCORED)]

    def cost(self, analysis, layer, inputs, output):
        heads = int(analysis.keep(analysis.internal(layer)).sum())
        query, value = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
        key_dim, value_dim = layer.key_dim, layer.value_dim or layer.key_dim
        t_q, t_v = positions(query), positions(value)
        d_q, d_v, d_out = query.shape[-1], value.shape[-1], output.shape[-1]
        projections = heads * (d_q * key_dim + d_v * key_dim + d_v * value_dim
                               + value_dim * d_out)
        macs = (t_q * heads * key_dim * d_q + t_v * heads * (key_dim + value_dim) * d_v
                + t_q * t_v * heads * (key_dim + value_dim) + t_q * heads * value_dim * d_out)
        biases = layer.use_bias * (heads * (2 * key_dim + value_dim) + d_out)
        return macs, projections + biases

    def rebuild(self, analysis, layer, inputs, output, config, weights):
        keep = analysis.keep(analysis.internal(layer))
        config["num_heads"] = int(keep.sum())
        for name, axis in _HEAD_AXES.items():
            if name in weights:
                weights[name] = np.compress(keep, weights[name], axis=axis)
        return config, weights


register_layer_rule(keras.layers.MultiHeadAttention, MultiHeadAttentionRule())
