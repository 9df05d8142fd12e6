"""`IMPCallback`: iterative magnitude pruning (prune, then retrain) inside one `model.fit`.

Timeline of a fit (epochs counted from fit's first epoch):

    [dense_epochs of dense training] [cycle 1] [cycle 2] ... [cycle n]

The sparsity is a `CycleSparsity` schedule: at the start of cycle `c` the masks are
updated to `1 - (1 - target)^(c / n)`, removing the geometric fraction
`1 - (1 - target)^(1 / n)` of the weights still alive. Then the model retrains for
`epochs_per_cycle` epochs with the retraining learning-rate schedule restarted.

The learning rate: the retraining schedules of `kerasprune.retrain` are pure
`LearningRateSchedule`s of the step, but a restart needs facts known only during `fit`
(the step where the cycle begins, and for ALLR the weights right before and after
pruning). So each cycle's schedule is built from its start step and its measured ALLR
factor, and, like `keras.callbacks.LearningRateScheduler` but per step, its value is
assigned to the optimizer's learning rate before every batch (the optimizer must be
created with a float learning rate). ALLR's factor of every cycle, how many cycles have
pruned and the rewind weights live in the model's `PruningState`, so a run killed
mid-cycle resumes exactly.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import keras
import numpy as np

from kerasprune.callbacks.base_pruning_callback import (
    BasePruningCallback,
    check_settable_learning_rate,
)
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.mask_update import reset_moving_averages
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.sparsity_schedules import CycleSparsity
from kerasprune.core.validation import (
    check_choice,
    check_int,
    check_learning_rate,
    check_sparsity,
)
from kerasprune.retrain.retrain_schedule import LearningRate, RetrainSchedule, evaluate_schedule
from kerasprune.retrain.schedules import RETRAIN_SCHEDULES, allr_d1


@keras.saving.register_keras_serializable(package="kerasprune")
class IMPCallback(BasePruningCallback):
    """Iterative (or one-shot) magnitude pruning with retraining, in one `model.fit`.

    Writes `sparsity` (of all pruned weights), `cycle` (0 during dense training, then
    1..n) and `learning_rate` (the rate of the epoch's last step) into `logs`.
    `lr_trace` holds the learning rate of every step of this fit; `cycle_records` one dict
    per cycle pruned in this fit (sparsity reached, fraction pruned, ALLR's d1 and d,
    start rate).

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
        data: a `kerasprune.CriterionData` for data-driven criteria (`Channels("taylor")`,
            `Channels("apoz")`, SNIP); `importance=` is its deprecated name.
        log_dir: a TensorBoard folder for per-layer sparsity and threshold scalars.

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
        data: Any = None,
        log_dir: Optional[str] = None,
        importance: Any = None,
    ):
        super().__init__(target_sparsity, data=data, log_dir=log_dir, importance=importance)
        check_sparsity("target_sparsity", target_sparsity, allow_zero=False)
        self.cycles = check_int("cycles", cycles, minimum=1)
        self.epochs_per_cycle = check_int("epochs_per_cycle", epochs_per_cycle, minimum=1)
        self.dense_epochs = check_int("dense_epochs", dense_epochs)
        if rewind_epoch is not None:
            check_int("rewind_epoch", rewind_epoch)
            if rewind_epoch > self.dense_epochs:
                raise ValueError(
                    "`rewind_epoch` must be an int in [0, dense_epochs]: the weights are saved "
                    f"before the first pruning. Received: rewind_epoch={rewind_epoch!r}, "
                    f"dense_epochs={dense_epochs}"
                )
        if original_epochs is None and self.dense_epochs > 0:
            original_epochs = self.dense_epochs
        original_learning_rate = check_learning_rate(
            "original_learning_rate", original_learning_rate, optional=True, schedule_ok=True)
        if warmup is not None:
            warmup = check_sparsity("warmup", warmup)  # a fraction in [0, 1), as a sparsity
        self.retrain_schedule = retrain_schedule
        self.original_learning_rate = original_learning_rate
        self.original_epochs = original_epochs
        self.rewind_epoch = rewind_epoch
        self.warmup = warmup
        self._check_schedule_settings()
        self.lr_trace: list[float] = []
        self.cycle_records: list[dict] = []
        self._original: Optional[LearningRate] = None
        self._cycle_schedules: dict[int, RetrainSchedule] = {}
        self._before: list[np.ndarray] = []
        self._alive_before = 0

    @property
    def total_epochs(self) -> int:
        """Epochs the dense phase and all cycles need together."""
        return self.dense_epochs + sum(self.cycle_epochs(c) for c in range(1, self.cycles + 1))

    def cycle_epochs(self, cycle: int) -> int:
        """Retraining epochs of cycle `cycle` (1..n): `epochs_per_cycle` (BIMP lengthens
        the last one). Cycle `c` starts `(c - 1) * epochs_per_cycle` epochs after the
        dense phase, so only the last cycle may differ."""
        return self.epochs_per_cycle

    def cycle_of_epoch(self, epoch: int) -> int:
        """Cycle (1..n) that fit epoch `epoch` belongs to; 0 in the dense phase."""
        if epoch < self.dense_epochs:
            return 0
        return min(self.cycles, 1 + (epoch - self.dense_epochs) // self.epochs_per_cycle)

    @property
    def cycle(self) -> int:
        """The cycle of the current epoch."""
        return self.cycle_of_epoch(self.epoch)

    # -- policy -------------------------------------------------------------------------

    def state_spec(self, model: keras.Model) -> dict[str, list[int]]:
        spec = {"cycles_done": [], "d1": [self.cycles]}
        if self.rewind_epoch is not None:
            spec["rewind_saved"] = []
            spec.update({f"rewind_{i}": list(v.shape)
                         for i, v in enumerate(_rewindable_weights(model))})
        return spec

    def make_schedule(self, steps_per_epoch: int) -> CycleSparsity:
        return CycleSparsity(
            self.target_sparsity, self.cycles, begin_step=self.dense_epochs * steps_per_epoch,
            steps_per_cycle=self.epochs_per_cycle * steps_per_epoch,
        )

    def check_begin(self) -> None:
        self.lr_trace, self.cycle_records, self._cycle_schedules = [], [], {}
        self._original = None
        if self.retrain_schedule is not None:
            check_settable_learning_rate(self, self.rate_options())
            self._original = self.original_schedule(self.steps_per_epoch)
            self._make_cycle_schedule(self.cycles, start_step=0, d1=1.0)  # fails now, not mid-fit

    def rate_options(self) -> str | None:
        if self.retrain_schedule is None:
            return None
        return f"retrain_schedule={self.retrain_schedule!r}"

    def original_schedule(self, steps_per_epoch: int) -> LearningRate:
        """The original training's learning rate (BIMP builds its own here)."""
        return self.original_learning_rate

    def prunes_at(self, step: int) -> bool:
        return self.schedule.updates_at(step) and (
            self.schedule.cycle_at(step) > self._cycles_done()
        )

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.rewind_epoch:
            self._save_rewind_point()  # before this epoch's pruning, if any
        super().on_epoch_begin(epoch, logs)

    def before_pruning(self, step: int) -> None:
        self._before = [np.array(v) for v in self.model.trainable_weights]
        self._alive_before = _alive(prune_wrappers(self.model))

    def on_pruned(self, step: int, target: float, records: list) -> None:
        cycle = self.schedule.cycle_at(step)
        wrappers = prune_wrappers(self.model)
        after = [np.array(v) for v in self.model.trainable_weights]
        alive = _alive(wrappers)
        pruned_fraction = 1.0 - alive / self._alive_before if self._alive_before else 0.0
        d1 = allr_d1(self._before, after, pruned_fraction) if pruned_fraction > 0 else 0.0
        self._before = []
        if pruned_fraction == 0 and self.retrain_schedule == "allr":
            warnings.warn(
                f"IMP cycle {cycle} pruned nothing (the model already had the cycle's "
                f"sparsity {target:.4f}), so ALLR measures d1 = 0 and starts at d2 * max_lr. "
                "Let the callback do the pruning: start from kerasprune.prune(model), not "
                "from a pruned model.",
                stacklevel=user_stacklevel(),
            )
        d1_values = self.state.read("d1")
        d1_values[cycle - 1] = d1
        self.state.write("d1", d1_values)
        self.state.write("cycles_done", cycle)
        if self.rewind_epoch is not None:
            self._rewind(wrappers)
        record = {"cycle": cycle, "sparsity": 1.0 - alive / _size(wrappers),
                  "pruned_fraction": pruned_fraction, "d1": d1}
        if self.retrain_schedule is not None:
            schedule = self._cycle_schedule(cycle)
            record["d"] = getattr(schedule, "d", None)
            record["start_lr"] = float(evaluate_schedule(
                schedule, [schedule.start_step + schedule.warmup_steps])[0])
        self.cycle_records.append(record)

    def learning_rate_at(self, step: int) -> float | None:
        if self.retrain_schedule is None:
            return None
        cycle = self.schedule.cycle_at(step)
        schedule = self._original if cycle == 0 else self._cycle_schedule(cycle)
        rate = float(evaluate_schedule(schedule, [step])[0])
        self.lr_trace.append(rate)
        return rate

    def progress_logs(self) -> dict[str, float]:
        return {"cycle": self.cycle}

    # -- helpers -----------------------------------------------------------------

    def _cycles_done(self) -> int:
        return int(round(float(self.state.read("cycles_done"))))

    def _cycle_schedule(self, cycle: int) -> RetrainSchedule:
        if cycle not in self._cycle_schedules:
            start = self.schedule.begin_step + (cycle - 1) * self.schedule.steps_per_cycle
            d1 = float(self.state.read("d1")[cycle - 1])
            self._cycle_schedules[cycle] = self._make_cycle_schedule(cycle, start, d1)
        return self._cycle_schedules[cycle]

    def _make_cycle_schedule(self, cycle: int, start_step: int, d1: float) -> RetrainSchedule:
        spe = self.steps_per_epoch
        kwargs = dict(start_step=start_step, warmup=self.warmup)
        if self.retrain_schedule == "allr":
            kwargs["d1"] = d1
        original_steps = None if self.original_epochs is None else self.original_epochs * spe
        return RETRAIN_SCHEDULES[self.retrain_schedule](
            self._original, self.cycle_epochs(cycle) * spe, original_steps, **kwargs
        )

    def _save_rewind_point(self) -> None:
        if float(self.state.read("rewind_saved")) > 0:
            return  # saved before a resume: keep the original rewind point
        for i, variable in enumerate(_rewindable_weights(self.model)):
            self.state.write(f"rewind_{i}", variable)
        self.state.write("rewind_saved", 1.0)

    def _rewind(self, wrappers: list) -> None:
        if float(self.state.read("rewind_saved")) == 0:
            return
        rewound = _rewindable_weights(self.model)
        for i, variable in enumerate(rewound):
            variable.assign(self.state.read(f"rewind_{i}").astype(variable.dtype))
        for wrapper in wrappers:  # re-zero the pruned weights
            wrapper.apply_masks()
        reset_moving_averages(self.model, rewound)  # use_ema=True: average from here on

    def _check_schedule_settings(self) -> None:
        name = self.retrain_schedule
        if name is None:
            return
        check_choice("retrain_schedule", name, (*sorted(RETRAIN_SCHEDULES), None))
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
        if self.original_epochs is not None:
            check_int("original_epochs", self.original_epochs, minimum=1)

    _builds_original = False  # subclasses that make the original schedule in fit set True

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
            "log_dir": self.log_dir,
        }



def _rewindable_weights(model: keras.Model) -> list:
    """Every weight of the model but the masks and the pruning state (biases, BN included)."""
    skip = set()
    for wrapper in prune_wrappers(model):
        skip.update(id(m) for m in wrapper.masks)
        state = getattr(wrapper, "pruning_state", None)
        if state is not None:
            skip.update(id(v) for v in state.weights)
    return [v for v in model.weights if id(v) not in skip]


def _alive(wrappers: list) -> int:
    return sum(int(np.count_nonzero(np.asarray(m))) for w in wrappers for m in w.masks
               if w.follows is None)


def _size(wrappers: list) -> int:
    return sum(int(np.prod(m.shape)) for w in wrappers for m in w.masks if w.follows is None)
