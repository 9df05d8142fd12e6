"""`tfmot.sparsity.keras`: TFMOT's pruning names, on kerasprune's engine."""

from kerasprune.tfmot.sparsity.keras.prunable_layer import PrunableLayer
from kerasprune.tfmot.sparsity.keras.prune import prune_low_magnitude, prune_scope, strip_pruning
from kerasprune.tfmot.sparsity.keras.pruning_policy import PruneForLatencyOnXNNPack, PruningPolicy
from kerasprune.tfmot.sparsity.keras.pruning_schedule import (
    ConstantSparsity,
    PolynomialDecay,
    PruningSchedule,
)
from kerasprune.tfmot.sparsity.keras.pruning_summaries import PruningSummaries
from kerasprune.tfmot.sparsity.keras.pruning_wrapper import PruneLowMagnitude
from kerasprune.tfmot.sparsity.keras.update_pruning_step import UpdatePruningStep

__all__ = [
    "ConstantSparsity",
    "PolynomialDecay",
    "PrunableLayer",
    "PruneForLatencyOnXNNPack",
    "PruneLowMagnitude",
    "PruningPolicy",
    "PruningSchedule",
    "PruningSummaries",
    "UpdatePruningStep",
    "prune_low_magnitude",
    "prune_scope",
    "strip_pruning",
]
