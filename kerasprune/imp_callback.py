"""`IMPCallback`: iterative magnitude pruning (prune, then retrain) inside one `model.fit`.

Timeline of a fit (epochs counted from fit's first epoch):

    [dense_epochs of dense training] [cycle 1] [cycle 2] ... [cycle n]

At the start of cycle `c` the callback asks `kerasprune.update_masks` for the overall
sparsity `1 - (1 - target)^(c / n)`, i.e. it removes the geometric fraction
`p = 1 - (1 - target)^(1 / n)` of the weights still alive; masks only grow. Then the
model retrains for `epochs_per_cycle` epochs with the retraining schedule restarted.

How the learning rate is driven (the Keras-native part): the retraining schedules of
`kerasprune.retrain_schedules` are pure `LearningRateSchedule`s of the step, but a
restart needs facts known only during `fit` (the step where the cycle begins, and for
ALLR the weights right before and after pruning). So at each cycle start the callback
builds that cycle's schedule (with `start_step` = the cycle's first step) and, like
`keras.callbacks.LearningRateScheduler` but per step, assigns its value to the
optimizer's learning-rate variable before every batch. The compiled train step reads the
variable, so nothing is retraced. The optimizer must therefore be created with a float
learning rate. The callback's clock is fit's own: step = epoch * steps_per_epoch + batch.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
import keras

from kerasprune.fit_checks import check_pruning_fit
from kerasprune.masks import overall_sparsity, update_masks
from kerasprune.model_walk import prune_wrappers
from kerasprune.retrain_schedules import (
    RETRAIN_SCHEDULES, LearningRate, RetrainSchedule, allr_d1, evaluate_schedule,
)


def cycle_sparsities(target_sparsity: float, cycles: int) -> list[float]:
    """Overall sparsity after each IMP cycle: `1 - (1 - target)^(c / cycles)`.

    Example:

    >>> [round(s, 4) for s in cycle_sparsities(0.9, 3)]
    [0.5358, 0.7846, 0.9]
    """
    return [1.0 - (1.0 - target_sparsity) ** (c / cycles) for c in range(1, cycles + 1)]


class IMPCallback(keras.callbacks.Callback):
    """Iterative (or one-shot) magnitude pruning with retraining, in one `model.fit`.

    Writes `sparsity` (of all pruned weights), `cycle` (0 during dense training, then
    1..n) and `lr` (the learning rate of the epoch's last step) into `logs`, so they show
    in `History`. `lr_trace` holds the learning rate of every step; `cycle_records` one
    dict per cycle (sparsity reached, fraction pruned, ALLR's d1 and d, start rate).

    Rewinding: learning-rate rewinding (Renda et al.) is `retrain_schedule="lrw"`.
    Weight rewinding (Lottery Ticket, Frankle et al.) is `rewind_epoch=k`: the weights
    at the start of fit epoch `k` are saved, and after every pruning the surviving weights
    are reset to them (all weights, biases and normalization included); with
    `retrain_schedule="lrw"` and `epochs_per_cycle = original_epochs - k` each cycle
    replays the original schedule from epoch `k`.

    Args:
        target_sparsity: final sparsity of the pruned weights, in (0, 1).
        cycles: number of prune-retrain cycles; 1 is one-shot pruning.
        epochs_per_cycle: retraining epochs after each pruning (>= 1).
        retrain_schedule: `"ft"`, `"lrw"`, `"slr"`, `"clr"`, `"llr"`, `"allr"`, or None to
            leave the optimizer's learning rate alone.
        original_learning_rate: learning rate of the original training (float or Keras
            schedule over the original steps); required with a `retrain_schedule`. During
            the `dense_epochs` the callback follows it.
        original_epochs: length T of the original training in epochs; defaults to
            `dense_epochs`. Needed by ALLR and whenever `original_learning_rate` is a schedule.
        dense_epochs: epochs of dense training in this fit before the first pruning.
        rewind_epoch: weight rewinding to the start of this fit epoch (<= `dense_epochs`).
        warmup: warm-up fraction of each retraining phase; default per schedule (0.1, or 0
            for FT and LRW).

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16),
    ...                           keras.layers.Dense(1)])
    >>> pruned = kerasprune.prune(model, scope="global")
    >>> pruned.compile(keras.optimizers.SGD(0.01), "mse")
    >>> imp = kerasprune.IMPCallback(0.9, cycles=3, epochs_per_cycle=1,
    ...     retrain_schedule="allr", original_learning_rate=0.01, original_epochs=3)
    >>> history = pruned.fit(np.ones((32, 8)), np.ones((32, 1)), epochs=3,
    ...                      callbacks=[imp], verbose=0)
    >>> history.history["cycle"], round(history.history["sparsity"][-1], 2)
    ([1, 2, 3], 0.9)
    """

    _builds_original = False  # subclasses that make the original schedule in fit set True

    def __init__(
        self,
        target_sparsity: float,
        *,
        cycles: int = 1,
        epochs_per_cycle: int = 1,
        retrain_schedule: Optional[str] = "allr",
        original_learning_rate: Optional[LearningRate] = None,
        original_epochs: Optional[int] = None,
        dense_epochs: int = 0,
        rewind_epoch: Optional[int] = None,
        warmup: Optional[float] = None,
    ):
        super().__init__()
        _check_settings(target_sparsity, cycles, epochs_per_cycle, dense_epochs, rewind_epoch)
        if original_epochs is None and dense_epochs > 0:
            original_epochs = dense_epochs
        self.target_sparsity = float(target_sparsity)
        self.cycles = cycles
        self.epochs_per_cycle = epochs_per_cycle
        self.retrain_schedule = retrain_schedule
        self.original_learning_rate = original_learning_rate
        self.original_epochs = original_epochs
        self.dense_epochs = dense_epochs
        self.rewind_epoch = rewind_epoch
        self.warmup = warmup
        self._check_schedule_settings()
        self.cycle = 0
        self.lr_trace: list[float] = []
        self.cycle_records: list[dict] = []
        self._steps_per_epoch = 0
        self._epoch = 0
        self._original: Optional[LearningRate] = None
        self._schedule: Optional[LearningRate] = None
        self._rewind_values: Optional[list[np.ndarray]] = None

    @property
    def total_epochs(self) -> int:
        """Epochs the dense phase and all cycles need together."""
        return self.dense_epochs + self.cycles * self.epochs_per_cycle

    def cycle_of_epoch(self, epoch: int) -> int:
        """Cycle (1..n) that fit epoch `epoch` belongs to; 0 in the dense phase."""
        if epoch < self.dense_epochs:
            return 0
        return min(self.cycles, 1 + (epoch - self.dense_epochs) // self.epochs_per_cycle)

    # -- Keras hooks ---------------------------------------------------------------

    def on_train_begin(self, logs=None):
        steps = check_pruning_fit(
            self,
            self.total_epochs,
            f"dense {self.dense_epochs} + {self.cycles} cycles x {self.epochs_per_cycle} epochs",
        )
        self._steps_per_epoch = steps
        self.cycle, self.lr_trace, self.cycle_records = 0, [], []
        self._rewind_values = None
        if self.retrain_schedule is not None:
            _check_settable_learning_rate(self.model.optimizer)
            self._original = self._original_schedule(steps)
            self._schedule = self._original
            self._make_cycle_schedule(start_step=0, d1=1.0)  # fails now, not mid-fit

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if epoch == self.rewind_epoch:
            self._rewind_values = [np.array(v) for v in self._rewindable_weights()]
        cycle = self.cycle_of_epoch(epoch)
        if cycle != self.cycle:
            self.cycle = cycle
            self._start_cycle(cycle, epoch * self._steps_per_epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self._schedule is None:
            return
        step = self._epoch * self._steps_per_epoch + batch
        rate = float(evaluate_schedule(self._schedule, [step])[0])
        self.model.optimizer.learning_rate = rate
        self.lr_trace.append(rate)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["sparsity"] = overall_sparsity(prune_wrappers(self.model))
            logs["cycle"] = self.cycle
            logs["lr"] = float(np.asarray(self.model.optimizer.learning_rate))

    # -- helpers -----------------------------------------------------------------

    def _original_schedule(self, steps_per_epoch: int) -> LearningRate:
        """The original training's learning rate (BIMP builds its own here)."""
        return self.original_learning_rate

    def _start_cycle(self, cycle: int, start_step: int) -> None:
        wrappers = prune_wrappers(self.model)
        before = [np.array(v) for v in self.model.trainable_weights]
        alive_before = _alive(wrappers)
        target = 1.0 - (1.0 - self.target_sparsity) ** (cycle / self.cycles)
        reached = update_masks(self.model, target, final_sparsity=self.target_sparsity)
        after = [np.array(v) for v in self.model.trainable_weights]
        pruned_fraction = 1.0 - _alive(wrappers) / alive_before if alive_before else 0.0
        d1 = allr_d1(before, after, pruned_fraction) if pruned_fraction > 0 else 0.0
        if pruned_fraction == 0 and self.retrain_schedule == "allr":
            warnings.warn(
                f"IMP cycle {cycle} pruned nothing (the model already had sparsity {reached:.4f}),"
                " so ALLR measures d1 = 0 and starts at d2 * max_lr. Let the callback do the "
                "pruning (start from kerasprune.prune(model), not a pruned model).",
                stacklevel=2,
            )
        if self._rewind_values is not None:
            self._rewind(wrappers)
        record = {"cycle": cycle, "sparsity": reached, "pruned_fraction": pruned_fraction,
                  "d1": d1}
        if self.retrain_schedule is not None:
            self._schedule = self._make_cycle_schedule(start_step, d1)
            record["d"] = getattr(self._schedule, "d", None)
            record["start_lr"] = float(evaluate_schedule(
                self._schedule, [start_step + self._schedule.warmup_steps])[0])
        self.cycle_records.append(record)

    def _make_cycle_schedule(self, start_step: int, d1: float) -> RetrainSchedule:
        spe = self._steps_per_epoch
        kwargs = dict(start_step=start_step, warmup=self.warmup)
        if self.retrain_schedule == "allr":
            kwargs["d1"] = d1
        original_steps = None if self.original_epochs is None else self.original_epochs * spe
        return RETRAIN_SCHEDULES[self.retrain_schedule](
            self._original, self.epochs_per_cycle * spe, original_steps, **kwargs
        )

    def _rewindable_weights(self) -> list:
        masks = {id(m) for w in prune_wrappers(self.model) for m in w.masks}
        return [v for v in self.model.weights if id(v) not in masks]

    def _rewind(self, wrappers: list) -> None:
        for variable, value in zip(self._rewindable_weights(), self._rewind_values):
            variable.assign(value)
        for wrapper in wrappers:  # re-zero the pruned weights
            wrapper.assign_masks([np.array(m) for m in wrapper.masks])

    def _check_schedule_settings(self) -> None:
        name = self.retrain_schedule
        if name is None:
            return
        if name not in RETRAIN_SCHEDULES:
            raise ValueError(
                f"`retrain_schedule` must be one of {sorted(RETRAIN_SCHEDULES)} or None. "
                f"Received: retrain_schedule={name!r}"
            )
        original = self.original_learning_rate
        if original is None and not self._builds_original:
            raise ValueError(
                f"retrain_schedule={name!r} is derived from the original training's learning "
                "rate: pass `original_learning_rate` (a float or a Keras schedule)."
            )
        needs_length = callable(original) or RETRAIN_SCHEDULES[name].needs_original_steps
        if needs_length and self.original_epochs is None:
            raise ValueError(
                f"retrain_schedule={name!r} with original_learning_rate={original!r} needs "
                "the original training length: pass `original_epochs`."
            )
        if self.original_epochs is not None and (
            not isinstance(self.original_epochs, int) or self.original_epochs < 1
        ):
            raise ValueError(
                "`original_epochs` must be an int >= 1. "
                f"Received: original_epochs={self.original_epochs!r}"
            )

    def get_config(self) -> dict:
        original = self.original_learning_rate
        if callable(original):
            original = keras.optimizers.schedules.serialize(original)
        return {
            "target_sparsity": self.target_sparsity,
            "cycles": self.cycles,
            "epochs_per_cycle": self.epochs_per_cycle,
            "retrain_schedule": self.retrain_schedule,
            "original_learning_rate": original,
            "original_epochs": self.original_epochs,
            "dense_epochs": self.dense_epochs,
            "rewind_epoch": self.rewind_epoch,
            "warmup": self.warmup,
        }

    @classmethod
    def from_config(cls, config: dict) -> "IMPCallback":
        config = dict(config)
        if isinstance(config.get("original_learning_rate"), dict):
            config["original_learning_rate"] = keras.optimizers.schedules.deserialize(
                config["original_learning_rate"])
        return cls(**config)


