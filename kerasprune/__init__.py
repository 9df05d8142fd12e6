"""kerasprune: pruning for Keras 3.

The pipeline, one subpackage per stage:

- `kerasprune.core`: sparsity schedules -> patterns and the selection rule -> the
  `PruneWrapper` layer -> `prune`/`strip`, `update_masks`, `sparsity_report`;
- `kerasprune.callbacks`: GMP (`PruningCallback`), IMP and BIMP inside `model.fit`;
- `kerasprune.retrain`: the retraining learning-rate schedules;
- `kerasprune.structured`: channel and N:M patterns, criteria, `shrink`.

Export to sparse TFLite lives in the separate top-level package `tflite_export`.
This module is the one list of public names.
"""

from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.callbacks.bimp_callback import BIMPCallback
from kerasprune.callbacks.imp_callback import IMPCallback
from kerasprune.callbacks.pruning_callback import PruningCallback
from kerasprune.core.mask_update import update_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.one_shot import one_shot_prune
from kerasprune.core.patterns import Blocks, MaskPattern, Unstructured
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.registry import register_prunable
from kerasprune.core.report import MacCount, SparsityReport, count_macs, sparsity_report
from kerasprune.core.sparsity_schedules import (
    ConstantSparsity,
    CycleSparsity,
    PolynomialDecay,
    SparsitySchedule,
    cycle_sparsities,
)
from kerasprune.core.wrapping import UnprunableLayerWarning, prune, strip
from kerasprune.retrain.schedules import ALLR, CLR, FT, LLR, LRW, SLR, allr_d1
from kerasprune.structured.channel_patterns import NM, Channels
from kerasprune.structured.criteria import channel_scores, head_scores
from kerasprune.structured.surgery import shrink
from kerasprune.structured.taylor_importance import TaylorImportance

__version__ = "0.2.0"

__all__ = [
    "ALLR",
    "BIMPCallback",
    "BasePruningCallback",
    "Blocks",
    "CLR",
    "Channels",
    "ConstantSparsity",
    "CycleSparsity",
    "FT",
    "IMPCallback",
    "LLR",
    "LRW",
    "MacCount",
    "MaskPattern",
    "NM",
    "PolynomialDecay",
    "PruneWrapper",
    "PruningCallback",
    "SLR",
    "SparsityReport",
    "SparsitySchedule",
    "TaylorImportance",
    "UnprunableLayerWarning",
    "Unstructured",
    "allr_d1",
    "channel_scores",
    "count_macs",
    "cycle_sparsities",
    "head_scores",
    "one_shot_prune",
    "prune",
    "prune_wrappers",
    "register_prunable",
    "shrink",
    "sparsity_report",
    "strip",
    "update_masks",
]
