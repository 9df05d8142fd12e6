"""`PruningCallback`: gradual magnitude pruning (GMP) in three stages inside `model.fit`.

1. Stabilization: train without pruning (optionally at the pruning learning rate).
2. Pruning: raise the sparsity on a cubic schedule from `initial_sparsity` to the target,
   recomputing the masks every epoch or every `update_every` steps.
3. Fine-tuning: masks frozen; optional learning-rate reductions and removal of weight
   regularization (kernel regularizers and optimizer weight decay).

The callback's clock is fit's own: step = epoch * steps_per_epoch + batch. To resume a
saved model, load it and pass `initial_epoch` to `fit`, as with Keras' own schedulers.
"""

from __future__ import annotations

from typing import Sequence

import keras

from kerasprune.fit_checks import check_pruning_fit
from kerasprune.masks import overall_sparsity, update_masks
from kerasprune.model_walk import all_layers, prune_wrappers
from kerasprune.sparsity_schedules import ConstantSparsity, PolynomialDecay, SparsitySchedule

STAGES = ("stabilization", "pruning", "finetuning")
_SCHEDULE_POWERS = {"cubic": 3.0, "linear": 1.0}


class PruningCallback(keras.callbacks.Callback):
    """Gradual magnitude pruning in one `model.fit`, with GMP's three stages.

    Writes `sparsity` (of all pruned weights) and `stage` (0 stabilization, 1 pruning,
    2 fine-tuning) into `logs`, so they show on the progress bar and in `History`.

    Args:
        target_sparsity: final sparsity in [0, 1).
        stabilization_epochs: epochs of training before pruning starts.
        pruning_epochs: epochs over which sparsity rises to the target (>= 1).
        finetune_epochs: epochs of training with frozen masks at the end.
        initial_sparsity: sparsity set at the first update of the pruning stage.
        update_every: `"epoch"` (masks recomputed at the start of each pruning epoch) or
            an int number of steps.
        schedule: `"cubic"` (Zhu & Gupta), `"linear"`, `"one_shot"` (the target at the start
            of pruning), or a `SparsitySchedule` whose steps count from fit's first step.
        pruning_learning_rate: learning rate set at the start of training, or None.
        finetune_learning_rates: learning rates applied in turn over equal parts of the
            fine-tuning stage (e.g. `[1e-4, 1e-5]`), or None to keep the current one.
        remove_regularization: drop kernel regularizers and the optimizer's weight decay
            when fine-tuning starts.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))
    >>> model.compile("adam", "mse")
    >>> callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0,
    ...     pruning_epochs=2, finetune_epochs=1)
    >>> history = model.fit(np.ones((32, 8)), np.ones((32, 4)), epochs=3,
    ...                     callbacks=[callback], verbose=0)
    >>> round(history.history["sparsity"][-1], 2)
    0.5
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
        schedule: str | SparsitySchedule = "cubic",
        pruning_learning_rate: float | None = None,
        finetune_learning_rates: Sequence[float] | None = None,
        remove_regularization: bool = False,
    ):
        super().__init__()
        _check_fraction("target_sparsity", target_sparsity)
        _check_fraction("initial_sparsity", initial_sparsity)
        if initial_sparsity > target_sparsity:
            raise ValueError(
                "`initial_sparsity` must be <= `target_sparsity`. Received: "
                f"initial_sparsity={initial_sparsity}, target_sparsity={target_sparsity}"
            )
        for name, value, minimum in (
            ("stabilization_epochs", stabilization_epochs, 0),
            ("pruning_epochs", pruning_epochs, 1),
            ("finetune_epochs", finetune_epochs, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
        if update_every != "epoch" and not (
            isinstance(update_every, int) and not isinstance(update_every, bool) and update_every >= 1
        ):
            raise ValueError(
                "`update_every` must be 'epoch' or an int number of steps >= 1. "
                f"Received: update_every={update_every!r}"
            )
        if not (isinstance(schedule, SparsitySchedule) or schedule in (*_SCHEDULE_POWERS, "one_shot")):
            raise ValueError(
                "`schedule` must be 'cubic', 'linear', 'one_shot' or a SparsitySchedule. "
                f"Received: schedule={schedule!r}"
            )
        if finetune_learning_rates is not None and (
            isinstance(finetune_learning_rates, (str, bytes))
            or not all(isinstance(r, (int, float)) and r > 0 for r in finetune_learning_rates)
        ):
            raise ValueError(
                "`finetune_learning_rates` must be a list of positive floats. "
                f"Received: finetune_learning_rates={finetune_learning_rates!r}"
            )
        self.target_sparsity = float(target_sparsity)
        self.initial_sparsity = float(initial_sparsity)
        self.stabilization_epochs = stabilization_epochs
        self.pruning_epochs = pruning_epochs
        self.finetune_epochs = finetune_epochs
        self.update_every = update_every
        self.schedule = schedule
        self.pruning_learning_rate = pruning_learning_rate
        self.finetune_learning_rates = (
            None if finetune_learning_rates is None else [float(r) for r in finetune_learning_rates]
        )
        self.remove_regularization = remove_regularization
        self.stage = STAGES[0]
        self._sparsity_schedule: SparsitySchedule | None = None
        self._steps_per_epoch = 0
        self._epoch = 0

    @property
    def total_epochs(self) -> int:
        """Epochs the three stages need together."""
        return self.stabilization_epochs + self.pruning_epochs + self.finetune_epochs

    def stage_of_epoch(self, epoch: int) -> str:
        """The stage that `epoch` (0-based, as in `fit`) belongs to."""
        if epoch < self.stabilization_epochs:
            return STAGES[0]
        if epoch < self.stabilization_epochs + self.pruning_epochs:
            return STAGES[1]
        return STAGES[2]

    # -- Keras hooks ---------------------------------------------------------------

    def on_train_begin(self, logs=None):
        steps = check_pruning_fit(
            self,
            self.total_epochs,
            f"stabilization {self.stabilization_epochs} + pruning {self.pruning_epochs} + "
            f"fine-tuning {self.finetune_epochs}",
        )
        self._steps_per_epoch = steps
        self._sparsity_schedule = self._make_schedule(steps)
        self._last_target = None  # the target of the last mask update of this fit
        if self.pruning_learning_rate is not None or self.finetune_learning_rates:
            _check_settable_learning_rate(self.model.optimizer)
        if self.pruning_learning_rate is not None:
            _set_learning_rate(self.model.optimizer, self.pruning_learning_rate)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        stage = self.stage_of_epoch(epoch)
        if stage == STAGES[2] and self.stage != STAGES[2]:
            self._start_finetuning()
        self.stage = stage
        if stage == STAGES[2]:
            self._maybe_drop_learning_rate(epoch)
        if self.update_every == "epoch":
            self._maybe_update(epoch * self._steps_per_epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.update_every != "epoch":
            self._maybe_update(self._epoch * self._steps_per_epoch + batch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["sparsity"] = overall_sparsity(prune_wrappers(self.model))
            logs["stage"] = STAGES.index(self.stage)

    # -- helpers -----------------------------------------------------------------

    def _make_schedule(self, steps_per_epoch: int) -> SparsitySchedule:
        if isinstance(self.schedule, SparsitySchedule):
            last = (self.stabilization_epochs + self.pruning_epochs) * steps_per_epoch
            if self.schedule.end_step > last:
                raise ValueError(
                    f"The schedule ends at step {self.schedule.end_step}, after the pruning "
                    f"stage ends (step {last} = {steps_per_epoch} steps x "
                    f"{self.stabilization_epochs + self.pruning_epochs} epochs)."
                )
            return self.schedule
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
        updates = pruning_steps // frequency
        end = begin + (updates - 1) * frequency
        if self.schedule == "one_shot":
            return ConstantSparsity(self.target_sparsity, begin, end, frequency)
        return PolynomialDecay(
            self.initial_sparsity,
            self.target_sparsity,
            begin,
            end,
            power=_SCHEDULE_POWERS[self.schedule],
            frequency=frequency,
        )

    def _maybe_update(self, step: int) -> None:
        if self.stage == STAGES[1] and self._sparsity_schedule.updates_at(step):
            self._last_target = self._sparsity_schedule(step)
            update_masks(self.model, self._last_target, final_sparsity=self.target_sparsity)

    def _start_finetuning(self) -> None:
        # Reach the target if the pruning stage did not (e.g. resuming into fine-tuning).
        if self._last_target != self.target_sparsity:
            update_masks(self.model, self.target_sparsity, final_sparsity=self.target_sparsity)
            self._last_target = self.target_sparsity
        if self.remove_regularization:
            _remove_weight_regularization(self.model)

    def _maybe_drop_learning_rate(self, epoch: int) -> None:
        if not self.finetune_learning_rates:
            return
        start = self.stabilization_epochs + self.pruning_epochs
        count = len(self.finetune_learning_rates)
        for i, rate in enumerate(self.finetune_learning_rates):
            if epoch - start == round(i * self.finetune_epochs / count):
                _set_learning_rate(self.model.optimizer, rate)

    def get_config(self) -> dict:
        return {
            "target_sparsity": self.target_sparsity,
            "stabilization_epochs": self.stabilization_epochs,
            "pruning_epochs": self.pruning_epochs,
            "finetune_epochs": self.finetune_epochs,
            "initial_sparsity": self.initial_sparsity,
            "update_every": self.update_every,
            "schedule": self.schedule,
            "pruning_learning_rate": self.pruning_learning_rate,
            "finetune_learning_rates": self.finetune_learning_rates,
            "remove_regularization": self.remove_regularization,
        }


def _check_fraction(name: str, value) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={value!r}")


def _check_settable_learning_rate(optimizer) -> None:
    if isinstance(getattr(optimizer, "_learning_rate", None),
                  keras.optimizers.schedules.LearningRateSchedule):
        raise ValueError(
            "The optimizer's learning rate is a schedule, so PruningCallback cannot set it. "
            "Use a constant learning rate, or leave `pruning_learning_rate` and "
            "`finetune_learning_rates` unset."
        )


def _set_learning_rate(optimizer, rate: float) -> None:
    optimizer.learning_rate.assign(rate)


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
    if getattr(model.optimizer, "weight_decay", None) is not None:
        model.optimizer.weight_decay = None
    model.make_train_function(force=True)
