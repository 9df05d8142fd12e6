"""structured: pruning whole channels, units and N:M groups, and shrinking the model.

Owns the group criteria (L1, L2, Taylor, APoZ, mean activation, random; attention
heads), the structured mask patterns (`Channels`, `NM`), the Taylor criterion's data
(`TaylorImportance`) and `shrink`, the surgery that rebuilds a smaller dense model:
`layer_rules` holds one rule per layer type (how channels flow through it and how to
rebuild it smaller), `channel_analysis` decides which channels can go, `surgery` rebuilds
the model.
May import: `kerasprune.core`, `kerasprune._compat`, keras, numpy.
"""
