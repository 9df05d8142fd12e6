"""kerasprune: pruning for Keras 3.

The pipeline, one subpackage per stage:

- `kerasprune.core`: sparsity schedules -> patterns, selectors and the selection rule ->
  the `PruneWrapper` layer -> `prune`/`strip`, `update_masks` (the one mask writer),
  `sparsity_report`, the layer specs;
- `kerasprune.callbacks`: GMP (`PruningCallback`), IMP, BIMP, RigL and penalties inside
  `model.fit`;
- `kerasprune.retrain`: the retraining learning-rate schedules;
- `kerasprune.structured`: channel and N:M patterns, criteria, `shrink`.

Around them: `kerasprune.quantization` (int8 quantization-aware training that keeps the
masks), `kerasprune.plot` (figures of a run), `kerasprune.Recipe` (a whole run as YAML) and
`kerasprune.tfmot` (TFMOT's API on this engine).

Export to sparse TFLite lives in the separate top-level package `tflite_export`.
This module is the one list of public names: what a user calls or subclasses. Result
types and helpers live in their submodules.
"""

import sys
from pathlib import Path

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


def _started_as_the_command() -> bool:
    """True when the `kerasprune` command (its console script, `python -m kerasprune` or
    `python -m kerasprune.cli`) imports this package: its `--help` must not wait for
    TensorFlow."""
    argv = list(getattr(sys, "orig_argv", []))
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None
    script = Path(sys.argv[0] if sys.argv else "").stem
    return module in ("kerasprune", "kerasprune.cli") or script in (
        "kerasprune", "kerasprune-script")


def _load_api() -> None:
    """Import every public name (and so register kerasprune's classes with Keras, which
    `keras.saving.load_model` needs). `import kerasprune` does it, except in the
    `kerasprune` command, whose commands call it when they need Keras."""
    from kerasprune import _api

    globals().update({name: getattr(_api, name) for name in __all__})


def __getattr__(name: str):
    if name in __all__:
        _load_api()
        return globals()[name]
    from kerasprune.core.deprecation import moved_name

    return moved_name("kerasprune", name, _MOVED)


if not _started_as_the_command():
    _load_api()
