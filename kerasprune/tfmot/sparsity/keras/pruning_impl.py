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
from kerasprune.core.validation import is_number
from kerasprune.tfmot.sparsity.keras.mask_rules import (
    MByNMask,
    TFMOTMasks,
    kept_count,
    threshold_of,
)

#: TFMOT's threshold of an m-by-n mask, which has none.
M_BY_N_THRESHOLD = 999.0
#: How far below a target a layer's sparsity may end (ties, rounding) before it is named.
_SLACK = 1e-3


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
        #: `(step, sparsity)` when a shortfall was last looked for (`shortfall_warning`).
        self.said: tuple | None = None

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
        sparsity = self.decision(due)[1]
        if not 0.0 <= sparsity < 1.0:
            schedule = self._wrapper.pruning_schedule
            raise ValueError(
                f"{type(schedule).__name__} returned sparsity {sparsity:.6g} at step {due} for "
                f"layer '{self._wrapper.layer.name}': a schedule's sparsity must be in "
                "[0, 1). The masks were left as they were.")
        self.update(sparsity)
        return True

    def shortfall(self, step: int) -> str | None:
        """Why this layer ends below its schedule's final sparsity at `step`, or None
        when it does not (or the schedule's end is unknown, or it never fired, which has
        its own warning, or m-by-n sets it)."""
        wrapper, schedule = self._wrapper, self._wrapper.pruning_schedule
        target, last = _final_target(schedule), self.last_pruning_step(0, step)
        if wrapper.sparsity_m_by_n is not None or not wrapper.masks or None in (target, last):
            return None
        pruned, wanted, clamped = self._pruned_groups(target)
        where = f"'{wrapper.layer.name}' at {wrapper.sparsity:.4g} of final sparsity {target:.4g}"
        end = int(schedule.end_step)
        if pruned >= wanted - _SLACK:
            if not clamped:
                return None
            why = ("it is too small: TFMOT's rule keeps at least 1 of its "
                   f"{'blocks' if wrapper.block_size != (1, 1) else 'weights'} "
                   "(max(round(n * (1 - s)), 1))")
        elif step < end:
            why = f"training ended at step {step}, before end_step {end}"
        elif last < end:
            why = (f"the last mask update came at step {last}, before end_step {end} "
                   f"(updates come at begin_step {schedule.begin_step} + k * frequency "
                   f"{schedule.frequency})")
        else:
            why = (f"its masks are below what the schedule asked by step {step} (weights "
                   "restored from an earlier state?)")
        return f"{where}: {why}"

    def _pruned_groups(self, sparsity: float) -> tuple[float, float, bool]:
        """The fraction of the pattern's groups (weights or blocks) pruned, the fraction
        TFMOT's rule prunes at `sparsity`, and whether its "keep at least 1" lowered it."""
        pattern, total, pruned, wanted, clamped = self._wrapper.pattern, 0, 0, 0, False
        for weight, mask in zip(self._wrapper.pruned_weights, self._wrapper.masks):
            done = pattern.pruned_groups(np.asarray(mask))
            total += done.size
            pruned += int(np.count_nonzero(done))
            wanted += done.size - kept_count(done.size, sparsity)
            clamped |= np.rint(np.float32(done.size) * (1 - np.float32(sparsity))) < 1
        return pruned / total, wanted / total, bool(clamped)

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


def _final_target(schedule) -> float | None:
    """The sparsity a schedule asks for at its end (None when its end is unknown)."""
    begin, end = getattr(schedule, "begin_step", None), getattr(schedule, "end_step", None)
    if not (is_number(begin) and is_number(end)):
        return None
    return schedule.decision(int(end) if end >= 0 else max(int(begin), 1))[1]


def shortfall_warning(wrappers) -> str | None:
    """One message naming each trained wrapper below its schedule's final sparsity, each
    state said once (the end of `fit` and `strip_pruning` both ask)."""
    lines = []
    for wrapper in wrappers:
        if wrapper.pruning_obj is None or wrapper.current_step() < 1:
            continue
        state = (wrapper.current_step(), wrapper.sparsity)
        line = wrapper.pruning_obj.shortfall(state[0])
        if line and wrapper.pruning_obj.said != state:
            lines.append(line)
        wrapper.pruning_obj.said = state
    if not lines:
        return None
    return ("These layers end below their pruning schedule's final sparsity: "
            + "; ".join(lines) + ".")
