"""`L0PruningCallback`: L0 regularization with hard-concrete gates, ended by hard masks.

Train a model made with `kerasprune.prune(model, pattern=Channels(), penalty=L0Gates(s))`
(`kerasprune.core.l0_gates`: Louizos et al. 2018): every pruned layer's output channels
carry hard-concrete gates trained with the model's loss plus `s` times the expected number
of nonzero weights. Then:

1. gate phase (`gate_epochs`): the gates and weights train together;
2. at its end the channels are ranked by their gates' probability of being open,
   `P(z != 0)` (a channel group's score combines its members', as for every channel
   criterion) and the lowest are masked to reach `target_sparsity` exactly, through the
   engine's one selection; the deterministic gates are folded into the kernels and
   biases and turned off, so the model computes what the gated model computed in
   inference, minus the pruned channels;
3. fine-tuning (`finetune_epochs`) with frozen masks and no gates.

Logs: `sparsity`, `expected_density` (the gates' expected nonzero weights over the gated
weights; 1.0 once folded) and `stage` (0 gates, 1 fine-tuning). The gates, their noise
seed and whether they were folded are variables of the model, so a run resumes exactly.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.core.l0_gates import fold_gates, open_probabilities
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.selectors import ToTarget
from kerasprune.core.sparsity_schedules import ConstantSparsity, SparsitySchedule
from kerasprune.core.validation import check_int, check_sparsity


@keras.saving.register_keras_serializable(package="kerasprune")
class L0PruningCallback(BasePruningCallback):
    """Train L0 gates, then keep the channels most likely open, at an exact target.

    Args:
        target_sparsity: the sparsity reached when the gate phase ends, in (0, 1): the
            fraction of channels (or FLOPs, parameters) the `Channels` pattern measures.
        gate_epochs: epochs of training with the gates and their penalty.
        finetune_epochs: epochs with frozen masks and no gates at the end.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> from kerasprune.core.l0_gates import L0Gates
    >>> from kerasprune.callbacks.l0_pruning_callback import L0PruningCallback
    >>> model = kerasprune.prune(
    ...     keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu",
    ...                                          name="hidden"),
    ...                       keras.layers.Dense(1)]),
    ...     layers=["hidden"], pattern=kerasprune.Channels(), penalty=L0Gates(1e-3))
    >>> model.compile("adam", "mse")
    >>> callback = L0PruningCallback(0.5, gate_epochs=2, finetune_epochs=1)
    >>> history = model.fit(np.random.rand(64, 8), np.random.rand(64, 1), epochs=3,
    ...                     callbacks=[callback], verbose=0)
    >>> kerasprune.sparsity_report(model).as_dict()["hidden/kernel"], history.history["stage"]
    (0.5, [0, 0, 1])
    """

    def __init__(self, target_sparsity: float, *, gate_epochs: int, finetune_epochs: int):
        check_sparsity("target_sparsity", target_sparsity, allow_zero=False)
        super().__init__(target_sparsity)
        self.gate_epochs = check_int("gate_epochs", gate_epochs, minimum=1)
        self.finetune_epochs = check_int("finetune_epochs", finetune_epochs)

    @property
    def total_epochs(self) -> int:
        return self.gate_epochs + self.finetune_epochs

    def _gated(self) -> list:
        return [w for w in prune_wrappers(self.model) if w.gates is not None]

    # -- policy -------------------------------------------------------------------------

    def check_begin(self) -> None:
        ungated = [w.layer.name for w in prune_wrappers(self.model)
                   if w.follows is None and w.gates is None]
        if ungated:
            raise ValueError(
                f"L0PruningCallback ranks channels by their L0 gates, and these pruned "
                f"layers have none: {ungated}. Create the model with kerasprune.prune(model, "
                "pattern=kerasprune.Channels(), penalty=kerasprune.core.l0_gates.L0Gates(...))."
            )

    def make_schedule(self, steps_per_epoch: int) -> SparsitySchedule:
        end = self.gate_epochs * steps_per_epoch
        return ConstantSparsity(self.target_sparsity, end, end, 1)

    def prunes_at(self, step: int) -> bool:
        return False  # once, when the gate phase ends (`_end_gates`)

    def selectors(self, step: int, target: float) -> list:
        scores = {}
        for wrapper in self._gated():
            scores.update(open_probabilities(wrapper))
        return [ToTarget(scores=scores)]

    def _end_gates(self) -> None:
        """Masks at the target by the gates' ranking, then the gates folded (idempotent:
        a resumed run whose gates are folded already is left as it is)."""
        if not any(w.gates.is_active for w in self._gated()):
            return
        self.prune_now(self.schedule.end_step, self.target_sparsity)
        for wrapper in self._gated():
            fold_gates(wrapper)
            wrapper.apply_masks()

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        if epoch >= self.gate_epochs:
            self._end_gates()  # a run resumed after a save made before the phase ended

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.gate_epochs - 1:
            self._end_gates()
        super().on_epoch_end(epoch, logs)

    def progress_logs(self) -> dict[str, float]:
        gated = self._gated()
        total = sum(sum(w.gates.group_sizes) for w in gated)
        expected = sum(w.gates.expected_l0() if w.gates.is_active else sum(w.gates.group_sizes)
                       for w in gated)
        return {"expected_density": float(expected / total) if total else 1.0,
                "stage": int(self.epoch >= self.gate_epochs)}

    def get_config(self) -> dict:
        return {"target_sparsity": self.target_sparsity, "gate_epochs": self.gate_epochs,
                "finetune_epochs": self.finetune_epochs}
