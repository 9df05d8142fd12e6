"""`tfmot.sparsity`: the pruning half of TFMOT (`tfmot.sparsity.keras`)."""

from kerasprune.tfmot.sparsity import keras

__all__ = ["keras"]
