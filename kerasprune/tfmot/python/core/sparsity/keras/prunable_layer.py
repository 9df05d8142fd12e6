"""TFMOT's `prunable_layer` module: `PrunableLayer`."""

from kerasprune.tfmot.sparsity.keras.prunable_layer import PrunableLayer

__all__ = ["PrunableLayer"]
