"""TFMOT's `pruning_callbacks` module: `UpdatePruningStep`, `PruningSummaries`."""

from kerasprune.tfmot.sparsity.keras.pruning_summaries import PruningSummaries
from kerasprune.tfmot.sparsity.keras.update_pruning_step import UpdatePruningStep

__all__ = ["PruningSummaries", "UpdatePruningStep"]
