"""`MovementPruningCallback`: movement pruning (Sanh et al. 2020) inside `model.fit`.

Sanh, Wolf & Rush (2020), "Movement Pruning: Adaptive Sparsity by Fine-Tuning": during
training a weight that moves away from zero matters, one that moves toward zero does not,
whatever its size. Soft movement pruning keeps a score per weight

    S = -sum_t w_t * dL/dw_t

and prunes the weights of lowest score on a cubic schedule. This callback accumulates the
score from the weights' actual movement over every training step,

    S = sum_t w_t * (w_{t+1} - w_t),

which under plain SGD at learning rate `lr` is exactly `lr` times Sanh's score (the step
is `-lr * dL/dw`), and under an adaptive optimizer (Adam) scores the step the optimizer
really took. Masks follow GMP's stages and cubic schedule (`PruningCallback`); every mask
update prunes the groups of lowest pooled score (a weight pattern's mean; a channel's sum,
and a coupled channel group's combination of its members', as for every channel
criterion), in each wrapper's scope. Masked weights stop moving, so their scores freeze,
and masks only grow; the last update (at the first fine-tuning step) reaches the target
exactly.

The scores are variables of the model's `PruningState` (one per pruned weight), updated
after every step, so `BackupAndRestore` or a saved `.keras` file resumes the run exactly.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.callbacks.pruning_callback import STAGES, PruningCallback
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.selectors import ToTarget
from kerasprune.core.sparsity_schedules import ConstantSparsity, PolynomialDecay, SparsitySchedule
from kerasprune.core.validation import check_int


@keras.saving.register_keras_serializable(package="kerasprune")
class MovementPruningCallback(PruningCallback):
    """Soft movement pruning: weights scored by how they moved, pruned on GMP's schedule.

    Takes `PruningCallback`'s arguments (stages, `initial_sparsity`, `update_every`,
    `schedule`, learning rates); the masks are chosen by movement score instead of the
    wrappers' criterion. The first mask update comes one update interval after the
    pruning stage starts (scores need movement); the target is reached at the first
    fine-tuning step, so `finetune_epochs` >= 1.

    Attributes:
        scores: `{weight path: movement score}` of every pruned weight (numpy copies).

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> from kerasprune.callbacks.movement_pruning_callback import MovementPruningCallback
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))
    >>> model.compile("sgd", "mse")
    >>> callback = MovementPruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
    ...                                    finetune_epochs=1)
    >>> history = model.fit(np.random.rand(32, 8), np.random.rand(32, 4), epochs=3,
    ...                     callbacks=[callback], verbose=0)
    >>> history.history["sparsity"][-1], history.history["stage"]
    (0.5, [1, 1, 2])
    """

    def __init__(self, target_sparsity: float, *, finetune_epochs: int, **kwargs):
        check_int("finetune_epochs", finetune_epochs, minimum=1)
        super().__init__(target_sparsity, finetune_epochs=finetune_epochs, **kwargs)
        self._before: list[np.ndarray] = []

    # -- what is scored --------------------------------------------------------------

    def _scored(self, model: keras.Model | None = None) -> list:
        """The pruned weights that carry scores (followers mirror their leader)."""
        return [v for w in prune_wrappers(model or self.model) if w.follows is None
                for v in w.pruned_weights]

    def state_spec(self, model: keras.Model) -> dict[str, list[int]]:
        return {f"movement_{i}": list(v.shape) for i, v in enumerate(self._scored(model))}

    @property
    def scores(self) -> dict[str, np.ndarray]:
        return {v.path: self.state.read(f"movement_{i}")
                for i, v in enumerate(self._scored())}

    # -- policy ----------------------------------------------------------------------

    def make_schedule(self, steps_per_epoch: int) -> SparsitySchedule:
        if isinstance(self.schedule_option, SparsitySchedule):
            return super().make_schedule(steps_per_epoch)
        frequency = steps_per_epoch if self.update_every == "epoch" else self.update_every
        pruning_steps = self.pruning_epochs * steps_per_epoch
        if frequency > pruning_steps:
            super().make_schedule(steps_per_epoch)  # its error names the options
        start = self.stabilization_epochs * steps_per_epoch
        begin, end = start + frequency, start + (pruning_steps // frequency) * frequency
        if self.schedule_option == "one_shot":
            return ConstantSparsity(self.target_sparsity, begin, end, frequency)
        power = 1.0 if self.schedule_option == "linear" else 3.0
        return PolynomialDecay(self.initial_sparsity, self.target_sparsity, begin, end,
                               power=power, frequency=frequency)

    def selectors(self, step: int, target: float) -> list:
        return [ToTarget(scores=self.scores)]

    # -- the scores ------------------------------------------------------------------

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)  # masks first: pruned weights are 0
        if self.stage != STAGES[2]:
            self._before = [np.array(np.asarray(v), np.float32) for v in self._scored()]

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.stage == STAGES[2] or not self._before:
            return
        _compat.sync_training_state(self.model)  # JAX: the step's values into the variables
        for i, (weight, before) in enumerate(zip(self._scored(), self._before)):
            name = f"movement_{i}"
            moved = np.asarray(weight, np.float32) - before
            self.state.write(name, self.state.read(name) + before * moved)
        self._before = []
