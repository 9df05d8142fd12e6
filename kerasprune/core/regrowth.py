"""Drop and regrow: RigL's mask update for one weight, on the one selection rule.

RigL (Evci et al., 2020) keeps a layer's sparsity fixed while its connections move: it
drops the live groups of lowest magnitude and regrows as many dead groups where the loss
gradient is largest. Both halves are `select_pruned` calls: the drop prunes more of the
live groups (masks only grow), the regrowth picks the dead groups of highest gradient
score (the live ones stay as they are). Regrown weights start at zero; a group dropped
and regrown at once keeps its value.
"""

from __future__ import annotations

import numpy as np

from kerasprune.core.patterns import Blocks, Unstructured
from kerasprune.core.selection import select_pruned


def can_regrow(pattern) -> bool:
    """Whether `pattern` scores groups by magnitude, so its groups can be dropped and regrown.

    Example:

    >>> can_regrow(Unstructured()), can_regrow(Unstructured("snip")), can_regrow(Blocks((4, 1)))
    (True, False, True)
    """
    if isinstance(pattern, Unstructured):
        return pattern.criterion == "magnitude"
    return isinstance(pattern, Blocks)


def drop_and_grow(
    pattern, weight: np.ndarray, mask: np.ndarray, gradient: np.ndarray, fraction: float
) -> tuple[np.ndarray, int]:
    """The new mask of one weight after dropping and regrowing `fraction` of its live groups.

    Args:
        pattern: the weight's mask pattern (`Unstructured()` or `Blocks`).
        weight: the weight's values (zero where masked).
        mask: its current 0/1 mask.
        gradient: the dense loss gradient of the weight (nonzero where masked too).
        fraction: the fraction of live groups to drop, in [0, 1].

    Returns:
        `(new mask, number of weights regrown that were dead before)`. The new mask has
        exactly as many zeros as `mask` when the pattern's groups have equal sizes.

    Example:

    >>> import numpy as np
    >>> w = np.array([[0.9, 0.1, 0.0, 0.0]])
    >>> g = np.array([[0.0, 0.0, 0.2, 0.8]])
    >>> new, moved = drop_and_grow(Unstructured(), w, (w != 0).astype("float32"), g, 0.5)
    >>> new.tolist(), moved
    ([[1.0, 0.0, 0.0, 1.0]], 1)
    """
    dead = pattern.pruned_groups(mask)
    magnitude, sizes = pattern.group_scores(weight)
    total = int(sizes.sum())
    alive_now = total - int(sizes[dead].sum())
    after_drop = select_pruned(magnitude, sizes, dead, 1.0 - alive_now * (1.0 - fraction) / total)
    grow_scores = pattern.group_scores(np.abs(gradient))[0]
    # Choose the groups to keep alive: the survivors of the drop are taken already, the
    # rest (the just-dropped included) compete by gradient, highest first.
    keep = select_pruned(-grow_scores, sizes, ~after_drop, alive_now / total)
    regrown = int(sizes[keep & dead].sum())
    return pattern.expand(keep, np.shape(weight)).astype(np.asarray(mask).dtype), regrown
