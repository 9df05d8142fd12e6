"""`BasePruningCallback`: the one engine under every pruning callback.

A pruning callback advances a clock; a schedule decides. The base class owns everything
the policies share:

- fit's clock: `step = epoch * steps_per_epoch + batch`, the same count Keras' own
  schedulers use, so a resumed `fit(initial_epoch=k)` lands on the same step;
- the checks before the first step (a pruning-ready model whose layers stay below 100%
  at the target and whose weights are finite, a known epoch length, a learning rate the
  callback may set, the data a gradient criterion needs);
- asking the policy's `SparsitySchedule` whether to prune at this step and to what
  sparsity, and having the masks written: `prune_now` is the one place a callback calls
  `kerasprune.core.mask_update.update`, with the `Selector`s the policy supplies
  (the wrappers' criteria to the target by default, with the data they need; SparseGPT
  layer by layer for `criterion="sparsegpt"`),
  and logs each `MaskRecord`;
- setting the learning rate one way (`optimizer.learning_rate = value`) when the policy
  drives it;
- writing `sparsity`, the policy's progress key and `learning_rate` into `logs`; `sparsity`
  also through a `SparsityMetric`, so every callback of the fit sees it whatever its place
  in the list; per-layer TensorBoard scalars when given `log_dir`; a trace of the sparsity
  and learning rate over the fit (`trace`, what `kerasprune.plot.schedule` draws);
- the resume state (`PruningState`) that survives `BackupAndRestore` and `.keras` saving.

A policy (`PruningCallback`, `IMPCallback`, `BIMPCallback`, `RigLCallback`,
`PenaltyPruningCallback`, TFMOT's `UpdatePruningStep`) implements `total_epochs`,
`make_schedule`, and optionally `prunes_at`, `selectors`, `learning_rate_at`,
`before_pruning`, `on_pruned`, `progress_logs`, `state_spec` and `check_begin`.
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.criterion_data import CriterionData, class_labels, needed_data
from kerasprune.core.deprecation import renamed_argument
from kerasprune.callbacks.layer_summaries import LayerSummaries, check_log_dir
from kerasprune.callbacks.sparsity_metric import SparsityMetric, attach_sparsity_metric
from kerasprune.core.mask_update import (
    MaskRecord,
    check_pruning_request,
    mask_moving_averages,
    overall_sparsity,
    update,
)
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.pruning_state import PruningState, attach_pruning_state
from kerasprune.core.selectors import Selector
from kerasprune.core.sparsity_schedules import SparsitySchedule
from kerasprune.core.validation import check_sparsity
from kerasprune.oneshot.sparsegpt_selector import criterion_selector

EPOCHS_DONE = "epochs_done"


class BasePruningCallback(keras.callbacks.Callback):
    """Base class of the pruning callbacks: clock, checks, mask updates, logs, state.

    Not used directly: subclass it with a policy. The example below is the smallest
    policy, one-shot pruning at the first step.

    Args:
        target_sparsity: the sparsity the policy ends at, in [0, 1).
        data: a `kerasprune.CriterionData` giving the loss gradients, layer outputs or
            inputs that data-driven criteria need (`Channels("taylor")`,
            `Channels("apoz")`, `prune(model, criterion=...)` with SNIP, OBD, Wanda or
            SparseGPT); None otherwise. (`importance=` is its deprecated name.)
        log_dir: a TensorBoard log folder: every pruned weight's sparsity and magnitude
            threshold are written there (`log_dir/pruning`) whenever the masks change.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> class OneShot(BasePruningCallback):
    ...     total_epochs = 1
    ...     def make_schedule(self, steps_per_epoch):
    ...         return kerasprune.ConstantSparsity(self.target_sparsity)
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))
    >>> model.compile("sgd", "mse")
    >>> history = model.fit(np.ones((8, 8)), np.ones((8, 4)), callbacks=[OneShot(0.5)],
    ...                     verbose=0)
    >>> history.history["sparsity"]
    [0.5]
    """

    #: The epochs the policy's schedule needs.
    total_epochs: int

    def __init__(self, target_sparsity: float, *, data: CriterionData | None = None,
                 log_dir: str | None = None, importance: Any = None):
        super().__init__()
        self.target_sparsity = check_sparsity("target_sparsity", target_sparsity)
        data = renamed_argument(type(self).__name__, "importance", importance, "data", data)
        if data is not None and not isinstance(data, CriterionData):
            raise TypeError(
                "`data` must be a kerasprune.CriterionData or None. "
                f"Received: data of type {type(data).__name__}"
            )
        self.data = data
        self.log_dir = check_log_dir(log_dir)
        self.steps_per_epoch = 0
        self.epoch = 0
        self.schedule: SparsitySchedule | None = None
        self.state: PruningState | None = None
        self._last_rate: float | None = None
        self._ran_to: int | None = None  # the epoch this fit has run to
        self._epoch_sparsity: dict[int, float] = {}  # each epoch's sparsity at its end
        #: `{"sparsity": [(step, value)], "learning_rate": [(step, value)]}` of the last
        #: fit: the sparsity after every mask update, the learning rate whenever the
        #: callback set it (else read at each epoch's start).
        self.trace: dict[str, list[tuple[int, float]]] = {"sparsity": [], "learning_rate": []}
        self.metric: SparsityMetric | None = None
        self._training = False
        self._summaries: LayerSummaries | None = None

    # -- what a policy provides ------------------------------------------------------

    def make_schedule(self, steps_per_epoch: int) -> SparsitySchedule:
        """The schedule that decides when to prune and to which sparsity."""
        raise NotImplementedError

    def prunes_at(self, step: int) -> bool:
        """Whether masks are recomputed at `step` (default: when the schedule says so)."""
        return self.schedule.updates_at(step)

    def learning_rate_at(self, step: int) -> float | None:
        """The learning rate to set before `step`, or None to leave the optimizer's."""
        return None

    def selectors(self, step: int, target: float) -> list[Selector]:
        """How the masks are chosen at `step` (default: by the wrappers' criteria to
        `target`, in each wrapper's scope, with `data`; SparseGPT for `"sparsegpt"`), in
        the order they run."""
        return [criterion_selector(self.model, self.data)]

    def on_pruned(self, step: int, target: float, records: list[MaskRecord]) -> None:
        """Called right after the masks were updated at `step` (one record per selector)."""

    def before_pruning(self, step: int) -> None:
        """Called right before the masks are updated at `step`."""

    def progress_logs(self) -> dict[str, float]:
        """The policy's own log values (its stage or cycle)."""
        return {}

    def state_spec(self, model: keras.Model) -> dict[str, list[int]]:
        """`{name: shape}` of the values the policy must keep to resume exactly."""
        return {}

    def check_begin(self) -> None:
        """Policy-specific checks in `on_train_begin`, before any state changes."""

    def rate_options(self) -> str | None:
        """The options by which the policy sets the learning rate (named in errors), or
        None when it leaves the optimizer's rate alone."""
        return None

    def get_config(self) -> dict:
        """The constructor arguments (without `data`, which holds data)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> "BasePruningCallback":
        return cls(**config)

    # -- the clock ---------------------------------------------------------------------

    def global_step(self, batch: int) -> int:
        """Fit's step at `batch` of the current epoch."""
        return self.epoch * self.steps_per_epoch + batch

    # -- Keras hooks ---------------------------------------------------------------

    def set_model(self, model):
        rate_options = self.rate_options()
        if rate_options and getattr(model, "optimizer", None) is not None:
            # before the state below is attached: a refused fit leaves the model as it was
            refuse_rate_schedule(self, model.optimizer, rate_options)
        super().set_model(model)
        # Before any `on_train_begin`: `BackupAndRestore` loads the weights there, and the
        # state must already exist to receive its values.
        wrappers = prune_wrappers(model)
        spec = {**self._base_state, **self.state_spec(model)} if wrappers else {}
        owner = {"class_name": type(self).__name__, "config": self._run_settings(),
                 "total_epochs": getattr(self, "total_epochs", None)}
        self.state = attach_pruning_state(wrappers[0], spec, owner) if spec else None

    def on_train_begin(self, logs=None):
        self.steps_per_epoch = self._check_fit()
        self.check_begin()
        self.schedule = self.make_schedule(self.steps_per_epoch)
        self._last_rate = None
        self._ran_to = None
        self._epoch_sparsity = {}
        self._check_company(_compat.fit_callbacks(self))
        self._check_above_target()
        self._drive(True)
        self.start_logging()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._ran_to = epoch + 1
        step = self.global_step(0)
        if not self.trace["sparsity"]:  # where this fit starts
            self._check_resumed_epoch(epoch)
            self.record_masks(step)
        self.maybe_prune(step)

    def on_train_batch_begin(self, batch, logs=None):
        step = self.global_step(batch)
        if batch > 0:  # an epoch's first step is handled in `on_epoch_begin`
            self.maybe_prune(step)
        rate = self.learning_rate_at(step)
        if rate is not None and rate != self._last_rate:
            self.model.optimizer.learning_rate = rate
            self._last_rate = rate
            self.trace["learning_rate"].append((step, float(rate)))
        elif rate is None and batch == 0:
            self.trace["learning_rate"].append((step, self._optimizer_rate()))

    def on_train_batch_end(self, batch, logs=None):
        # The optimizer's moving averages (`use_ema=True`) follow the weights before the
        # masks apply; Keras swaps them into the model at epoch ends and when fit ends.
        mask_moving_averages(self.model)
        if batch + 1 == self.steps_per_epoch:
            self._count_epoch_done()

    def on_epoch_end(self, epoch, logs=None):
        self._count_epoch_done()  # again, for an epoch its data ended early
        self._epoch_sparsity[epoch] = overall_sparsity(prune_wrappers(self.model))
        if logs is not None:
            logs.update(self.log_values())

    def on_test_begin(self, logs=None):
        if self.metric is not None:
            self.metric.reporting = False  # evaluation logs keep their keys

    def on_test_end(self, logs=None):
        if self.metric is not None:
            self.metric.reporting = self._training

    def on_train_end(self, logs=None):
        self._drive(False)
        self.stop_logging()
        reached = overall_sparsity(prune_wrappers(self.model))
        restored = self._restored_sparsity()
        if restored is not None:
            reached = restored
        asked = self.params.get("epochs") if self.params else None
        # The epochs that ran, not those asked: EarlyStopping or any callback setting
        # `model.stop_training` ends a fit before `asked`.
        epochs = self._ran_to if self._ran_to is not None else asked
        if epochs is not None and epochs < self.total_epochs and reached < self.target_sparsity:
            why = (f"model.stop_training was set, e.g. by EarlyStopping, in a fit asked for "
                   f"{asked} epochs" if asked is not None and epochs < asked
                   else f"fit was given epochs={asked}")
            warnings.warn(
                f"{type(self).__name__}: fit stopped after epoch {epochs} of the "
                f"{self.total_epochs} the schedule needs ({why}), so the model has sparsity "
                f"{reached:.4f}, not the target {self.target_sparsity}. Continue with the "
                f"same callback: fit(..., initial_epoch={epochs}, epochs={self.total_epochs}).",
                stacklevel=user_stacklevel(),
            )

    def _restored_sparsity(self) -> float | None:
        """The sparsity an `EarlyStopping(restore_best_weights=True)` of this fit restores
        (in its `on_train_end`, before or after this one's), warned when below the last
        epoch's: the masks are weights of the model, so their best epoch's come back too."""
        if not self._epoch_sparsity:
            return None
        reached = self._epoch_sparsity[max(self._epoch_sparsity)]
        for other in _compat.fit_callbacks(self):
            best = getattr(other, "best_weights", None)
            if not (isinstance(other, keras.callbacks.EarlyStopping)
                    and other.restore_best_weights and best is not None):
                continue
            restored = self._epoch_sparsity.get(other.best_epoch)
            if restored is None or restored >= reached - 1e-6:
                return None
            warnings.warn(
                f"{type(self).__name__}: EarlyStopping(restore_best_weights=True) restores "
                f"the weights of epoch {other.best_epoch + 1} (its best "
                f"{other.monitor!r}), masks included, so the model ends with sparsity "
                f"{restored:.4f}, not the {reached:.4f} this fit reached (target "
                f"{self.target_sparsity}). Let it compare only epochs at the target: "
                "EarlyStopping(..., start_from_epoch=<the first epoch at the target>).",
                stacklevel=user_stacklevel())
            return restored
        return None

    # -- shared work -------------------------------------------------------------------

    def maybe_prune(self, step: int) -> None:
        """Prune at `step` if the policy says so."""
        if self.prunes_at(step):
            self.prune_now(step, self.schedule(step))

    def prune_now(self, step: int, target: float) -> float:
        """Update the masks at `step` with the policy's selectors; returns the sparsity
        reached. The one place a callback has masks written."""
        self.before_pruning(step)
        records = [update(self.model, selector, target, self.target_sparsity)
                   for selector in self.selectors(step, target)]
        self.on_pruned(step, target, records)
        self.record_masks(step, records[-1].sparsity)
        return records[-1].sparsity

    def log_values(self) -> dict[str, float]:
        """`sparsity`, the policy's progress and `learning_rate`, as written into logs."""
        values = {"sparsity": overall_sparsity(prune_wrappers(self.model))}
        values.update(self.progress_logs())
        rate = self._optimizer_rate()
        if rate is not None:
            values["learning_rate"] = rate
        return values

    # -- reporting -----------------------------------------------------------------------

    def start_logging(self) -> None:
        """At the start of a fit: attach the sparsity metric, open the summaries."""
        self.trace = {"sparsity": [], "learning_rate": []}
        self.metric = attach_sparsity_metric(self.model)
        self.metric.value.assign(overall_sparsity(prune_wrappers(self.model)))
        self.metric.reporting = self._training = True
        if self.log_dir is not None and self._summaries is None:
            self._summaries = LayerSummaries(self.log_dir)

    def record_masks(self, step: int, sparsity: float | None = None) -> None:
        """After the masks changed at `step` (to `sparsity`, read from the masks if not
        given): trace, metric and per-layer summaries."""
        if sparsity is None:
            sparsity = overall_sparsity(prune_wrappers(self.model))
        self.trace["sparsity"].append((int(step), sparsity))
        if self.metric is not None:
            self.metric.value.assign(sparsity)
        if self._summaries is not None:
            self._summaries.write(self.model, step)

    def stop_logging(self) -> None:
        """At the end of a fit: the metric goes quiet, the summaries are closed."""
        self._training = False
        if self.metric is not None:
            self.metric.reporting = False
        if self._summaries is not None:
            self._summaries.close()
            self._summaries = None

    def _optimizer_rate(self) -> float | None:
        rate = getattr(self.model.optimizer, "learning_rate", None)
        return None if rate is None else float(np.asarray(rate))

    #: Every native policy keeps the epochs it has done, to catch a resume from the wrong
    #: epoch; TFMOT's `UpdatePruningStep` counts its own steps instead.
    _base_state = {EPOCHS_DONE: []}

    def _run_settings(self) -> dict:
        """The settings a resumed run must keep (where logs go may change)."""
        try:
            config = self.get_config()
        except NotImplementedError:  # a policy without a config: its class alone
            return {}
        config.pop("log_dir", None)
        return config

    def _check_company(self, callbacks: list) -> None:
        """Warn about the other callbacks of this fit that defeat this one."""
        others = [c for c in callbacks if isinstance(c, BasePruningCallback) and c is not self]
        if others and callbacks.index(self) < callbacks.index(others[0]):
            warnings.warn(
                f"{_describe(self)} and {', '.join(_describe(c) for c in others)} both update "
                "the masks of this fit: masks only grow, so the highest target at each step "
                "wins and each callback's schedule and logs are off. Keep one.",
                stacklevel=user_stacklevel())
        for callback in callbacks:
            freq = getattr(callback, "save_freq", "epoch")
            if isinstance(callback, keras.callbacks.BackupAndRestore) and freq != "epoch":
                warnings.warn(
                    f"{type(self).__name__}: BackupAndRestore(save_freq={freq!r}) restores a "
                    "run in the middle of an epoch by restarting the epoch from its first "
                    "batch, so a resumed pruning run is not the run that was killed. Use "
                    "save_freq='epoch' for an exact resume.", stacklevel=user_stacklevel())

    def _drive(self, driving: bool) -> None:
        """Tell the wrappers a callback prunes them in this fit (or no longer)."""
        for wrapper in prune_wrappers(self.model):
            wrapper.driven = driving

    def _count_epoch_done(self) -> None:
        # At the epoch's last step, before any callback's on_epoch_end: a BackupAndRestore
        # listed first saves the epoch's state with the epoch counted.
        if self.state is not None and EPOCHS_DONE in self.state.spec:
            self.state.write(EPOCHS_DONE, self.epoch + 1)

    def _check_above_target(self) -> None:
        reached = overall_sparsity(prune_wrappers(self.model))
        if reached > self.target_sparsity + 1e-3 and not (self.state and self.state.started):
            warnings.warn(
                f"{type(self).__name__}: the model's masks already prune {reached:.4f} of its "
                f"weights, more than the target {self.target_sparsity}: masks only grow, so "
                f"it stays at {reached:.4f}. Raise the target, or start from "
                "kerasprune.prune(model) with dense masks.", stacklevel=user_stacklevel())

    def _check_resumed_epoch(self, epoch: int) -> None:
        tracked = self.state is not None and EPOCHS_DONE in self.state.spec
        done = int(self.state.read(EPOCHS_DONE)) if tracked else 0
        if tracked and done == 0 and epoch > 0:
            warnings.warn(
                f"{type(self).__name__}: this fit starts at epoch {epoch}, but the model's "
                "resume state says no epoch of this run is done: the schedule's epochs "
                f"0..{epoch - 1} are skipped and the masks jump to epoch {epoch}'s target. "
                "Start a new run with fit(..., initial_epoch=0), or resume from the model "
                "the interrupted run saved.", stacklevel=user_stacklevel())
        if epoch < done:
            warnings.warn(
                f"{type(self).__name__}: the model's resume state says {done} epochs of this "
                f"run are done, but this fit starts at epoch {epoch}: it would run epochs "
                f"{epoch}..{done - 1} of the schedule again. To continue the run, pass "
                f"fit(..., initial_epoch={done}).", stacklevel=user_stacklevel())

    def _check_fit(self) -> int:
        name = type(self).__name__
        if not prune_wrappers(self.model):
            raise ValueError(
                f"{name} needs a model with PruneWrapper layers: train "
                "kerasprune.prune(model), not the original model."
            )
        check_pruning_request(self.model, self.target_sparsity, self.target_sparsity)
        needs = needed_data(self.model)
        if needs and self.data is None:
            raise ValueError(
                f"{name}: a pattern of this model scores by a data-driven criterion, which "
                f"needs {' and '.join(needs)} on data. Pass "
                "`data=kerasprune.CriterionData(x_sample, y_sample)`."
            )
        if {"gradients", "labels"} & set(needs) and self.data.y is None:
            raise ValueError(
                f"{name}: a pattern of this model needs loss gradients or labels, so the "
                "`data` needs targets: CriterionData(x_sample, y_sample)."
            )
        if "labels" in needs:
            class_labels(self.data.y)
        steps = self.params.get("steps") if self.params else None
        if steps == 0:
            raise ValueError(
                f"{name}: fit was given no data (0 steps per epoch): pass the training "
                "samples to fit, or a `steps_per_epoch` >= 1.")
        if not steps:
            raise ValueError(
                f"{name} needs the number of steps per epoch, which this data does not tell "
                "(a generator, or a tf.data pipeline after `filter`): the callback's clock is "
                "fit's step (epoch x steps per epoch), on which its sparsity schedule (with "
                "update_every='epoch' too), learning rates and resume state are laid out "
                "before the first step. Either pass `steps_per_epoch` to fit, or give a "
                "tf.data.Dataset its length: "
                "`dataset.apply(tf.data.experimental.assert_cardinality(n))`."
            )
        return int(steps)