def _alive(wrappers: list) -> int:
    return sum(int(np.count_nonzero(np.asarray(m))) for w in wrappers for m in w.masks)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_settings(target_sparsity, cycles, epochs_per_cycle, dense_epochs, rewind_epoch):
    if not (isinstance(target_sparsity, (int, float)) and not isinstance(target_sparsity, bool)
            and 0.0 < target_sparsity < 1.0):
        raise ValueError(
            f"`target_sparsity` must be a float in (0, 1). Received: target_sparsity={target_sparsity!r}"
        )
    for name, value, minimum in (("cycles", cycles, 1), ("epochs_per_cycle", epochs_per_cycle, 1),
                                 ("dense_epochs", dense_epochs, 0)):
        if not _is_int(value) or value < minimum:
            raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    if rewind_epoch is not None and (not _is_int(rewind_epoch)
                                     or not 0 <= rewind_epoch <= dense_epochs):
        raise ValueError(
            "`rewind_epoch` must be an int in [0, dense_epochs]: the weights are saved before "
            f"the first pruning. Received: rewind_epoch={rewind_epoch!r}, dense_epochs={dense_epochs}"
        )


def _check_settable_learning_rate(optimizer) -> None:
    try:
        optimizer.learning_rate = float(np.asarray(optimizer.learning_rate))
    except TypeError as error:
        raise TypeError(
            "IMPCallback sets the learning rate at every step, but this optimizer was created "
            "with a LearningRateSchedule. Create it with a float learning rate (the callback "
            "follows `original_learning_rate`), or pass retrain_schedule=None."
        ) from error
