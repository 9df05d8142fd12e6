"""`TaylorImportance(x, y)`: the data behind the Taylor criterion's loss gradients.

`Channels("taylor")` scores a channel by how much the loss would change without it,
which needs loss gradients on real data. A `TaylorImportance` holds a fixed sample and
computes those gradients on demand; a pruning callback given `importance=` asks it for
them right before each mask update and passes them to `update_masks(gradients=...)`.
Nothing is written onto the patterns, so every wrapper gets the gradients of its own
weights.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.validation import check_int
from kerasprune.structured.criteria import loss_gradients


class TaylorImportance:
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
        if not hasattr(x, "__len__") or not hasattr(y, "__len__") or len(x) != len(y) or not len(x):
            raise ValueError(
                "`x` and `y` must be non-empty arrays of equal length. Received: "
                f"x of type {type(x).__name__}, y of type {type(y).__name__}"
            )
        self.x, self.y = x, y
        self.batch_size = check_int("batch_size", batch_size, minimum=1)

    def gradients(self, model: keras.Model) -> dict[str, list[np.ndarray]]:
        """`{weight path: [gradient per batch]}` for every weight whose pattern needs them."""
        paths = [
            weight.path
            for wrapper in prune_wrappers(model)
            if wrapper.pattern.needs_gradients
            for weight in wrapper.pruned_weights
        ]
        return loss_gradients(model, self.x, self.y, batch_size=self.batch_size, paths=paths)
