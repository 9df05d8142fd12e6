"""structured: pruning whole channels, units and N:M groups, and shrinking the model.

Owns the group criteria (L1, L2, Taylor, APoZ, mean activation, random; attention
heads), the structured mask patterns (`Channels`, `NM`), the Taylor criterion's data
(`TaylorImportance`) and `shrink`, the surgery that rebuilds a smaller dense model, with
one rule per layer type.
May import: `kerasprune.core`, `kerasprune._compat`, keras, numpy.
"""
