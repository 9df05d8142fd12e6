"""structured: pruning whole channels, units, heads and N:M groups, and shrinking the model.

Owns the group criteria (L1, L2, L0, Taylor of first and second order, APoZ, mean
activation, FPGM, cosine, correlation, entropy, LDA, random; attention
heads), the structured mask patterns (`Channels`, `NM`), the channel groups of a model
graph and their selection, and `shrink`, the surgery that rebuilds a smaller dense model.
`layer_rules` holds the rule interface (how channels flow through a layer type, which
weights hold them, its cost, how to rebuild it smaller); rules are registered into the
layer type's spec (`kerasprune.core.registry`), with the built-in rules in `conv_rules`,
`channelwise_rules` and `attention_rules`. `channel_analysis` builds the graph of channels
once (`ChannelAnalysis`, never changed afterwards) and what to remove is a `Decision` on
it, whose cost is a pure function (`kerashub_encoder` is the KerasHub encoder rebuilt with
fewer heads); `channel_groups` finds the groups pruning must remove together;
`group_selection` is the channel patterns' selector: it makes a unit of each set of
coupled layers and selects them in their scope with `kerasprune.core.scopes`, as weights
are; `surgery` rebuilds.
`latency_cost` predicts a model's latency from a per-layer table (`target="latency"`).
May import: `kerasprune.core`, `kerasprune._compat`, keras, numpy; inside functions also
keras_hub (the head-pruned encoder) and `tflite_export` (the default latency table,
measured with LiteRT).
"""
