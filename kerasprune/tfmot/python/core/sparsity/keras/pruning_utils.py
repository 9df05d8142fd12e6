"""TFMOT's `pruning_utils` module: the m-by-n helpers scripts use to check a mask."""

from kerasprune.tfmot.sparsity.keras.pruning_utils import (
    convert_to_tuple_of_two_int,
    is_pruned_m_by_n,
)

__all__ = ["convert_to_tuple_of_two_int", "is_pruned_m_by_n"]
