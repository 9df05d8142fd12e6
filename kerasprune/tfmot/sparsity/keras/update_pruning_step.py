"""`UpdatePruningStep`: TFMOT's step callback, on kerasprune's callback base.

TFMOT's clock is each wrapper's `pruning_step`: -1 when the wrapper is built, set to 0 by
this callback when training starts (a restored model keeps its step), advanced by every
training call of the wrapper, so the first batch is step 1 and the count goes on across
`fit` calls and saving. Before each batch the callback makes the mask updates the
schedules ask for at the coming step (a compiled train step cannot run kerasprune's mask
update); at the end of each epoch it catches up with steps a custom training loop ran
without calling `on_train_batch_begin`, and re-masks the weights as TFMOT does. At the end
of training it warns, naming them, about layers whose schedule never fired and layers that
end below their schedule's final sparsity, with the reason. On a model without
`PruneLowMagnitude` layers it does nothing, as in TFMOT.
"""

from __future__ import annotations

import warnings

from kerasprune import _compat
from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.core.caller import user_stacklevel
from kerasprune.tfmot.sparsity.keras.pruning_impl import shortfall_warning
from kerasprune.tfmot.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
    collect_prunable_layers,
)


class UpdatePruningStep(BasePruningCallback):
    """Advances TFMOT's pruning step and prunes where the schedules say.

    Required when training a model wrapped by `prune_low_magnitude`, as in TFMOT. Also
    writes `sparsity` (of all pruned weights) into the logs of every callback.

    Example:

    >>> import numpy as np, keras
    >>> import kerasprune.tfmot as tfmot
    >>> schedule = tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=2)
    >>> model = tfmot.sparsity.keras.prune_low_magnitude(
    ...     keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]),
    ...     pruning_schedule=schedule)
    >>> model.compile("sgd", "mse")
    >>> step = tfmot.sparsity.keras.UpdatePruningStep()
    >>> history = model.fit(np.ones((8, 8)), np.ones((8, 4)), batch_size=4, epochs=2,
    ...                     callbacks=[step], verbose=0)
    >>> step.step, history.history["sparsity"]
    (4, [0.5, 0.5])
    """

    total_epochs = 0
    _base_state = {}  # TFMOT's clock is its own step counter, not fit's epochs

    def __init__(self):
        super().__init__(0.0)
        self.prunable_layers: list[PruneLowMagnitude] = []

    @property
    def step(self) -> int:
        """The model's pruning step (its first wrapper's), 0 before training."""
        for wrapper in self.prunable_layers:
            if getattr(wrapper, "pruning_step", None) is not None:
                return max(wrapper.current_step(), 0)
        return 0

    def on_train_begin(self, logs=None):
        self.prunable_layers = collect_prunable_layers(self.model)
        if not self.prunable_layers:
            warnings.warn(
                f"UpdatePruningStep: model '{self.model.name}' holds no layer wrapped by "
                "prune_low_magnitude, so this fit prunes nothing. Train "
                "tfmot.sparsity.keras.prune_low_magnitude(model), not the original model.",
                stacklevel=user_stacklevel())
            return
        self._check_company(_compat.fit_callbacks(self))
        for wrapper in self.prunable_layers:
            wrapper.start_training()
        self.start_logging()
        self.record_masks(self.step)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self._catch_up(ahead=1)

    def on_epoch_end(self, batch, logs=None):
        if not self.prunable_layers:
            return
        self._catch_up(ahead=0)
        for wrapper in self.prunable_layers:
            if wrapper.pruning_obj is not None:
                wrapper.pruning_obj.weight_mask_op()
        super().on_epoch_end(batch, logs)

    def _catch_up(self, ahead: int) -> None:
        """Make the mask updates due up to each wrapper's step + `ahead`."""
        if not self.prunable_layers:
            return
        _compat.sync_training_state(self.model)
        changed = False
        for wrapper in self.prunable_layers:
            if wrapper.pruning_obj is not None:
                step = wrapper.current_step() + ahead
                changed |= wrapper.pruning_obj.catch_up(step)
        if changed:
            self.record_masks(self.step + ahead)

    def on_train_end(self, logs=None):
        if not self.prunable_layers:
            return
        self.stop_logging()
        for wrapper in self.prunable_layers:
            wrapper.stop_training()
        step = self.step
        never = [w for w in self.prunable_layers
                 if w.masks and w.sparsity == 0.0 and _wanted(w, step)]
        if never:
            warnings.warn(
                f"UpdatePruningStep: training ran to step {step}, but no mask was "
                "updated for layers "
                + ", ".join(f"'{w.layer.name}' (its schedule first prunes at step "
                            f"{w.pruning_schedule.first_step()})" for w in never)
                + ". Steps count from 1 at the first batch: lower `begin_step` or "
                "`frequency`, or train longer.",
                stacklevel=user_stacklevel(),
            )
        message = shortfall_warning([w for w in self.prunable_layers if w not in never])
        if message:
            warnings.warn(f"UpdatePruningStep: {message}", stacklevel=user_stacklevel())

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "UpdatePruningStep":
        return cls()


def _wanted(wrapper: PruneLowMagnitude, step: int) -> bool:
    """Whether the schedule asks for a nonzero sparsity by `step` and never pruned."""
    if wrapper.sparsity_m_by_n is not None:
        return step >= 1
    should_have = wrapper.pruning_obj.last_pruning_step(0, step) is not None
    return not should_have and wrapper.pruning_schedule.decision(step)[1] > 0.0
