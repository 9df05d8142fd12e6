"""`PenaltyPruningCallback`: penalty-based pruning (L1, group lasso) inside `model.fit`.

Train a model made with `kerasprune.prune(model, penalty=strength)`: every pruned weight
carries a group-lasso penalty over its pattern's groups (L1 for single weights), which
drives unneeded groups toward zero. Then:

1. penalty phase (`penalty_epochs`): every `update_every` steps and at the phase's end
   the groups whose RMS norm `||w_g|| / sqrt(|g|)` is below `threshold` are removed
   (masked; masks only grow). A weight always keeps its largest group, so no layer is
   emptied;
2. at the end of the penalty phase, if `target_sparsity` is given and the threshold left
   the model below it, the lowest-scoring remaining groups are removed to reach it
   exactly; the penalty is taken off the weights;
3. fine-tuning (`finetune_epochs`) with frozen masks.

Logs: `sparsity`, `threshold_sparsity` (what the threshold alone reached, the penalty's
own result) and `stage` (0 penalty, 1 fine-tuning). The threshold sparsity is kept in the
model's `PruningState`, so a resumed run reports it too.
"""

from __future__ import annotations

import warnings

import keras

from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.criterion_data import CriterionData
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.selectors import Threshold
from kerasprune.core.sparsity_schedules import ConstantSparsity, SparsitySchedule
from kerasprune.core.validation import (
    check_int,
    check_positive,
    check_sparsity,
    check_update_every,
)


@keras.saving.register_keras_serializable(package="kerasprune")
class PenaltyPruningCallback(BasePruningCallback):
    """Remove groups whose norm a penalty drove below `threshold`, then fine-tune.

    Args:
        threshold: groups with RMS norm below it are removed (in the units of a weight's
            magnitude, whatever the group size).
        penalty_epochs: epochs of training with the penalty, removing groups as they fall.
        finetune_epochs: epochs with frozen masks and no penalty at the end.
        update_every: `"epoch"` or a number of steps between removals.
        target_sparsity: if given, the sparsity reached at the start of fine-tuning: the
            lowest-scoring groups left are removed when the threshold fell short (a
            warning says when it overshot).
        data: a `kerasprune.CriterionData` for a data-driven criterion of that top-up
            (Taylor, APoZ, SNIP).

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
    ...                                            keras.layers.Dense(1)]), penalty=1e-2)
    >>> model.compile("adam", "mse")
    >>> x, y = np.random.rand(64, 8), np.random.rand(64, 1)
    >>> callback = kerasprune.PenaltyPruningCallback(0.05, penalty_epochs=2,
    ...     finetune_epochs=1, target_sparsity=0.5)
    >>> history = model.fit(x, y, epochs=3, callbacks=[callback], verbose=0)
    >>> round(history.history["sparsity"][-1], 2), history.history["stage"]
    (0.5, [0, 0, 1])
    """

    def __init__(
        self,
        threshold: float,
        *,
        penalty_epochs: int,
        finetune_epochs: int,
        update_every: str | int = "epoch",
        target_sparsity: float | None = None,
        data: CriterionData | None = None,
    ):
        super().__init__(0.0 if target_sparsity is None else
                         check_sparsity("target_sparsity", target_sparsity), data=data)
        self.threshold = check_positive("threshold", threshold)
        self.penalty_epochs = check_int("penalty_epochs", penalty_epochs, minimum=1)
        self.finetune_epochs = check_int("finetune_epochs", finetune_epochs)
        self.update_every = check_update_every(update_every)
        self.target = target_sparsity

    @property
    def total_epochs(self) -> int:
        return self.penalty_epochs + self.finetune_epochs

    # -- policy -------------------------------------------------------------------------

    def state_spec(self, model: keras.Model) -> dict[str, list[int]]:
        return {"threshold_sparsity": []}

    def check_begin(self) -> None:
        if not any(w.penalized for w in prune_wrappers(self.model)):
            warnings.warn(
                "PenaltyPruningCallback: no pruned weight carries a penalty, so only the "
                "threshold acts. Create the model with kerasprune.prune(model, penalty=...).",
                stacklevel=user_stacklevel(),
            )

    def make_schedule(self, steps_per_epoch: int) -> SparsitySchedule:
        penalty_steps = self.penalty_epochs * steps_per_epoch
        frequency = steps_per_epoch if self.update_every == "epoch" else self.update_every
        if frequency > penalty_steps:
            raise ValueError(
                f"update_every={self.update_every} ({frequency} steps) is longer than the "
                f"penalty phase ({penalty_steps} steps): no group would ever be removed."
            )
        # Removals after each `frequency` steps of training (never at step 0, before any);
        # the last one, with the top-up to the target, ends the phase in `on_epoch_end`.
        return ConstantSparsity(self.target_sparsity, 0, penalty_steps, frequency)

    def prunes_at(self, step: int) -> bool:
        return self.schedule.updates_at(step) and 0 < step < self.schedule.end_step

    def selectors(self, step: int, target: float) -> list:
        selectors = [Threshold(self.threshold)]
        if step >= self.schedule.end_step and self.target is not None:
            # the top-up (the policy's default: nothing to do when already there)
            selectors += super().selectors(step, target)
        return selectors

    def on_pruned(self, step: int, target: float, records: list) -> None:
        reached = records[0].sparsity  # the threshold's own result
        self.state.write("threshold_sparsity", reached)
        if step >= self.schedule.end_step and self.target is not None and (
                reached > self.target + 1e-3):
            warnings.warn(
                f"PenaltyPruningCallback: the threshold {self.threshold} removed more than "
                f"the target: sparsity {reached:.4f} > target_sparsity {self.target}. "
                "Lower the threshold or the penalty.",
                stacklevel=user_stacklevel(),
            )

    def _remove_penalty(self) -> None:
        wrappers = [w for w in prune_wrappers(self.model) if w.penalized]
        for wrapper in wrappers:
            wrapper.remove_penalty()
        if wrappers:
            self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        if epoch >= self.penalty_epochs:
            self._remove_penalty()  # a run resumed into fine-tuning has it back from config

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.penalty_epochs - 1:  # the phase ends: last removal, then no penalty
            self.prune_now(self.schedule.end_step, self.target_sparsity)
            self._remove_penalty()
        super().on_epoch_end(epoch, logs)

    def progress_logs(self) -> dict[str, float]:
        return {"threshold_sparsity": float(self.state.read("threshold_sparsity")),
                "stage": int(self.epoch >= self.penalty_epochs)}

    @property
    def threshold_sparsity(self) -> float:
        """The sparsity the threshold alone reached (before any top-up to the target)."""
        return float(self.state.read("threshold_sparsity"))

    def get_config(self) -> dict:
        return {
            "threshold": self.threshold,
            "penalty_epochs": self.penalty_epochs,
            "finetune_epochs": self.finetune_epochs,
            "update_every": self.update_every,
            "target_sparsity": self.target,
        }
