"""kerasprune: pruning for Keras 3.

The pipeline, one subpackage per stage:

- `kerasprune.core`: sparsity schedules -> patterns, selectors and the selection rule ->
  the `PruneWrapper` layer -> `prune`/`strip`, `update_masks` (the one mask writer),
  `sparsity_report`, the layer specs;
- `kerasprune.callbacks`: GMP (`PruningCallback`), IMP, BIMP, RigL and penalties inside
  `model.fit`;
- `kerasprune.retrain`: the retraining learning-rate schedules;
- `kerasprune.structured`: channel and N:M patterns, criteria, `shrink`.

Around them: `kerasprune.plot` (figures of a run), `kerasprune.Recipe` (a whole run as
YAML) and `kerasprune.tfmot` (TFMOT's API on this engine).

Export to sparse TFLite lives in the separate top-level package `tflite_export`.
This module is the one list of public names: what a user calls or subclasses. Result
types and helpers live in their submodules.
"""

from kerasprune import plot, retrain
from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.callbacks.bimp_callback import BIMPCallback
from kerasprune.callbacks.imp_callback import IMPCallback
from kerasprune.callbacks.penalty_pruning_callback import PenaltyPruningCallback
from kerasprune.callbacks.pruning_callback import PruningCallback
from kerasprune.callbacks.rigl_callback import RigLCallback
from kerasprune.core.criterion_data import CriterionData
from kerasprune.core.deprecation import moved_name
from kerasprune.core.mask_update import update_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.one_shot import one_shot_prune
from kerasprune.core.patterns import Blocks, MaskPattern, Unstructured
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.registry import register_prunable
from kerasprune.core.report import sparsity_report
from kerasprune.core.sensitivity_analysis import sensitivity
from kerasprune.core.sparsity_schedules import ConstantSparsity, PolynomialDecay, SparsitySchedule
from kerasprune.core.wrapping import prune, strip
from kerasprune.recipe import Recipe
from kerasprune.structured.channel_groups import channel_groups
from kerasprune.structured.channel_patterns import NM, Channels
from kerasprune.structured.surgery import shrink

__version__ = "0.3.0"

__all__ = [
    "BIMPCallback",
    "BasePruningCallback",
    "Blocks",
    "Channels",
    "ConstantSparsity",
    "CriterionData",
    "IMPCallback",
    "MaskPattern",
    "NM",
    "PenaltyPruningCallback",
    "PolynomialDecay",
    "PruneWrapper",
    "PruningCallback",
    "Recipe",
    "RigLCallback",
    "SparsitySchedule",
    "Unstructured",
    "channel_groups",
    "one_shot_prune",
    "plot",
    "prune",
    "prune_wrappers",
    "register_prunable",
    "retrain",
    "shrink",
    "sensitivity",
    "sparsity_report",
    "strip",
    "update_masks",
]

# Names kerasprune 0.2 exported here, at their new homes (a warning says where).
_MOVED = {
    **{name: f"kerasprune.retrain:{name}"
       for name in ("ALLR", "CLR", "FT", "LLR", "LRW", "SLR", "allr_d1")},
    "ChannelActivity": "kerasprune.core.criterion_data:ChannelActivity",
    "ChannelGroups": "kerasprune.structured.channel_groups:ChannelGroups",
    "CycleSparsity": "kerasprune.core.sparsity_schedules:CycleSparsity",
    "cycle_sparsities": "kerasprune.core.sparsity_schedules:cycle_sparsities",
    "GroupLasso": "kerasprune.core.group_lasso:GroupLasso",
    "LayersLeftWholeWarning": "kerasprune.structured.group_selection:LayersLeftWholeWarning",
    "UnprunableLayerWarning": "kerasprune.core.wrapping:UnprunableLayerWarning",
    "MacRow": "kerasprune.core.report:MacRow",
    "SparsityReport": "kerasprune.core.report:SparsityReport",
    "multiply_accumulates": "kerasprune.core.report:multiply_accumulates",
    "SensitivityResult": "kerasprune.core.sensitivity_analysis:SensitivityResult",
    "TaylorImportance": "kerasprune.core.criterion_data:CriterionData",
    "channel_scores": "kerasprune.structured.criteria:channel_scores",
    "head_scores": "kerasprune.structured.criteria:head_scores",
}


def __getattr__(name: str):
    return moved_name("kerasprune", name, _MOVED)
