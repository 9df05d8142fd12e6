"""`PrunableLayer`: TFMOT's abstract base class for a custom layer that can be pruned."""

from __future__ import annotations

import abc


class PrunableLayer(abc.ABC):
    """Mix into a Keras layer and return the variables to prune from `get_prunable_weights`.

    kerasprune reads `get_prunable_weights()` from any layer, so this base class only
    declares the contract, as in TFMOT.

    Example:

    >>> import keras
    >>> class MyDense(keras.layers.Dense, PrunableLayer):
    ...     def get_prunable_weights(self):
    ...         return [self.kernel, self.bias]
    >>> layer = MyDense(3)
    >>> layer.build((None, 2))
    >>> [v.name for v in layer.get_prunable_weights()]
    ['kernel', 'bias']
    """

    @abc.abstractmethod
    def get_prunable_weights(self) -> list:
        """The variables of this layer to prune."""
