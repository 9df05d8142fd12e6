"""kerasprune: pruning for Keras 3.

The pipeline, one subpackage per stage:

- `kerasprune.core`: sparsity schedules -> patterns and the selection rule -> the
  `PruneWrapper` layer -> `prune`/`strip`, `update_masks`, `sparsity_report`;
- `kerasprune.callbacks`: GMP (`PruningCallback`), IMP and BIMP inside `model.fit`;
- `kerasprune.retrain`: the retraining learning-rate schedules;
- `kerasprune.structured`: channel and N:M patterns, criteria, `shrink`.

Around them: `kerasprune.plot` (figures of a run), `kerasprune.Recipe` (a whole run as
YAML) and `kerasprune.tfmot` (TFMOT's API on this engine).

Export to sparse TFLite lives in the separate top-level package `tflite_export`.
This module is the one list of public names.
"""

from kerasprune import plot
from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.callbacks.bimp_callback import BIMPCallback
from kerasprune.callbacks.imp_callback import IMPCallback
from kerasprune.callbacks.penalty_pruning_callback import PenaltyPruningCallback
from kerasprune.callbacks.pruning_callback import PruningCallback
from kerasprune.callbacks.rigl_callback import RigLCallback
from kerasprune.core.criterion_data import ChannelActivity, CriterionData
from kerasprune.core.group_lasso import GroupLasso
from kerasprune.core.mask_update import update_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.one_shot import one_shot_prune
from kerasprune.core.patterns import Blocks, MaskPattern, Unstructured
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.registry import register_prunable
from kerasprune.core.report import MacRow, SparsityReport, multiply_accumulates, sparsity_report
from kerasprune.core.sensitivity_analysis import SensitivityResult, sensitivity
from kerasprune.core.sparsity_schedules import (
    ConstantSparsity,
    CycleSparsity,
    PolynomialDecay,
    SparsitySchedule,
    cycle_sparsities,
)
from kerasprune.core.wrapping import UnprunableLayerWarning, prune, strip
from kerasprune.recipe import Recipe
from kerasprune.retrain.schedules import ALLR, CLR, FT, LLR, LRW, SLR, allr_d1
from kerasprune.structured.channel_groups import ChannelGroups, channel_groups
from kerasprune.structured.channel_patterns import NM, Channels
from kerasprune.structured.criteria import channel_scores, head_scores
from kerasprune.structured.group_selection import LayersLeftWholeWarning
from kerasprune.structured.surgery import shrink
from kerasprune.structured.taylor_importance import TaylorImportance

__version__ = "0.2.0"

__all__ = [
    "ALLR",
    "BIMPCallback",
    "BasePruningCallback",
    "Blocks",
    "CLR",
    "ChannelActivity",
    "ChannelGroups",
    "Channels",
    "ConstantSparsity",
    "CriterionData",
    "CycleSparsity",
    "FT",
    "GroupLasso",
    "IMPCallback",
    "LLR",
    "LRW",
    "LayersLeftWholeWarning",
    "MacRow",
    "MaskPattern",
    "NM",
    "PenaltyPruningCallback",
    "PolynomialDecay",
    "PruneWrapper",
    "PruningCallback",
    "Recipe",
    "RigLCallback",
    "SLR",
    "SensitivityResult",
    "SparsityReport",
    "SparsitySchedule",
    "TaylorImportance",
    "UnprunableLayerWarning",
    "Unstructured",
    "allr_d1",
    "channel_groups",
    "channel_scores",
    "cycle_sparsities",
    "head_scores",
    "multiply_accumulates",
    "one_shot_prune",
    "plot",
    "prune",
    "prune_wrappers",
    "register_prunable",
    "sensitivity",
    "shrink",
    "sparsity_report",
    "strip",
    "update_masks",
]
