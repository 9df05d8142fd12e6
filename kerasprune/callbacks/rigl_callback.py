"""`RigLCallback`: dynamic sparse training with regrowth (RigL) inside `model.fit`.

RigL (Evci et al., 2020, "Rigging the Lottery") trains a sparse model from the start and
lets its connections move:

1. at fit's first step the model is pruned to the target once (by magnitude, with each
   wrapper's scope, overrides and allocation, e.g. `scope="global"`);
2. every `update_every` steps until `end_epoch`, in each pruned weight, the fraction
   `f(t)` of live weights of lowest magnitude is dropped and as many dead weights are
   regrown where the dense loss gradient is largest (regrown weights start at zero);
   `f(t) = drop_fraction / 2 * (1 + cos(pi * t / end_step))` decays to 0;
3. after `end_epoch` the masks stay fixed.

Every weight keeps its count of live weights, so the sparsity stays exactly at the
target while the masks change. The dense gradients come from `data`, a
`kerasprune.CriterionData(x, y)` sample (RigL uses the current minibatch's gradient; a
callback does not see it, so a fixed sample from the training data stands in).

Everything is a function of fit's step and the masks (variables of the model), so a run
resumes exactly with `BackupAndRestore` or from a `.keras` file with `initial_epoch`.
"""

from __future__ import annotations

import math

import keras

from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.core.criterion_data import CriterionData
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.regrowth import can_regrow
from kerasprune.core.selectors import DropAndRegrow, ToTarget
from kerasprune.core.sparsity_schedules import ConstantSparsity, SparsitySchedule
from kerasprune.core.validation import check_int, check_sparsity, is_number

_DEFAULT_END = 0.75  # RigL stops updating masks at 3/4 of training


@keras.saving.register_keras_serializable(package="kerasprune")
class RigLCallback(BasePruningCallback):
    """Sparse training with drop-and-regrow mask updates (RigL) in one `model.fit`.

    Writes `sparsity` and `drop_fraction` (the current `f(t)`) into `logs`;
    `mask_updates` holds one record per drop-and-regrow update of this fit (step,
    fraction, weights regrown).

    Args:
        target_sparsity: the sparsity held throughout training, in (0, 1).
        data: a `kerasprune.CriterionData(x, y)` (a few hundred training examples)
            whose loss gradients choose where to regrow. Required before training; it
            is data, so `get_config` leaves it out (set it again after `from_config`).
        update_every: steps between mask updates (RigL uses 100).
        drop_fraction: fraction of live weights moved at the first update, in (0, 1);
            decays to 0 on a cosine.
        end_epoch: the fit epoch at which updates stop; default 3/4 of fit's `epochs`.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
    ...                                            keras.layers.Dense(1)]))
    >>> model.compile("adam", "mse")
    >>> x, y = np.random.rand(64, 8), np.random.rand(64, 1)
    >>> rigl = kerasprune.RigLCallback(0.75, data=kerasprune.CriterionData(x, y),
    ...                                update_every=2, end_epoch=2)
    >>> history = model.fit(x, y, epochs=2, batch_size=16, callbacks=[rigl], verbose=0)
    >>> history.history["sparsity"], len(rigl.mask_updates) > 0
    ([0.75, 0.75], True)
    """

    total_epochs = 1  # the target is reached at the first step

    def __init__(
        self,
        target_sparsity: float,
        *,
        data: CriterionData | None = None,
        update_every: int = 100,
        drop_fraction: float = 0.3,
        end_epoch: int | None = None,
        importance: CriterionData | None = None,
    ):
        check_sparsity("target_sparsity", target_sparsity, allow_zero=False)
        super().__init__(target_sparsity, data=data, importance=importance)
        self.update_every = check_int("update_every", update_every, minimum=1)
        if not (is_number(drop_fraction) and 0.0 < drop_fraction < 1.0):
            raise ValueError(
                "`drop_fraction` must be a float in (0, 1). "
                f"Received: drop_fraction={drop_fraction!r}"
            )
        self.drop_fraction = float(drop_fraction)
        self.end_epoch = None if end_epoch is None else check_int("end_epoch", end_epoch, minimum=1)
        self.mask_updates: list[dict] = []
        self._first_step_done = False

    # -- policy -------------------------------------------------------------------------

    def check_begin(self) -> None:
        if self.data is None or self.data.y is None:
            raise ValueError(
                "RigLCallback regrows where the loss gradient is largest: pass "
                "`data=kerasprune.CriterionData(x_sample, y_sample)`. "
                f"Received: data={self.data!r}"
            )
        for wrapper in prune_wrappers(self.model):
            if wrapper.follows is None and not can_regrow(wrapper.pattern):
                raise ValueError(
                    f"RigLCallback drops weights by magnitude and regrows them by gradient, "
                    f"so it needs unstructured or block patterns; layer '{wrapper.layer.name}' "
                    f"has pattern {wrapper.pattern!r}."
                )
        self.mask_updates = []
        self._first_step_done = False

    def make_schedule(self, steps_per_epoch: int) -> SparsitySchedule:
        end = self.end_step(steps_per_epoch)
        if self.update_every > end:
            raise ValueError(
                f"update_every={self.update_every} steps is longer than the update phase "
                f"({end} steps = {end // steps_per_epoch} epochs x {steps_per_epoch} steps): "
                "the masks would never move. Lower `update_every` or raise `end_epoch`."
            )
        return ConstantSparsity(self.target_sparsity, 0, end, self.update_every)

    def end_step(self, steps_per_epoch: int) -> int:
        """The step after which the masks stay fixed."""
        if self.end_epoch is not None:
            return self.end_epoch * steps_per_epoch
        epochs = (self.params or {}).get("epochs") or 1
        return max(1, int(_DEFAULT_END * epochs * steps_per_epoch))

    def drop_fraction_at(self, step: int) -> float:
        """`f(t)`: the cosine-decayed fraction of live weights moved at `step`."""
        end = self.schedule.end_step
        if step > end:
            return 0.0
        return self.drop_fraction / 2 * (1 + math.cos(math.pi * step / end))

    def prunes_at(self, step: int) -> bool:
        return not self._first_step_done or self._moves_at(step)

    def _moves_at(self, step: int) -> bool:
        return step > 0 and self.schedule.updates_at(step) and step < self.schedule.end_step

    def selectors(self, step: int, target: float) -> list:
        selectors = []
        if not self._first_step_done:
            # Idempotent: a model already at the target (a resumed run) is left as it is.
            selectors.append(ToTarget())
        if self._moves_at(step):
            paths = [v.path for w in prune_wrappers(self.model) if w.follows is None
                     for v in w.pruned_weights]
            gradients = self.data.gradients(self.model, paths=paths)
            selectors.append(DropAndRegrow(self.drop_fraction_at(step), gradients))
        return selectors

    def on_pruned(self, step: int, target: float, records: list) -> None:
        self._first_step_done = True
        moved = records[-1].selector
        if isinstance(moved, DropAndRegrow):
            self.mask_updates.append({"step": step, "drop_fraction": moved.fraction,
                                      "regrown": moved.regrown})

    def progress_logs(self) -> dict[str, float]:
        if self.schedule is None:
            return {}
        return {"drop_fraction": self.drop_fraction_at(self.global_step(0))}

    def get_config(self) -> dict:
        return {
            "target_sparsity": self.target_sparsity,
            "update_every": self.update_every,
            "drop_fraction": self.drop_fraction,
            "end_epoch": self.end_epoch,
        }
