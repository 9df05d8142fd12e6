"""TFMOT's `prune` module: `prune_low_magnitude`, `strip_pruning`, `prune_scope`."""

from kerasprune.tfmot.sparsity.keras.prune import prune_low_magnitude, prune_scope, strip_pruning

__all__ = ["prune_low_magnitude", "prune_scope", "strip_pruning"]
