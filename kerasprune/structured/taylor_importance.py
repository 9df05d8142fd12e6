"""`TaylorImportance(x, y)`: the data behind the Taylor criterion's loss gradients.

`Channels("taylor")` scores a channel by how much the loss would change without it,
which needs loss gradients on real data. A `TaylorImportance` is a
`kerasprune.CriterionData` whose targets are required: a pruning callback given
`importance=` asks it for the gradients right before each mask update and passes them to
`update_masks(gradients=...)`. Nothing is written onto the patterns, so every wrapper gets
the gradients of its own weights.
"""

from __future__ import annotations

from kerasprune.core.criterion_data import CriterionData


class TaylorImportance(CriterionData):
    """A fixed sample `(x, y)` whose per-batch loss gradients feed gradient-based criteria.

    Args:
        x: input sample (a few hundred examples are enough).
        y: its targets.
        batch_size: batch size of the gradient computation; the Taylor score averages the
            squared per-batch estimates, so use several batches.

    Example:

    >>> import keras, numpy as np, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(8), keras.layers.Dense(2, name="out")]),
    ...     pattern=kerasprune.Channels("taylor"), exclude=["out"])
    >>> model.compile("adam", "mse")
    >>> x, y = np.ones((16, 4)), np.zeros((16, 2))
    >>> gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
    ...     finetune_epochs=0, importance=TaylorImportance(x, y, batch_size=8))
    >>> _ = model.fit(x, y, epochs=1, callbacks=[gmp], verbose=0)
    """

    def __init__(self, x, y, *, batch_size: int = 64):
        super().__init__(x, y, batch_size=batch_size)
