"""TFMOT's `pruning_impl` module: `Pruning`, a wrapper's `pruning_obj`."""

from kerasprune.tfmot.sparsity.keras.pruning_impl import Pruning

__all__ = ["Pruning"]
