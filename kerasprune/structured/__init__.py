"""structured: pruning whole channels, units, heads and N:M groups, and shrinking the model.

Owns the group criteria (L1, L2, Taylor, APoZ, mean activation, random; attention
heads), the structured mask patterns (`Channels`, `NM`), the Taylor criterion's data
the channel groups of a model graph and their selection, and
`shrink`, the surgery that rebuilds a smaller dense model. `layer_rules` holds the rule
interface and registry (one rule per layer type: how channels flow through it, which
weights hold them, its cost, how to rebuild it smaller), with the built-in rules in
`conv_rules`, `channelwise_rules` and `attention_rules`; `channel_analysis` follows
channels through the graph (`kerashub_encoder` is the KerasHub encoder rebuilt with
fewer heads); `channel_groups` finds the groups pruning must remove
together; `group_selection` chooses them with `kerasprune.core.selection.select_pruned`;
`surgery` rebuilds.
May import: `kerasprune.core`, `kerasprune._compat`, keras, numpy; inside functions also
keras_hub (the head-pruned encoder).
"""
