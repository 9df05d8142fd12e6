"""TFMOT's `pruning_policy` module: `PruningPolicy`, `PruneForLatencyOnXNNPack`."""

from kerasprune.tfmot.sparsity.keras.pruning_policy import PruneForLatencyOnXNNPack, PruningPolicy

__all__ = ["PruneForLatencyOnXNNPack", "PruningPolicy"]
