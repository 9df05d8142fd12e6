"""kerasprune: pruning for Keras 3 on TensorFlow.

The pipeline, one module each: sparsity schedules -> patterns and masks -> the wrapper
layer -> prune/strip -> callbacks -> report.
"""

from kerasprune.channel_scores import TaylorImportance, channel_scores, head_scores
from kerasprune.masks import update_masks
from kerasprune.model_walk import prune_wrappers
from kerasprune.patterns import Blocks, MaskPattern, Unstructured
from kerasprune.prune import UnprunableLayerWarning, prune, strip
from kerasprune.prune_wrapper import PruneWrapper
from kerasprune.pruning_callback import PruningCallback
from kerasprune.registry import register_prunable
from kerasprune.report import SparsityReport, sparsity_report
from kerasprune.shrink import shrink
from kerasprune.sparsity_schedules import ConstantSparsity, PolynomialDecay, SparsitySchedule
from kerasprune.structured_patterns import NM, Channels

__version__ = "0.1.0"

__all__ = [
    "Blocks",
    "Channels",
    "ConstantSparsity",
    "MaskPattern",
    "NM",
    "PolynomialDecay",
    "PruneWrapper",
    "PruningCallback",
    "SparsityReport",
    "SparsitySchedule",
    "TaylorImportance",
    "UnprunableLayerWarning",
    "Unstructured",
    "channel_scores",
    "head_scores",
    "prune",
    "prune_wrappers",
    "register_prunable",
    "shrink",
    "sparsity_report",
    "strip",
    "update_masks",
]
