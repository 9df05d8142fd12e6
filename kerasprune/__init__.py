"""kerasprune: pruning for Keras 3 on TensorFlow.

The pipeline, one module each: sparsity schedules -> patterns and masks -> the wrapper
layer -> prune/strip -> callbacks -> report.
"""

from kerasprune.bimp import BIMPCallback
from kerasprune.channel_scores import TaylorImportance, channel_scores, head_scores
from kerasprune.imp_callback import IMPCallback, cycle_sparsities
from kerasprune.masks import update_masks
from kerasprune.one_shot import one_shot_prune
from kerasprune.model_walk import prune_wrappers
from kerasprune.patterns import Blocks, MaskPattern, Unstructured
from kerasprune.prune import UnprunableLayerWarning, prune, strip
from kerasprune.prune_wrapper import PruneWrapper
from kerasprune.pruning_callback import PruningCallback
from kerasprune.registry import register_prunable
from kerasprune.retrain_schedules import ALLR, CLR, FT, LLR, LRW, SLR, allr_d1
from kerasprune.report import SparsityReport, sparsity_report
from kerasprune.shrink import shrink
from kerasprune.sparsity_schedules import ConstantSparsity, PolynomialDecay, SparsitySchedule
from kerasprune.structured_patterns import NM, Channels

__version__ = "0.1.0"

__all__ = [
    "ALLR",
    "BIMPCallback",
    "CLR",
    "FT",
    "IMPCallback",
    "LLR",
    "LRW",
    "SLR",
    "allr_d1",
    "cycle_sparsities",
    "one_shot_prune",
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
