"""`UpdatePruningStep`: TFMOT's step callback, a policy on kerasprune's callback base.

TFMOT's clock is a step counter kept with the model: it starts at 0 when the model is
wrapped, the first training batch is step 1, and it goes on across `fit` calls (a model
saved and loaded carries on where it was). Before each batch the callback advances it,
asks every `PruneLowMagnitude` wrapper's schedule whether to prune at that step and to
what sparsity, and updates the masks of those that say so. The counter lives in the
model's `PruningState`, so `.keras` files and `BackupAndRestore` keep it.
"""

from __future__ import annotations

import warnings

import keras

from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.mask_update import update_layer_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.tfmot.sparsity.keras.prune import PruneLowMagnitude

STEP = "pruning_step"


class UpdatePruningStep(BasePruningCallback):
    """Advances TFMOT's pruning step before each batch and prunes where schedules say.

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
        self.step = 0

    def state_spec(self, model: keras.Model) -> dict[str, list[int]]:
        return {STEP: []}

    def wrappers(self) -> list[PruneLowMagnitude]:
        """The model's `PruneLowMagnitude` layers (the layers this callback prunes)."""
        return [w for w in prune_wrappers(self.model) if isinstance(w, PruneLowMagnitude)]

    def on_train_begin(self, logs=None):
        wrappers = self.wrappers()
        if not wrappers:
            raise ValueError(
                "UpdatePruningStep found no layer wrapped by prune_low_magnitude in the "
                "model. (Models from kerasprune.prune are trained with "
                "kerasprune.PruningCallback or IMPCallback.)"
            )
        for wrapper in wrappers:
            wrapper.driven = True
        self.step = int(self.state.read(STEP))
        self.start_logging()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.step += 1
        self.state.write(STEP, self.step)
        if not self.trace["sparsity"]:
            self.record_masks(self.step - 1)  # where this fit starts
        self.maybe_prune(self.step)

    def maybe_prune(self, step: int) -> None:
        targets = {}
        for wrapper in self.wrappers():
            target = wrapper.target_at(step)
            if target is not None:
                targets[wrapper] = target
        if targets:
            self.record_masks(step, update_layer_masks(targets, model=self.model).sparsity)

    def on_epoch_end(self, batch, logs=None):
        # TFMOT re-masks the weights here; kerasprune's masks are hard, nothing to redo.
        super().on_epoch_end(batch, logs)

    def on_train_end(self, logs=None):
        self.stop_logging()
        never = [w for w in self.wrappers() if w.sparsity == 0.0 and _wanted(w, self.step)]
        if never:
            warnings.warn(
                f"UpdatePruningStep: training ran to step {self.step}, but no mask was "
                "updated for layers "
                + ", ".join(f"'{w.layer.name}' (its schedule first prunes at step "
                            f"{w.pruning_schedule.first_step()})" for w in never)
                + ". Steps count from 1 at the first batch: lower `begin_step` or "
                "`frequency`, or train longer.",
                stacklevel=user_stacklevel(),
            )

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "UpdatePruningStep":
        return cls()


def _wanted(wrapper: PruneLowMagnitude, step: int) -> bool:
    """Whether the schedule asks for a nonzero sparsity by `step` (it never fired)."""
    if wrapper.sparsity_m_by_n is not None:
        return True
    return float(wrapper.pruning_schedule(step)[1]) > 0.0
