"""`Pruning`: TFMOT's per-layer pruning logic (a wrapper's `pruning_obj`).

At a step, the wrapper's schedule says whether to prune and to which sparsity (with
`sparsity_m_by_n`, only at step 1); the masks are then those TFMOT computes
(`kerasprune.tfmot.sparsity.keras.mask_rules`), written by kerasprune's mask update. The
steps are counted by the wrapper's `pruning_step`, which its training calls advance. A step
that passed without a decision (a compiled train step cannot run this code, and a custom
loop may skip `on_train_batch_begin`) is caught up on the next occasion: `catch_up(step)`
applies the last update the schedule asked for since the last decision, so the masks end
as TFMOT's would.
"""

from __future__ import annotations

import numpy as np

from kerasprune.core.mask_update import write_masks
from kerasprune.core.validation import check_finite_weights
from kerasprune.tfmot.sparsity.keras.mask_rules import MByNMask, TFMOTMasks, threshold_of

#: TFMOT's threshold of an m-by-n mask, which has none.
M_BY_N_THRESHOLD = 999.0


class Pruning:
    """Decides and updates the masks of one `PruneLowMagnitude` wrapper, as TFMOT does.

    Args:
        wrapper: the built `PruneLowMagnitude` layer.

    Example:

    >>> import keras
    >>> import kerasprune.tfmot as tfmot
    >>> wrapper = tfmot.sparsity.keras.prune_low_magnitude(keras.layers.Dense(4))
    >>> wrapper.build((None, 25))
    >>> wrapper.pruning_obj.update(0.5)  # TFMOT keeps round(100 * 0.5) = 50 weights
    >>> wrapper.sparsity
    0.5
    """

    def __init__(self, wrapper):
        self._wrapper = wrapper
        #: The last step whose decision was taken (None: the one before the next step).
        self.checked_step: int | None = None

    def decision(self, step: int) -> tuple[bool, float]:
        """`(should_prune, sparsity)` at `step`: the schedule's, or m-by-n's step 1."""
        wrapper = self._wrapper
        if wrapper.sparsity_m_by_n is not None:
            zeros, run = wrapper.sparsity_m_by_n
            return step == 1, zeros / run
        return wrapper.pruning_schedule.decision(step)

    def last_pruning_step(self, after: int, upto: int) -> int | None:
        """The last step in `(after, upto]` at which a mask update is due, or None."""
        if self._wrapper.sparsity_m_by_n is not None:
            return 1 if after < 1 <= upto else None
        return self._wrapper.pruning_schedule.last_pruning_step(after, upto)

    def catch_up(self, step: int) -> bool:
        """Apply the update due at the last pruning step up to `step` not decided yet.

        Returns whether the masks changed.
        """
        after = step - 1 if self.checked_step is None else self.checked_step
        self.checked_step = max(step, after)
        due = self.last_pruning_step(after, step)
        if due is None:
            return False
        self.update(self.decision(due)[1])
        return True

    def conditional_mask_update(self, step: int | None = None) -> bool:
        """Update the masks if a mask update is due at `step` (default: the wrapper's
        `pruning_step`); returns whether it was."""
        if step is None:
            step = self._wrapper.current_step()
        return self.catch_up(step)

    def update(self, sparsity: float) -> None:
        """Set the masks TFMOT computes at `sparsity` from the current weights."""
        wrapper = self._wrapper
        if not wrapper.masks:
            return
        thresholds = [self._threshold(weight, sparsity) for weight in wrapper.pruned_weights]
        check_finite_weights([wrapper])
        selector = TFMOTMasks({wrapper: sparsity})
        write_masks(selector.select(None, [wrapper], sparsity, sparsity), selector=selector)
        for variable, value in zip(wrapper.thresholds, thresholds):
            variable.assign(value)

    def _threshold(self, weight, sparsity: float) -> float:
        pattern = self._wrapper.pattern
        if isinstance(pattern, MByNMask):
            return M_BY_N_THRESHOLD
        scores, _ = pattern.group_scores(np.asarray(weight))
        return threshold_of(scores, sparsity)

    def weight_mask_op(self) -> None:
        """Multiply each pruned weight by its mask again (TFMOT's re-masking; the masks
        here are hard, so this only matters after weights were set by hand)."""
        self._wrapper.apply_masks()
