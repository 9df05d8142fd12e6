"""`BIMPCallback`: Budgeted IMP (seed 003) from scratch inside one `model.fit`.

Given a budget of T epochs, train dense for T0 < T epochs with a linear learning-rate
decay, then spend the remaining T - T0 epochs on IMP with ALLR retraining. It is an
`IMPCallback` whose original schedule (the linear dense phase) is built when `fit`
starts, because only then is the number of steps per epoch known.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import keras

from kerasprune.callbacks.imp_callback import IMPCallback
from kerasprune.core.criterion_data import CriterionData
from kerasprune.core.validation import check_int, check_learning_rate


@keras.saving.register_keras_serializable(package="kerasprune")
class BIMPCallback(IMPCallback):
    """Budgeted IMP: dense training for `dense_epochs`, then IMP with ALLR.

    The learning rate decays linearly from `max_learning_rate` to 0 over the dense
    phase; the `R = total_epochs - dense_epochs` retraining epochs split into `cycles`
    cycles of `R // cycles` epochs, the last one taking the remainder as in the authors'
    code (R = 5, 2 cycles: 2 + 3 epochs). Each cycle uses ALLR (the original length T
    for ALLR's `d2` is `dense_epochs`; `d2` uses the cycle's own length).
    Logs `sparsity`, `cycle` and `lr` like `IMPCallback`. Train with
    `fit(epochs=total_epochs)` and an optimizer created with a float learning rate.

    Args:
        target_sparsity: final sparsity in (0, 1).
        total_epochs: the budget T, in epochs.
        dense_epochs: T0 < T, the epochs of dense training.
        cycles: prune-retrain cycles in the remaining `T - T0` epochs (at most `T - T0`).
        max_learning_rate: the starting rate of the linear dense phase; defaults to the
            optimizer's learning rate when `fit` starts.
        warmup: warm-up fraction of each retraining phase (default 0.1).
        data: a `kerasprune.CriterionData` for data-driven criteria (Taylor, APoZ, SNIP).
        log_dir: a TensorBoard folder for per-layer sparsity and threshold scalars.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)),
    ...     keras.layers.Dense(16), keras.layers.Dense(1)]), scope="global")
    >>> model.compile(keras.optimizers.SGD(0.05), "mse")
    >>> bimp = kerasprune.BIMPCallback(0.8, total_epochs=4, dense_epochs=2, cycles=2)
    >>> history = model.fit(np.ones((32, 8)), np.ones((32, 1)), epochs=4,
    ...                     callbacks=[bimp], verbose=0)
    >>> history.history["cycle"], round(history.history["sparsity"][-1], 2)
    ([0, 0, 1, 2], 0.8)
    """

    _builds_original = True

    def __init__(
        self,
        target_sparsity: float,
        *,
        total_epochs: int,
        dense_epochs: int,
        cycles: int = 1,
        max_learning_rate: Optional[float] = None,
        warmup: Optional[float] = None,
        data: Optional[CriterionData] = None,
        log_dir: Optional[str] = None,
    ):
        _check_budget(total_epochs, dense_epochs, cycles)
        check_learning_rate("max_learning_rate", max_learning_rate, optional=True)
        super().__init__(
            target_sparsity,
            cycles=cycles,
            epochs_per_cycle=(total_epochs - dense_epochs) // cycles,
            retrain_schedule="allr",
            original_epochs=dense_epochs,
            dense_epochs=dense_epochs,
            warmup=warmup,
            data=data,
            log_dir=log_dir,
        )
        self.total_budget = total_epochs
        self.max_learning_rate = max_learning_rate

    def cycle_epochs(self, cycle: int) -> int:
        """`R // cycles` epochs, the last cycle taking the remainder of `R`."""
        if cycle < self.cycles:
            return self.epochs_per_cycle
        return self.total_budget - self.dense_epochs - (self.cycles - 1) * self.epochs_per_cycle

    def state_spec(self, model: keras.Model) -> dict[str, list[int]]:
        return {**super().state_spec(model), "max_learning_rate": []}

    def original_schedule(self, steps_per_epoch: int) -> keras.optimizers.schedules.LearningRateSchedule:
        start = self.max_learning_rate
        if start is None:
            # Read once, when the run starts; a resumed run finds it in the state (the
            # optimizer's rate has been driven by the callback since).
            start = float(self.state.read("max_learning_rate"))
            if start == 0.0:
                start = float(np.asarray(self.model.optimizer.learning_rate))
                self.state.write("max_learning_rate", start)
        return keras.optimizers.schedules.PolynomialDecay(
            start, decay_steps=self.dense_epochs * steps_per_epoch, end_learning_rate=0.0
        )

    def get_config(self) -> dict:
        return {
            "target_sparsity": self.target_sparsity,
            "total_epochs": self.total_budget,
            "dense_epochs": self.dense_epochs,
            "cycles": self.cycles,
            "max_learning_rate": self.max_learning_rate,
            "warmup": self.warmup,
            "log_dir": self.log_dir,
        }



def _check_budget(total_epochs, dense_epochs, cycles) -> None:
    for name, value in (("total_epochs", total_epochs), ("dense_epochs", dense_epochs),
                        ("cycles", cycles)):
        check_int(name, value, minimum=1)
    if dense_epochs >= total_epochs:
        raise ValueError(
            "`dense_epochs` (T0) must be smaller than `total_epochs` (T) to leave epochs for "
            f"retraining. Received: dense_epochs={dense_epochs}, total_epochs={total_epochs}"
        )
    retrain = total_epochs - dense_epochs
    if retrain < cycles:
        raise ValueError(
            f"The {retrain} retraining epochs (total_epochs - dense_epochs) must give each of "
            f"the {cycles} cycles at least one epoch. Received: total_epochs={total_epochs}, "
            f"dense_epochs={dense_epochs}, cycles={cycles}"
        )
