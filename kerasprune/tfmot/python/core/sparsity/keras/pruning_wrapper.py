"""TFMOT's `pruning_wrapper` module: `PruneLowMagnitude`, `collect_prunable_layers`."""

from kerasprune.tfmot.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
    collect_prunable_layers,
)

__all__ = ["PruneLowMagnitude", "collect_prunable_layers"]
