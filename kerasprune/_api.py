"""The public names of `kerasprune`, imported at once (Keras and TensorFlow with them).

`kerasprune/__init__.py` takes them from here: at `import kerasprune`, or, when the
`kerasprune` command starts, only once a command needs them.
"""

from kerasprune import plot, retrain
# Not public names here, but their saved classes must be registered with Keras on
# `import kerasprune`, so that every file kerasprune writes loads after it.
from kerasprune import quantization, tfmot  # noqa: F401
from kerasprune.callbacks.base_pruning_callback import BasePruningCallback
from kerasprune.callbacks.bimp_callback import BIMPCallback
from kerasprune.callbacks.imp_callback import IMPCallback
from kerasprune.callbacks.penalty_pruning_callback import PenaltyPruningCallback
from kerasprune.callbacks.pruning_callback import PruningCallback
from kerasprune.callbacks.rigl_callback import RigLCallback
from kerasprune.core.criterion_data import CriterionData
from kerasprune.core.mask_update import update_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.oneshot.one_shot import one_shot_prune
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
