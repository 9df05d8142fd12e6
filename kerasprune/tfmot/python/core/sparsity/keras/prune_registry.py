"""TFMOT's `prune_registry` module: `PruneRegistry`, the default prunable weights by layer."""

from kerasprune.tfmot.sparsity.keras.prune_registry import PruneRegistry

__all__ = ["PruneRegistry"]