def _describe(callback) -> str:
    return f"{type(callback).__name__}(target_sparsity={callback.target_sparsity})"


#: Keras callbacks that set the optimizer's learning rate themselves.
_RATE_SETTERS = (keras.callbacks.LearningRateScheduler, keras.callbacks.ReduceLROnPlateau)


def refuse_rate_schedule(callback: keras.callbacks.Callback, optimizer, what: str) -> None:
    """Refuse an optimizer whose learning rate is a schedule, which a callback cannot set."""
    if _compat.learning_rate_is_schedule(optimizer):
        raise ValueError(
            f"{type(callback).__name__} sets the learning rate ({what}), but the optimizer "
            "was created with a LearningRateSchedule. Create the optimizer with a float "
            "learning rate, or leave those options unset."
        )


def check_settable_learning_rate(callback: keras.callbacks.Callback, what: str) -> None:
    """Refuse an optimizer whose learning rate is a schedule, and another callback of the
    fit that sets the rate too (one of them would silently win)."""
    refuse_rate_schedule(callback, callback.model.optimizer, what)
    setters = [type(c).__name__ for c in _compat.fit_callbacks(callback)
               if isinstance(c, _RATE_SETTERS)]
    if setters:
        raise ValueError(
            f"{type(callback).__name__} sets the learning rate ({what}), and so does "
            f"{', '.join(setters)} in the same fit: each would overwrite the other's rate. "
            "Keep one: leave those options unset, or remove the other callback."
        )
