"""`PruningCallback`: gradual magnitude pruning (GMP) in three stages inside `model.fit`.

1. Stabilization: train without pruning (optionally at the pruning learning rate).
2. Pruning: raise the sparsity on a cubic schedule from `initial_sparsity` to the target,
   recomputing the masks every epoch or every `update_every` steps.
3. Fine-tuning: masks frozen; optional learning-rate reductions and removal of weight
   regularization (kernel regularizers and optimizer weight decay).

Everything the callback does is a function of fit's step and the masks, so a run resumes
exactly with `keras.callbacks.BackupAndRestore`, or from a saved `.keras` model with
`fit(initial_epoch=k)`, as with Keras' own schedulers.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from kerasprune import _compat
from kerasprune.callbacks.base_pruning_callback import (
    BasePruningCallback,
    check_settable_learning_rate,
)
from kerasprune.core.mask_update import overall_sparsity
from kerasprune.core.model_walk import all_layers, prune_wrappers
from kerasprune.core.sparsity_schedules import ConstantSparsity, PolynomialDecay, SparsitySchedule
from kerasprune.core.validation import (
    check_int,
    check_learning_rate,
    check_sparsity,
    check_update_every,
    is_bool,
)

STAGES = ("stabilization", "pruning", "finetuning")
_SCHEDULE_POWERS = {"cubic": 3.0, "linear": 1.0}


@keras.saving.register_keras_serializable(package="kerasprune")
class PruningCallback(BasePruningCallback):
    """Gradual magnitude pruning in one `model.fit`, with GMP's three stages.

    Writes `sparsity` (of all pruned weights), `stage` (0 stabilization, 1 pruning,
    2 fine-tuning) and `learning_rate` into `logs`, so they show on the progress bar and
    in `History`.

    Args:
        target_sparsity: final sparsity in [0, 1).
        stabilization_epochs: epochs of training before pruning starts.
        pruning_epochs: epochs over which sparsity rises to the target (>= 1).
        finetune_epochs: epochs of training with frozen masks at the end.
        initial_sparsity: sparsity set at the first update of the pruning stage.
        update_every: `"epoch"` (masks recomputed at the start of each pruning epoch) or
            an int number of steps.
        schedule: `"cubic"` (Zhu & Gupta), `"linear"`, `"one_shot"` (the target at the start
            of pruning), or a `SparsitySchedule` whose steps count from fit's first step
            (it only prunes during the pruning stage).
        pruning_learning_rate: learning rate of the stabilization and pruning stages, or
            None to keep the optimizer's.
        finetune_learning_rates: learning rates applied in turn over equal parts of the
            fine-tuning stage (e.g. `[1e-4, 1e-5]`), or None to keep the current one.
        remove_regularization: drop kernel regularizers and set the optimizer's weight decay
            to 0 when fine-tuning starts.
        data: a `kerasprune.CriterionData` for data-driven criteria (`Channels("taylor")`,
            `Channels("apoz")`, SNIP); `importance=` is its deprecated name.
        log_dir: a TensorBoard folder for per-layer sparsity and threshold scalars.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))
    >>> model.compile("adam", "mse")
    >>> callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0,
    ...     pruning_epochs=2, finetune_epochs=1)
    >>> history = model.fit(np.ones((32, 8)), np.ones((32, 4)), epochs=3,
    ...                     callbacks=[callback], verbose=0)
    >>> round(history.history["sparsity"][-1], 2), history.history["stage"]
    (0.5, [1, 1, 2])
    """

    def __init__(
        self,
        target_sparsity: float,
        *,
        stabilization_epochs: int,
        pruning_epochs: int,
        finetune_epochs: int,
        initial_sparsity: float = 0.05,
        update_every: str | int = "epoch",
        schedule: str | SparsitySchedule | dict = "cubic",
        pruning_learning_rate: float | None = None,
        finetune_learning_rates: Sequence[float] | None = None,
        remove_regularization: bool = False,
        data: Any = None,
        log_dir: str | None = None,
        importance: Any = None,
    ):
        super().__init__(target_sparsity, data=data, log_dir=log_dir, importance=importance)
        self.initial_sparsity = check_sparsity("initial_sparsity", initial_sparsity)
        if self.initial_sparsity > self.target_sparsity:
            raise ValueError(
                "`initial_sparsity` must be <= `target_sparsity`. Received: "
                f"initial_sparsity={initial_sparsity}, target_sparsity={target_sparsity}"
            )
        self.stabilization_epochs = check_int("stabilization_epochs", stabilization_epochs)
        self.pruning_epochs = check_int("pruning_epochs", pruning_epochs, minimum=1)
        self.finetune_epochs = check_int("finetune_epochs", finetune_epochs)
        self.update_every = check_update_every(update_every)
        self.schedule_option = _schedule_option(schedule)
        self.pruning_learning_rate = check_learning_rate(
            "pruning_learning_rate", pruning_learning_rate, optional=True
        )
        self.finetune_learning_rates = _rates(finetune_learning_rates)
        if self.finetune_learning_rates and len(self.finetune_learning_rates) > finetune_epochs:
            raise ValueError(
                "`finetune_learning_rates` holds one rate per part of the fine-tuning stage, "
                "and each part needs at least one epoch: the rates after the first "
                f"{self.finetune_epochs} would never be used. Received: "
                f"finetune_learning_rates={finetune_learning_rates!r}, "
                f"finetune_epochs={finetune_epochs!r}")
        if not is_bool(remove_regularization):
            raise TypeError(
                "`remove_regularization` must be True or False. "
                f"Received: remove_regularization={remove_regularization!r}"
            )
        self.remove_regularization = bool(remove_regularization)
        self.stage = STAGES[0]

    @property
    def total_epochs(self) -> int:
        """Epochs the three stages need together."""
        return self.stabilization_epochs + self.pruning_epochs + self.finetune_epochs

    @property
    def finetune_start(self) -> int:
        """The first fine-tuning epoch."""
        return self.stabilization_epochs + self.pruning_epochs

    def stage_of_epoch(self, epoch: int) -> str:
        """The stage that `epoch` (0-based, as in `fit`) belongs to."""
        if epoch < self.stabilization_epochs:
            return STAGES[0]
        if epoch < self.finetune_start:
            return STAGES[1]
        return STAGES[2]

    def learning_rate_of_epoch(self, epoch: int) -> float | None:
        """The learning rate this callback sets for `epoch`, or None."""
        if epoch >= self.finetune_start and self.finetune_learning_rates:
            rates = self.finetune_learning_rates
            part = (epoch - self.finetune_start) * len(rates) // max(self.finetune_epochs, 1)
            return rates[min(part, len(rates) - 1)]
        return self.pruning_learning_rate

    # -- policy -------------------------------------------------------------------------

    def rate_options(self) -> str | None:
        if self.pruning_learning_rate is None and not self.finetune_learning_rates:
            return None
        return "`pruning_learning_rate` / `finetune_learning_rates`"

    def check_begin(self) -> None:
        if self.rate_options():
            check_settable_learning_rate(self, self.rate_options())
        self.stage = STAGES[0]

    def make_schedule(self, steps_per_epoch: int) -> SparsitySchedule:
        if isinstance(self.schedule_option, SparsitySchedule):
            last = self.finetune_start * steps_per_epoch
            if self.schedule_option.end_step > last:
                raise ValueError(
                    f"The schedule ends at step {self.schedule_option.end_step}, after the "
                    f"pruning stage ends (step {last} = {steps_per_epoch} steps x "
                    f"{self.finetune_start} epochs)."
                )
            begin = self.stabilization_epochs * steps_per_epoch
            final = _final_sparsity(self.schedule_option, begin, last)
            if abs(final - self.target_sparsity) > 1e-6:
                # Below the target, fine-tuning's start would jump the masks to the target
                # in one step, which the schedule was given to avoid.
                side = "above" if final > self.target_sparsity else "below"
                raise ValueError(
                    f"The schedule ends at sparsity {final}, {side} "
                    f"`target_sparsity`={self.target_sparsity}. Give the callback the "
                    "schedule's final sparsity as its target."
                )
            return self.schedule_option
        pruning_steps = self.pruning_epochs * steps_per_epoch
        frequency = steps_per_epoch if self.update_every == "epoch" else self.update_every
        if frequency > pruning_steps:
            raise ValueError(
                f"update_every={self.update_every} ({frequency} steps) is longer than the "
                f"pruning stage ({pruning_steps} steps = {self.pruning_epochs} epochs x "
                f"{steps_per_epoch} steps): the masks would never be updated. Lower "
                "`update_every` or lengthen `pruning_epochs`."
            )
        begin = self.stabilization_epochs * steps_per_epoch
        end = begin + (pruning_steps // frequency - 1) * frequency
        if self.schedule_option == "one_shot":
            return ConstantSparsity(self.target_sparsity, begin, end, frequency)
        return PolynomialDecay(
            self.initial_sparsity, self.target_sparsity, begin, end,
            power=_SCHEDULE_POWERS[self.schedule_option], frequency=frequency,
        )

    def prunes_at(self, step: int) -> bool:
        return self.stage == STAGES[1] and self.schedule.updates_at(step)

    def learning_rate_at(self, step: int) -> float | None:
        return self.learning_rate_of_epoch(step // self.steps_per_epoch)

    def progress_logs(self) -> dict[str, float]:
        return {"stage": STAGES.index(self.stage)}

    def on_epoch_begin(self, epoch, logs=None):
        stage = self.stage_of_epoch(epoch)
        entering_finetuning = stage == STAGES[2] and self.stage != STAGES[2]
        self.stage = stage
        super().on_epoch_begin(epoch, logs)
        if entering_finetuning:
            self._start_finetuning()

    def _start_finetuning(self) -> None:
        # Reach the target if the pruning stage did not (e.g. a fit resumed into fine-tuning).
        if overall_sparsity(prune_wrappers(self.model)) < self.target_sparsity:
            self.prune_now(self.epoch * self.steps_per_epoch, self.target_sparsity)
        if self.remove_regularization:
            _remove_weight_regularization(self.model)

    def get_config(self) -> dict:
        schedule = self.schedule_option
        if isinstance(schedule, SparsitySchedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {
            "target_sparsity": self.target_sparsity,
            "stabilization_epochs": self.stabilization_epochs,
            "pruning_epochs": self.pruning_epochs,
            "finetune_epochs": self.finetune_epochs,
            "initial_sparsity": self.initial_sparsity,
            "update_every": self.update_every,
            "schedule": schedule,
            "pruning_learning_rate": self.pruning_learning_rate,
            "finetune_learning_rates": self.finetune_learning_rates,
            "remove_regularization": self.remove_regularization,
            "log_dir": self.log_dir,
        }



def _schedule_option(schedule):
    if isinstance(schedule, dict):
        schedule = keras.saving.deserialize_keras_object(schedule)
    if isinstance(schedule, SparsitySchedule):
        return schedule
    if isinstance(schedule, str) and schedule in (*_SCHEDULE_POWERS, "one_shot"):
        return schedule
    raise ValueError(
        "`schedule` must be 'cubic', 'linear', 'one_shot' or a SparsitySchedule. "
        f"Received: schedule={schedule!r}"
    )


def _final_sparsity(schedule: SparsitySchedule, begin: int, last: int) -> float:
    """The sparsity `schedule` leaves the masks at when the pruning stage (steps `begin`
    to `last`, the first fine-tuning step) ends: its value at `end_step` if that is
    `last`, else at its last update inside the stage (a user schedule may update past the
    `end_step` it declares), else at `end_step`."""
    if schedule.end_step != last:
        for step in range(last - 1, begin - 1, -1):
            if schedule.updates_at(step):
                return float(schedule(step))
    return float(schedule(schedule.end_step))


def _rates(rates) -> list[float] | None:
    if rates is None:
        return None
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__iter__") or not len(rates):
        raise ValueError(
            "`finetune_learning_rates` must be a non-empty list of positive floats or None. "
            f"Received: finetune_learning_rates={rates!r}"
        )
    return [check_learning_rate("finetune_learning_rates", r) for r in rates]


def _remove_weight_regularization(model: keras.Model) -> None:
    """Drop kernel regularizers and weight decay, and retrace the train step."""
    for layer in all_layers(model):
        for attribute in ("kernel_regularizer", "depthwise_regularizer",
                          "pointwise_regularizer", "embeddings_regularizer"):
            if getattr(layer, attribute, None) is not None:
                setattr(layer, attribute, None)
        for variable in layer.weights:
            if getattr(variable, "regularizer", None) is not None:
                variable.regularizer = None
    for optimizer in (model.optimizer, _compat.applying_optimizer(model.optimizer)):
        # 0.0, not None: AdamW refuses None when a saved model loads.
        if getattr(optimizer, "weight_decay", None) is not None:
            optimizer.weight_decay = 0.0
    model.make_train_function(force=True)
