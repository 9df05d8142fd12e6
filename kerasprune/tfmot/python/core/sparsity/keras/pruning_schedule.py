"""TFMOT's `pruning_schedule` module: `PruningSchedule`, `ConstantSparsity`, `PolynomialDecay`."""

from kerasprune.tfmot.sparsity.keras.pruning_schedule import (
    ConstantSparsity,
    PolynomialDecay,
    PruningSchedule,
)

__all__ = ["ConstantSparsity", "PolynomialDecay", "PruningSchedule"]
