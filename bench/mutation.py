"""Mutation testing with mutmut (`make mutation`): the pure-numpy core, channel analysis and
the integration layers.

mutmut seeds one small bug at a time (a flipped comparison, an off-by-one constant, a
dropped argument, a changed string) into the functions below and runs the tests that
cover the mutated function; a mutant the tests let pass *survived*. Three campaigns
(`PARTS`), each under 20 minutes on 2 cores: `core` (the selection rule and its order
statistics, mask patterns, sparsity schedules with IMP's cycle arithmetic, validators,
model-wide allocation, the retraining schedules), `channels` (channel patterns and
criteria, shrink's channel analysis: the layer rules' `applies`/`propagate`, and the
channel groups and their selection) and `integration` (the pruning callbacks,
`kerasprune.tfmot`, recipes, the `kerasprune` command's argument handling and exit codes,
and export's pure-Python decisions), whose tests train models: a fixed sample of its
mutants (`SAMPLES`) fits the budget.
A mutant is judged by the test modules written for its file (tests/mutation_scope.py),
of those mutmut saw reach the mutated function, its property tests drawing a fifth of
their examples; settings are in setup.cfg `[mutmut]`.

Writes the `mutation` (core), `mutation-channels` or `mutation-integration` section of
bench/RESULTS.md: mutants per module, the score, and every survivor with the reason it
cannot be killed (`EQUIVALENT`), or flagged.

    python -m bench.mutation [--part core|channels|integration]  # a fresh run (deletes ./mutants)
    python -m bench.mutation --keep         # continue an interrupted run
    python -m bench.mutation --survivors    # re-test only the survivors (after new tests)
    python -m bench.mutation --hand-written [--round N]  # hand-written bugs (`HAND_WRITTEN`)
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import hashlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import ROOT, write_section
from tests.mutation_scope import INTEGRATION, INTEGRATION_TESTS, MUTATION_RUN, RELEVANT_TESTS

# Mutant names are `module.function` (methods: `module.xǁClassǁmethod`) + `__mutmut_N`.
_RULE_MODULES = ("layer_rules", "conv_rules", "channelwise_rules", "attention_rules")
_RULE_HELPERS = {
    "layer_rules": ("rule_for", "channels", "is_pointwise", "apply_known", "activate"),
    "conv_rules": ("folds_constants",),
    "channelwise_rules": ("_reshape_kind",),
    "attention_rules": ("dead_heads",),
}
CORE_SCOPE = (
    "kerasprune.core.selection.*",
    "kerasprune.core.patterns.*",
    "kerasprune.core.sparsity_schedules.*",
    "kerasprune.core.validation.*",
    "kerasprune.core.allocation.*",
    "kerasprune.core.order_statistics.*",
    "kerasprune.retrain.retrain_schedule.*",
    "kerasprune.retrain.schedules.*",
)
CHANNEL_SCOPE = (
    "kerasprune.structured.channel_patterns.*",
    "kerasprune.structured.criteria.*",
    # shrink's channel analysis: the walk and each layer type's propagation rule (not the
    # Keras model rebuilding around it), and the channel groups chosen from it
    "kerasprune.structured.channel_analysis.*",
    "kerasprune.structured.channel_groups.*",
    "kerasprune.structured.group_selection.*",
    *(f"kerasprune.structured.{module}.xǁ*ǁ{method}__mutmut_*"
      for module in _RULE_MODULES for method in ("applies", "propagate")),
    *(f"kerasprune.structured.{module}.x_{name}__mutmut_*"
      for module, names in _RULE_HELPERS.items() for name in names),
)
_CONVERSION_DECISIONS = (
    # the options and their checks, the signature traced and the calibration data; not the
    # tracing, freezing and converter calls around them
    "convert", "_check_arguments", "check_finite_weights", "_flat", "_input_signature",
    "_has_recurrent_layer", "_with_batch", "_float32_compute", "_configure", "_representative",
    "check_representative_data", "conversion_failure", "_layer_of", "_check_int8")
INTEGRATION_SCOPE = (
    "kerasprune.callbacks.*",
    "kerasprune.tfmot.*",
    "kerasprune.recipe.*",
    "kerasprune.cli.*",
    "tflite_export.sparse_kernels.*",
    *(f"tflite_export.conversion.x_{name}__mutmut_*" for name in _CONVERSION_DECISIONS),
    # what a file holds, read from the interpreter's tables (not the reading itself)
    "tflite_export.inspection.xǁInspectionǁ*",
    *(f"tflite_export.inspection.x_{name}__mutmut_*" for name in (
        "_consumers", "_follow", "_describe", "_layer_of_output", "keras_layer",
        "_block_shape")),
)
# Three campaigns, each under 20 minutes on 2 cores: `make mutation` (the numpy core),
# `make mutation ARGS="--part channels"` (channel analysis, groups and their selection) and
# `make mutation ARGS="--part integration"` (the integration layers, sampled).
PARTS = {
    "core": ("mutation", CORE_SCOPE,
             "the selection rule and its order statistics, patterns, sparsity and retraining "
             "schedules (IMP's cycle arithmetic included), validators and model-wide "
             "allocation"),
    "channels": ("mutation-channels", CHANNEL_SCOPE,
                 "channel patterns and criteria, shrink's channel analysis (the layer rules' "
                 "`applies`/`propagate`), and channel groups and their selection"),
    INTEGRATION: ("mutation-integration", INTEGRATION_SCOPE,
                  "the pruning callbacks, `kerasprune.tfmot`, recipes, the `kerasprune` "
                  "command (its argument handling, exit codes and outputs) and export's "
                  "pure-Python decisions (`tflite_export.sparse_kernels`, the conversion "
                  "options and argument checks, the inspection's reading of the tables)"),
}
# The integration layers' tests train models and convert them: their ~6,000 mutants would
# take hours, so a fixed sample of them is run: `(size, seed)` (see `sample`).
SAMPLES = {INTEGRATION: (150, 34)}

# Realistic bugs written by hand in the integration layers, by round, each round's new
# (none of issue 34's list, of the 24 its first tests were written for, or of an earlier
# round): `(file, the code, the bug's code, what it breaks)`. `--hand-written` plants each in
# a copy of the repository and runs the file's test modules (tests/mutation_scope.py, none
# deselected) and its doctests: the bug is caught when a test fails.
HAND_WRITTEN: dict[int, list[tuple[str, str, str, str]]] = {2: [
    ("kerasprune/tfmot/sparsity/keras/update_pruning_step.py",
     "self._catch_up(ahead=1)", "self._catch_up(ahead=0)",
     "TFMOT's step counter off by one: the update a schedule asks for at step k is made "
     "before step k + 1"),
    ("kerasprune/recipe.py",
     "return cls(method, callback.get_config(), prune or {}, training or {},",
     "return cls(method, callback.get_config(), training or {}, prune or {},",
     "`Recipe.from_callback` swaps its `prune` and `training` sections"),
    ("kerasprune/cli/__init__.py",
     "ERRORS = (ValueError, TypeError, OSError, RuntimeError, ImportError)",
     "ERRORS = (ValueError, TypeError, OSError, RuntimeError)",
     "the command exits with a traceback, not status 1 and one line, when `--import` fails"),
    ("kerasprune/callbacks/rigl_callback.py",
     '            "end_epoch": self.end_epoch,\n', "",
     "`RigLCallback.get_config` drops `end_epoch`: a restored callback moves masks for 3/4 "
     "of the fit"),
    ("kerasprune/tfmot/sparsity/keras/prune.py",
     'block_pooling_type="AVG", pruning_policy=None',
     'block_pooling_type="MAX", pruning_policy=None',
     "`prune_low_magnitude`'s blocks pool by MAX by default (TFMOT: AVG)"),
    ("tflite_export/sparse_kernels.py",
     "_zero_block_fraction(weights, rows) < 0.9 * zeros",
     "_zero_block_fraction(weights, rows) < 0.5 * zeros",
     "a Dense kernel half of whose zeros fall in 4-row blocks is judged to run sparse"),
    ("tflite_export/inspection.py",
     "for scope in chosen[1:-1]:", "for scope in chosen[:-1]:",
     "`inspect` names a weight's layer with the model's scope in front"),
    ("kerasprune/callbacks/imp_callback.py",
     "        for wrapper in wrappers:  # re-zero the pruned weights\n"
     "            wrapper.apply_masks()\n", "",
     "weight rewinding restores the pruned weights too (the masks are not applied again)"),
    ("kerasprune/callbacks/pruning_callback.py",
     "// max(self.finetune_epochs, 1)", "// max(self.finetune_epochs - 1, 1)",
     "GMP's fine-tuning learning rates change an epoch early"),
    ("kerasprune/cli/export_command.py",
     "folder = os.path.dirname(os.path.abspath(path))", "folder = os.path.dirname(path)",
     "`kerasprune export -o model.tflite` (a file in the current folder) is refused"),
], 3: [
    ("kerasprune/callbacks/base_pruning_callback.py",
     "self.state.write(EPOCHS_DONE, self.epoch + 1)", "self.state.write(EPOCHS_DONE, self.epoch)",
     "the resume state counts an epoch done one short: a `.keras` run fitted again from "
     "the epoch before its last is not warned about (it repeats that epoch's schedule)"),
    ("kerasprune/callbacks/pruning_callback.py",
     "    model.make_train_function(force=True)\n", "",
     "`remove_regularization=True` drops the regularizers but the compiled train step, "
     "traced with them, keeps adding their penalty to the loss"),
    ("kerasprune/callbacks/rigl_callback.py",
     "return self.end_epoch * steps_per_epoch",
     "return (self.end_epoch - 1) * steps_per_epoch",
     "`RigLCallback(end_epoch=k)` stops moving masks an epoch early (end_epoch read as the "
     "last epoch that moves)"),
    ("kerasprune/callbacks/imp_callback.py",
     "return [v for v in model.weights if id(v) not in skip]",
     "return [v for v in model.trainable_weights if id(v) not in skip]",
     "weight rewinding leaves BatchNormalization's moving statistics at their trained "
     "values (only trainable weights are rewound)"),
    ("kerasprune/tfmot/sparsity/keras/pruning_wrapper.py",
     "        if self.current_step() == -1:\n            self.pruning_step.assign(0)\n",
     "        self.pruning_step.assign(0)\n",
     "TFMOT's step restarts at 0 on every `fit` (and on a loaded model): a second `fit` "
     "replays the schedule from its beginning"),
    ("kerasprune/tfmot/sparsity/keras/pruning_wrapper.py",
     "return [w for w in prune_wrappers(model) if isinstance(w, PruneLowMagnitude)]",
     "return [w for w in model.layers if isinstance(w, PruneLowMagnitude)]",
     "`UpdatePruningStep` finds only top-level wrappers: the layers of a nested model "
     "wrapped by `prune_low_magnitude` are never pruned"),
    ("kerasprune/tfmot/sparsity/keras/mask_rules.py",
     "before = max((count - 1) * width + width - size, 0) // 2", "before = 0",
     "TFMOT's block pooling pads at the end only, not split as TensorFlow's SAME does: "
     "blocks of a dimension the block does not divide are scored over other weights"),
    ("kerasprune/recipe.py",
     'reconstruct=self.callback.get("reconstruct", False)', "reconstruct=False",
     "a one-shot recipe's `reconstruct: true` is validated but ignored"),
    ("kerasprune/recipe.py",
     "Distillation(model, **self.distillation)", "Distillation(model)",
     "a recipe's `distillation` settings (temperature, weight) are validated but ignored"),
    ("kerasprune/cli/export_command.py",
     "sparse=not args.dense", "sparse=True",
     "`kerasprune export --dense` still encodes the weights sparse"),
    ("tflite_export/sparse_kernels.py",
     '        layer = getattr(layer, "inner_layer", layer)  # inside a QuantizeWrapper\n', "",
     "the sparse-kernel check skips a quantization-aware model's layers: its Dense kernels "
     "pruned in the wrong blocks get no reason and no warning"),
    ("tflite_export/conversion.py",
     "for variable in model.weights:", "for variable in model.trainable_weights:",
     "`convert` accepts NaN in a non-trainable weight (BatchNormalization's moving "
     "variance): the file computes NaN"),
], 4: [
    ("kerasprune/callbacks/pruning_callback.py",
     "end = begin + (pruning_steps // frequency - 1) * frequency",
     "end = begin + (pruning_steps // frequency) * frequency",
     "`PruningCallback`'s schedule ends one update late: its last update falls on the first "
     "fine-tuning step, where the callback no longer prunes, so the pruning stage ends below "
     "the target (with `finetune_epochs=0` the fit never reaches it)"),
    ("kerasprune/callbacks/bimp_callback.py",
     "if cycle < self.cycles:", "if cycle <= self.cycles:",
     "`BIMPCallback`'s last cycle no longer takes the remainder of the retraining epochs "
     "(T - T0 = 5, 2 cycles: 2 + 2 instead of 2 + 3): `total_epochs` is one short and the "
     "last cycle's learning-rate schedule ends an epoch early"),
    ("kerasprune/callbacks/base_pruning_callback.py",
     "if tracked and done == 0 and epoch > 0:", "if tracked and done == 0 and epoch > 1:",
     "a fresh run started with `fit(initial_epoch=1)` on a model with no epoch done no longer "
     "warns that the schedule's first epoch is skipped"),
    ("kerasprune/callbacks/penalty_pruning_callback.py",
     "reached > self.target + 1e-3):", "reached < self.target + 1e-3):",
     "`PenaltyPruningCallback`'s warning is inverted: a threshold that stays below "
     "`target_sparsity` (the normal case, topped up) warns that it removed more than the "
     "target, and one that removed more says nothing"),
    ("kerasprune/tfmot/sparsity/keras/pruning_schedule.py",
     "return step >= begin and (end < 0 or step <= end) and (step - begin) % frequency == 0",
     "return step >= begin and (end < 0 or step < end) and (step - begin) % frequency == 0",
     "TFMOT schedules never prune at `end_step` in the callback: `PolynomialDecay`'s last "
     "update (the one to `final_sparsity`) is skipped, so the model ends below the final "
     "sparsity, and `decision(end_step)` disagrees with `schedule(end_step)`"),
    ("kerasprune/tfmot/sparsity/keras/pruning_schedule.py",
     '                "power": _number(self.power),\n', "",
     "`PolynomialDecay.get_config` drops `power`: a schedule with `power=1` comes back from "
     "its config (and from a saved `.keras` model) cubic, with other sparsities"),
    ("kerasprune/tfmot/sparsity/keras/prune.py",
     "            return strip_pruning(layer)\n", "            return layer\n",
     "`strip_pruning` leaves a nested Sequential/Functional model as it is: its "
     "`PruneLowMagnitude` wrappers stay in the stripped model"),
    ("kerasprune/recipe.py",
     'validation_split=self.training["validation_split"] if validation_data is None else 0.0,',
     "validation_split=0.0,",
     "a recipe's `training.validation_split` is validated but ignored: `Recipe.run` without "
     "`validation_data` trains on all the data and History has no `val_loss`"),
    ("kerasprune/recipe.py",
     "        if self.shrink is None:\n            return channels\n",
     "        if self.shrink is None:\n            return False\n",
     "a recipe with a channels pattern no longer shrinks by default (`shrink` left out): "
     "`kerasprune prune` exports the unshrunk model and writes no shrunk.keras"),
    ("kerasprune/cli/bench_command.py",
     "options = dict(num_threads=args.threads, runs=args.runs,",
     "options = dict(runs=args.runs,",
     "`kerasprune bench --threads N` is validated but not passed on: the file is timed on "
     "one thread (the result says 1 thread)"),
    ("tflite_export/conversion.py",
     '    if quantize == "float16":\n        converter.target_spec.supported_types',
     '    if quantize == "fp16":\n        converter.target_spec.supported_types',
     '`convert(quantize="float16")` no longer asks for float16 weights: with the default '
     "optimization alone the converter writes int8 (dynamic-range) weights"),
    ("tflite_export/conversion.py",
     "for i in range(min(len(arrays[0]), 200)):",
     "for i in range(min(len(arrays[0]), 200) - 1):",
     "int8 calibration drops the last representative sample: with one sample the file comes "
     "out float32 and `convert` refuses it; with a few, the ranges miss the last sample"),
    ("tflite_export/sparse_kernels.py",
     "np.all(blocks == 0, axis=1)", "np.all(blocks == 0, axis=2)",
     "the block check looks along the wrong axis (whole zero input rows instead of blocks of "
     "consecutive inputs): `why_not_sparse_kernel` says a Dense kernel pruned in (4, 1) "
     "blocks is not in blocks"),
    ("kerasprune/core/prune_wrapper.py",
     "            seed=self.seed,\n", "",
     "`PruneWrapper.get_config` drops `seed`: a `criterion=\"random\"` model saved to "
     "`.keras` (or cloned) comes back with seed 0 and prunes other weights"),
    ("kerasprune/core/pruning_state.py",
     'float(self.read("epochs_done")) >= total)', 'float(self.read("epochs_done")) > total)',
     "a finished run's resume state counts as unfinished: a new run with other settings of "
     "the same callback on a fully pruned model is refused (\"holds the resume state\")"),
    ("kerasprune/structured/surgery.py",
     "    if not decision.removed.any():\n", "    if decision.removed.any():\n",
     "`shrink`'s warning is inverted: every shrink that removes channels warns \"shrink "
     "removed nothing\", and one that removes nothing is silent"),
], 5: [
    ("kerasprune/callbacks/base_pruning_callback.py",
     "        if epoch < done:\n",
     "        if epoch < done - 1:\n",
     "a fit resumed one epoch too early (`initial_epoch=k-1` after k epochs done) runs "
     "epoch k-1 of the schedule again without the warning that names `initial_epoch=k`"),
    ("kerasprune/callbacks/distillation.py",
     "loss = loss + weight * temperature ** 2 * soft_kl(",
     "loss = loss + weight * temperature * soft_kl(",
     "`Distillation` scales the KL term by T instead of T**2, so the training loss is "
     "not the documented `weight * T^2 * KL`"),
    ("kerasprune/callbacks/bimp_callback.py",
     "        if cycle < self.cycles:\n",
     "        if cycle <= self.cycles:\n",
     "`BIMPCallback`'s last cycle does not take the remainder of R = T - T0 (R=3, 2 "
     "cycles: 1 + 1 epochs, not 1 + 2), so `total_epochs` falls short of the budget and "
     "the last ALLR schedule is too short"),
    ("kerasprune/callbacks/pruning_callback.py",
     '            "remove_regularization": self.remove_regularization,\n',
     "",
     "`PruningCallback.get_config` drops `remove_regularization`: a callback rebuilt "
     "from its config (a recipe, `from_config`) keeps the regularizers in fine-tuning"),
    ("kerasprune/tfmot/sparsity/keras/prune.py",
     "return PruneLowMagnitude(to_prune, **params, **kwargs)",
     "return PruneLowMagnitude(to_prune, **params)",
     "`prune_low_magnitude(layer, name=..., ...)` drops the keyword arguments meant for "
     "the wrapper of a single layer instead of passing them on"),
    ("kerasprune/tfmot/sparsity/keras/pruning_wrapper.py",
     "            block_pooling_type=self.block_pooling_type,\n",
     "",
     "`PruneLowMagnitude.get_config` drops `block_pooling_type`: a wrapper with "
     "`block_pooling_type='MAX'` comes back from a saved model pooling by 'AVG'"),
    ("kerasprune/tfmot/sparsity/keras/pruning_schedule.py",
     "last = upto if end < 0 else min(upto, end)",
     "last = upto if end < 0 else min(upto, end - 1)",
     "TFMOT schedules skip their update at `end_step`: a `PolynomialDecay` whose end "
     "falls on its frequency never reaches `final_sparsity` in training"),
    ("kerasprune/tfmot/sparsity/keras/update_pruning_step.py",
     "return not should_have and wrapper.pruning_schedule.decision(step)[1] > 0.0",
     "return should_have and wrapper.pruning_schedule.decision(step)[1] > 0.0",
     "`UpdatePruningStep` no longer warns when training ended before a schedule's first "
     "pruning step (begin_step beyond the fit), and warns instead where it did prune"),
    ("kerasprune/recipe.py",
     'x, y, epochs=epochs, batch_size=self.training["batch_size"],',
     "x, y, epochs=epochs,",
     "`Recipe.run` ignores `training.batch_size` and fits with Keras' default batch of 32"),
    ("kerasprune/cli/export_command.py",
     "sparse=not args.dense",
     "sparse=True",
     "`kerasprune export --dense` still encodes sparse weights instead of writing a "
     "dense file"),
    ("kerasprune/cli/bench_command.py",
     "options = dict(num_threads=args.threads,",
     "options = dict(num_threads=1,",
     "`kerasprune bench --threads N` times with 1 thread whatever N"),
    ("tflite_export/conversion.py",
     '    if quantize == "float16":\n        converter.target_spec.supported_types',
     '    if quantize == "fp16":\n        converter.target_spec.supported_types',
     '`convert(quantize="float16")` writes int8 dynamic-range weights instead of float16 '
     "ones"),
    ("tflite_export/benchmarking.py",
     "                           num_threads, block, runs, warmup)",
     "                           block, num_threads, runs, warmup)",
     "`benchmark`'s report swaps `num_threads` and `block`: it says 50 threads and "
     "blocks of 1 (in `to_dict`, the protocol line and the recommendation)"),
    ("tflite_export/inspection.py",
     'block_dims = sparsity.get("dim_metadata", [])[rank:]',
     'block_dims = sparsity.get("dim_metadata", [])[:rank]',
     "`inspect` reads a sparse tensor's block shape from the original dimensions' "
     "metadata instead of the block dimensions', so a 1x4-block FULLY_CONNECTED weight "
     "is reported with a wrong block"),
    ("tflite_export/comparison.py",
     "load_interpreter(c, num_threads=num_threads, xnnpack=xnnpack)",
     "load_interpreter(c, num_threads=num_threads)",
     "`compare(..., xnnpack=False)` still runs the models with the XNNPACK delegate "
     "instead of built-in kernels"),
    ("kerasprune/core/prune_wrapper.py",
     "            min_density=self.min_density,\n",
     "",
     "`PruneWrapper.get_config` drops `min_density`: a saved and loaded model's wrappers "
     "fall back to the default 0.01"),
    ("kerasprune/core/prune_wrapper.py",
     "        if training and not self.driven:\n",
     "        if training and self.driven:\n",
     "the \"trained without a pruning callback\" warning is lost when a model trains "
     "without one, and shows instead when a callback drives a fit that has not pruned yet"),
    ("kerasprune/core/prune_wrapper.py",
     'config["pruning_state"] = {"spec": state.spec, "owner": state.owner}',
     'config["pruning_state"] = {"spec": state.spec}',
     "a saved model's resume state loses its owner: a run resumed from the `.keras` file "
     "warns that it replaces another run's state and starts afresh instead of resuming"),
    ("kerasprune/core/pruning_state.py",
     'float(self.read("epochs_done")) >= total)',
     'float(self.read("epochs_done")) > total)',
     "a run that did all its epochs is not `finished`: a new callback with other "
     "settings on the pruned model is refused as a changed resume instead of starting a "
     "new run"),
    ("kerasprune/structured/surgery.py",
     "        smaller.set_weights(new.get_weights())\n",
     "",
     "`shrink` of a Functional subclass (KerasHub) puts freshly initialised weights in "
     "the smaller layers instead of the kept channels' weights, so its outputs change"),
]}
# The bugs the suite missed when they were first planted, as `(file, the code)`; the test
# that fails now was written for each.
MISSED_AT_FIRST: dict[int, tuple[tuple[str, str], ...]] = {
    2: (("kerasprune/tfmot/sparsity/keras/prune.py",
         'block_pooling_type="AVG", pruning_policy=None'),
        ("kerasprune/callbacks/pruning_callback.py", "// max(self.finetune_epochs, 1)")),
    3: (("kerasprune/callbacks/base_pruning_callback.py",
         "self.state.write(EPOCHS_DONE, self.epoch + 1)"),
        ("kerasprune/callbacks/imp_callback.py",
         "return [v for v in model.weights if id(v) not in skip]"),
        ("kerasprune/tfmot/sparsity/keras/pruning_wrapper.py",
         "return [w for w in prune_wrappers(model) if isinstance(w, PruneLowMagnitude)]"),
        ("kerasprune/recipe.py", 'reconstruct=self.callback.get("reconstruct", False)'),
        ("kerasprune/recipe.py", "Distillation(model, **self.distillation)"),
        ("tflite_export/sparse_kernels.py",
         '        layer = getattr(layer, "inner_layer", layer)  # inside a QuantizeWrapper\n'),
        ("tflite_export/conversion.py", "for variable in model.weights:")),
    4: (("kerasprune/callbacks/base_pruning_callback.py",
         "if tracked and done == 0 and epoch > 0:"),
        ("kerasprune/tfmot/sparsity/keras/prune.py",
         "            return strip_pruning(layer)\n"),
        ("kerasprune/core/prune_wrapper.py", "            seed=self.seed,\n")),
    5: (("kerasprune/structured/surgery.py", "        smaller.set_weights(new.get_weights())\n"),),
}
# The test modules of the files the hand-written bugs reach outside the mutation campaigns'
# scope (tests/mutation_scope.py): the wrapper, its resume state and shrink's surgery, the
# callbacks and TFMOT modules mutmut does not mutate, and export's other modules.
_CALLBACK = ("tests/callbacks/test_base_pruning_callback.py", "tests/test_bad_inputs_api.py")
_TFMOT = RELEVANT_TESTS["kerasprune/tfmot/sparsity/keras/prune.py"][:-1]
HAND_WRITTEN_TESTS = {
    "kerasprune/core/prune_wrapper.py": ("tests/core/test_wrapping.py",
                                         "tests/core/test_saving.py",
                                         "tests/core/test_round_trip.py"),
    "kerasprune/core/pruning_state.py": ("tests/core/test_pruning_state.py",
                                         "tests/core/test_saving.py"),
    "kerasprune/structured/surgery.py": ("tests/structured/test_surgery.py",),
    "kerasprune/callbacks/movement_pruning_callback.py": (
        "tests/callbacks/test_movement_pruning_callback.py", *_CALLBACK),
    "kerasprune/callbacks/l0_pruning_callback.py": (
        "tests/callbacks/test_l0_pruning_callback.py", *_CALLBACK),
    "kerasprune/callbacks/distillation.py": ("tests/callbacks/test_distillation.py",
                                             "tests/test_recipe.py"),
    "kerasprune/tfmot/sparsity/keras/prunable_layer.py": _TFMOT,
    "kerasprune/tfmot/quantization/keras/quantize.py": ("tests/tfmot/test_quantization.py",),
    "kerasprune/tfmot/experimental/combine/__init__.py": ("tests/tfmot/test_quantization.py",),
    **{f"tflite_export/{name}.py": (f"tests/tflite_export/test_{name}.py",) for name in (
        "benchmarking", "comparison", "interpreter", "latency_table", "progress",
        "xnnpack_sparse")},
    "tflite_export/parity.py": ("tests/tflite_export/test_recurrent_and_mixed_precision.py",
                                "tests/tflite_export/test_conversion.py",
                                "tests/tflite_export/test_sparse_kernels.py"),
    # the packages' names and TFMOT's import paths
    "kerasprune/callbacks/__init__.py": (*_CALLBACK, "tests/test_public_api.py"),
    "kerasprune/cli/__main__.py": RELEVANT_TESTS["kerasprune/cli/__init__.py"][:-1],
    **{path: ("tests/tflite_export/test_conversion.py", "tests/tflite_export/test_interpreter.py")
       for path in ("tflite_export/__init__.py", "tflite_export/_compat.py")},
    **{str(path.relative_to(ROOT)): (*_TFMOT, "tests/tfmot/test_comprehensive_guide.py",
                                     "tests/tfmot/test_quantization.py")
       for path in sorted((ROOT / "kerasprune/tfmot").rglob("*.py"))
       if path.name == "__init__.py" or "python" in path.parts},
}

# Survivors that no test can kill, keyed by (function, the mutated line as mutmut writes
# it), with the reason. A survivor missing here is listed as unexplained.
_SAME_SLICE = "`slice(None, n)` and `slice(n)` are `slice(0, n)`."
_WORDING = ("Only the wording (case, markers) of a help or error text: the tests check the "
            "facts it names (options, values, layers), not its prose.")
_FLOAT64 = "`astype(None)` converts to float64, the dtype named."
_RESHAPE = "NumPy reads any negative size in `reshape` as -1 (the rest)."
_KIND = "NumPy reads the sort kind case-insensitively."
_LAST_AXIS = "`axis` defaults to -1, the same axis of this 2-D array."
_INT_FILL = "The fill value is a whole number: `np.full` makes an int64 array of it anyway."
_FLOAT32 = "Keras casts to its default float dtype, float32, when the dtype is None."
_ONE_AT_A_TIME = ("Speed only: a schedule not evaluated on all steps at once is evaluated "
                  "one step at a time, to the same rates.")
_PROBE = ("The probe only asks whether the schedule takes a vector of steps; its values are "
          "not used.")
_ROUNDING = ("Only the rounding of a channel's constant changes (float32/float64); the "
             "analysis reads only whether it is zero or unknown.")
_PIVOTS = ("The pivots only steer the search (its speed): any values of the scores give the "
           "same answer.")
_TIMES_F64 = "`weight` is float64: the product is float64 whatever the gradient's dtype."
_KIND_NAME = "Callers only ask whether the kind is None."
_NOT_CONSTANT = ("A channel that is not constant is already kept by the constraint where it "
                 "arose; its value here only reaches constraints on the same channel group.")
_ONES = "The sizes are all 1: `uniform_size` reads them as the int 1 either way."
_BISECTION = ("The bisection ends at the same group count: 30 halvings resolve fractions far "
              "finer than one group of a model.")
_BELOW_HI = "The pivots lie below `hi`: a value at or above it is neither below nor equal to one."
_INT_COUNTS = "Callers pass whole-number counts: NumPy keeps them int64 either way."
_DIMS_SUM = ("ERK's weights are sums of dimensions, at least 1: the bisection's bracket still "
             "holds the answer.")
_NOTHING_LEFT = ("With nothing left to prune, or nothing alive, the closest weight count is no "
                 "group: nothing changes.")
_NEVER_BINDS = ("The bound never binds: the margin exceeds 1/size, so the lower pivot's position "
                "is at most size - 2, and the upper one's at least 1.")
_AT_FLOOR = ("A part exactly at its floor, protected, keeps what it kept (its highest groups, "
             "holding the floor); unprotected, the reselection takes none of them or it falls "
             "short and is protected then.")
_USER_FRAME = ("Only which frame the warning names, checked by tests/core/test_caller.py outside "
               "the selection (under mutmut the first frame outside kerasprune is mutmut's).")
_NONE_FALSE = "NumPy stores None as False in a boolean array."
_EXACT_QUOTIENT = "A channel's weight count divides the kernel size: the quotient is exact."
_GENERIC = ("The what-if analysis needs generic values (non-zero, no two alike): any seed or "
            "range of distinct values gives the same analysis.")
EQUIVALENT: dict[tuple[str, str], str] = {
    ("kerasprune.core.patterns.Blocks._tile",
     "return tiled[tuple(slice(None, n) for n in shape)]"): _SAME_SLICE,
    ("kerasprune.core.patterns.Blocks._tile",
     "return tiled[tuple(slice(n) for n in shape)]"): _SAME_SLICE,
    ("kerasprune.core.patterns.Blocks._blocked",
     "return tiled.transpose(order).reshape(-2, int(np.prod(block)))"): _RESHAPE,
    ("kerasprune.core.selection._lowest_by_weight_count",
     'order = np.argsort(scores, kind="STABLE")'): _KIND,
    ("kerasprune.structured.channel_patterns.NM._runs",
     "return moved.reshape(-2, self.m)"): _RESHAPE,
    ("kerasprune.structured.channel_patterns.NM.group_scores",
     'rank = np.argsort(np.argsort(magnitude, axis=1, kind="stable"), )'): _LAST_AXIS,
    ("kerasprune.structured.channel_patterns.NM.group_scores",
     'rank = np.argsort(np.argsort(magnitude, kind="stable"), axis=1)'): _LAST_AXIS,
    ("kerasprune.structured.channel_patterns.NM.group_scores",
     'rank = np.argsort(np.argsort(magnitude, axis=1, kind="STABLE"), axis=1)'): _KIND,
    ("kerasprune.structured.channel_patterns.NM.group_ids",
     "runs = np.repeat(np.arange(int(np.prod(shape)) // self.m), self.m).reshape(-1, )"):
        "`_unruns` reshapes the runs again: a flat vector of them is the same.",
    ("kerasprune.structured.channel_patterns.NM.group_ids",
     "runs = np.repeat(np.arange(int(np.prod(shape)) // self.m), self.m).reshape(-2, self.m)"):
        _RESHAPE,
    ("kerasprune.structured.channel_patterns.Channels.group_scores",
     "sizes = np.full(weight.shape[axis], weight.size // weight.shape[axis], dtype=None)"):
        _INT_FILL,
    ("kerasprune.structured.channel_patterns.Channels.group_scores",
     "sizes = np.full(weight.shape[axis], weight.size // weight.shape[axis], )"): _INT_FILL,
    ("kerasprune.structured.channel_patterns.Channels.group_scores",
     "sizes = np.full(weight.shape[axis], weight.size / weight.shape[axis], dtype=np.int64)"):
        _EXACT_QUOTIENT,
    ("kerasprune.structured.channel_patterns.Channels.scores_along",
     "scores = scores / (weight.size / weight.shape[axis])"): _EXACT_QUOTIENT,
    ("kerasprune.structured.channel_patterns.Channels.protect",
     'protected = np.argsort(-scores, kind="STABLE")[:kept]'): _KIND,
    ("kerasprune.structured.channel_patterns.Channels.protect",
     "scores = scores.astype(None)"): _FLOAT64,
    ("kerasprune.structured.channel_patterns.Channels.masks_for_model",
     '"cannot rebuild it.", )'): _USER_FRAME,
    ("kerasprune.retrain.schedules.allr_d1",
     "before = np.concatenate([np.ravel(w).astype(None) for w in weights_before])"): _FLOAT64,
    ("kerasprune.retrain.schedules.allr_d1",
     "after = np.concatenate([np.ravel(w).astype(None) for w in weights_after])"): _FLOAT64,
    ("kerasprune.retrain.schedules.SLR._decay",
     "original_step = ops.floor((t - self.warmup_steps) * (self.original_steps or 2) / span)"):
        "`original_steps` is None only for a constant original rate, which does not depend "
        "on the step.",
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule._original_at",
     "return ops.cast(self.original(step), None)"): _FLOAT32,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.__call__",
     "step = ops.cast(ops.convert_to_tensor(step), None)"): _FLOAT32,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.__call__",
     "return ops.where(t <= self.warmup_steps, peak * ramp, decay)"):
        "At t = W the ramp is 1: `peak * ramp` is the decay's value at W.",
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     "n = self.original_steps or 2"):
        "`n` is read only for a schedule, and a schedule requires `original_steps`.",
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     'probe = np.array([0.0, n - 1.0], dtype=None)'): _PROBE,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     'probe = np.array([0.0, n - 1.0], )'): _PROBE,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     'probe = np.array([1.0, n - 1.0], dtype="float32")'): _PROBE,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     'probe = np.array([0.0, n + 1.0], dtype="float32")'): _PROBE,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     'probe = np.array([0.0, n - 2.0], dtype="float32")'): _PROBE,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     "steps = np.arange(n, dtype=None)"):
        "Whole-number steps either way; they are evaluated as float32.",
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     "steps = np.arange(n, )"): "Whole-number steps either way; they are evaluated as float32.",
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates",
     "_evaluate_elementwise(self.original, steps[i:i + _CHUNK].astype(None))"):
        "Keras schedules cast the step to their own float dtype.",
    ("kerasprune.retrain.retrain_schedule.evaluate_schedule",
     "steps = np.asarray(steps, dtype=None)"):
        "Keras schedules cast the step to their own float dtype.",
    ("kerasprune.retrain.retrain_schedule.evaluate_schedule",
     "steps = np.asarray(steps, )"): "Keras schedules cast the step to their own float dtype.",
    ("kerasprune.retrain.retrain_schedule.evaluate_schedule", "values = None"): _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule.evaluate_schedule",
     "values = _evaluate_elementwise(None, steps)"): _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule._evaluate_elementwise",
     "for evaluate in (schedule, lambda s: None):"): _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule._evaluate_elementwise",
     "for evaluate in (schedule, lambda s: ops.vectorized_map(None, s)):"): _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule._evaluate_elementwise",
     "for evaluate in (schedule, lambda s: ops.vectorized_map(schedule, None)):"):
        _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule._evaluate_elementwise",
     "for evaluate in (schedule, lambda s: ops.vectorized_map(s)):"): _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule._evaluate_elementwise",
     "for evaluate in (schedule, lambda s: ops.vectorized_map(schedule, )):"): _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule._evaluate_elementwise", "break"): _ONE_AT_A_TIME,
    ("kerasprune.retrain.retrain_schedule._evaluate_elementwise",
     "return values.astype(None)"): _FLOAT64,
    ("kerasprune.structured.channel_analysis.ChannelAnalysis.evaluate",
     "arrays = {id(t): np.nan_to_num(v).astype(None)"): _ROUNDING,
    **{("kerasprune.structured.channel_analysis.ChannelAnalysis.weight", line): _ROUNDING
       for line in ("return np.asarray(self._weights(layer, name), dtype=None)",
                    "return np.asarray(self._weights(layer, name), )")},
    ("kerasprune.structured.channel_analysis.ChannelAnalysis.assign",
     "self._values[id(tensor)] = values.astype(None)"): _FLOAT64,
    **{("kerasprune.structured.channel_analysis.ChannelAnalysis.__init__", line):
        "The roots are Python ints: NumPy makes them int64 either way." for line in (
        "self.roots = np.array([self._find(a) for a in range(len(self._parent))], dtype=None)",
        "self.roots = np.array([self._find(a) for a in range(len(self._parent))], )")},
    **{("kerasprune.structured.channel_analysis.ChannelAnalysis._removable_roots", line):
        _INT_FILL for line in ("blocked_by = np.full(len(self._parent), -1, dtype=None)",
                               "blocked_by = np.full(len(self._parent), -1, )")},
    ("kerasprune.structured.channel_analysis.ChannelAnalysis._removable_roots",
     "blocked_by = np.full(len(self._parent), -2, dtype=np.int64)"):
        "Any negative index marks a group that no constraint blocks.",
    ("kerasprune.structured.channel_analysis.ChannelAnalysis._removable_roots",
     "removable[bad] = None"): _NONE_FALSE,
    ("kerasprune.structured.channel_analysis.ChannelAnalysis._decide",
     "removable[self.roots[atoms[0]]] = None"): _NONE_FALSE,
    ("kerasprune.structured.layer_rules.apply_known", "result[np.isnan(values)] = None"):
        "NumPy stores None as NaN in a float array.",
    ("kerasprune.structured.conv_rules.MixerRule.propagate",
     "dead = ~kernel.reshape(-2, kernel.shape[-1]).any(axis=0)"): _RESHAPE,
    ("kerasprune.structured.channel_analysis.ChannelAnalysis.evaluate",
     "return np.asarray(_compat.call_on_values(node, arrays), dtype=None)"): _ROUNDING,
    ("kerasprune.structured.channel_analysis.ChannelAnalysis.evaluate",
     "return np.asarray(_compat.call_on_values(node, arrays), )"): _ROUNDING,
    ("kerasprune.structured.attention_rules.dead_heads",
     "return ~out_rows.reshape(heads, -2).any(axis=1) | ~np.moveaxis(value, 1, 0).reshape("):
        _RESHAPE,
    ("kerasprune.structured.attention_rules.dead_heads", "heads, -2).any(axis=1)"): _RESHAPE,
    ("kerasprune.structured.conv_rules.TransposedConvRule.propagate",
     "dead = ~np.moveaxis(kernel, -2, 0).reshape(kernel.shape[-2], -2).any(axis=1)"): _RESHAPE,
    ("kerasprune.structured.conv_rules.SeparableConvRule.propagate",
     "dead = ~pointwise.reshape(-2, pointwise.shape[-1]).any(axis=0)"): _RESHAPE,
    ("kerasprune.structured.channelwise_rules.ElementwiseRule.propagate", "unknown = None"):
        _NOT_CONSTANT,
    ("kerasprune.structured.channelwise_rules.ElementwiseRule.propagate",
     "analysis.assign(output, first, np.where(None, np.nan, result))"):
        _NOT_CONSTANT,
    ("kerasprune.structured.group_selection._select_for_cost",
     'f"{1 - sparsity:.3f}.", )'): _USER_FRAME,
    ("kerasprune.structured.group_selection.group_masks", ")"): _USER_FRAME,
    ("kerasprune.structured.channel_groups.ChannelGroups.__init__",
     "member_roots = np.concatenate([roots[s.atoms] for s in chosen] or [np.zeros(1, int)])"):
        "Atom 0 is a channel of the first model input, which is never constant: never a safe "
        "group.",
    ("kerasprune.structured.channel_groups.ChannelGroups.__init__",
     "self._group_of_root = np.full(len(roots), -1, dtype=None)"): _INT_FILL,
    ("kerasprune.structured.channel_groups.ChannelGroups.__init__",
     "self._group_of_root = np.full(len(roots), -1, )"): _INT_FILL,
    ("kerasprune.structured.channel_groups._what_if", "rng = np.random.default_rng(None)"):
        _GENERIC,
    ("kerasprune.structured.channel_groups._what_if", "rng = np.random.default_rng(1)"): _GENERIC,
    ("kerasprune.structured.channel_groups._what_if",
     "return rng.uniform(0.5, size=shape)"): _GENERIC,
    ("kerasprune.structured.channel_groups._what_if",
     "return rng.uniform(0.5, 2.5, size=shape)"): _GENERIC,
    ("kerasprune.structured.conv_rules.DepthwiseRule.propagate",
     "zero_in = np.nan_to_num(values, nan=2.0) == 0"):
        "An unknown (NaN) input becomes a non-zero value either way: not a zero input.",
    ("kerasprune.structured.conv_rules.DepthwiseRule.propagate",
     "per_channel = np.moveaxis(kernel, axis, -2).reshape(-1, kernel.shape[axis])"):
        "The kernel's other channel axis has size 1 (depthwise): moving the channel axis "
        "next to it keeps the memory order.",
    ("kerasprune.structured.conv_rules.DepthwiseRule.propagate",
     "per_channel = np.moveaxis(kernel, axis, -1).reshape(-2, kernel.shape[axis])"): _RESHAPE,
    ("kerasprune.core.order_statistics._counts",
     "mask = _inside(values, alive, lo, None)"): _BELOW_HI,
    **{("kerasprune.core.allocation.erk_kept", line): _INT_COUNTS for line in (
        "lower = np.asarray(lower, None)", "lower = np.asarray(lower, )",
        "upper = np.maximum(np.asarray(upper, None), lower)",
        "upper = np.maximum(np.asarray(upper, ), lower)")},
    ("kerasprune.core.allocation.erk_kept", "if budget < lower.sum():"):
        "At a budget equal to the floors' total the solve returns the floors as well.",
    ("kerasprune.core.allocation.erk_kept", "if budget > upper.sum():"):
        "At a budget equal to the bounds' total the solve returns the bounds as well.",
    ("kerasprune.core.allocation.erk_kept",
     'order = np.argsort(-(kept - whole), kind="STABLE")'): _KIND,
    ("kerasprune.core.allocation.erk_kept", "if whole[t] <= upper[t]:"):
        "The weights left after rounding down are fewer than the tensors with a fractional "
        "count, which sort first and lie below their bound: a tensor at its bound (no "
        "fraction) is never reached.",
    ("kerasprune.core.allocation._solve_eps",
     "low, high = 0.0, float(np.max(upper * np.maximum(weights, 1e-300)))"): _DIMS_SUM,
    ("kerasprune.core.allocation._solve_eps",
     "low, high = 0.0, float(np.max(upper / np.maximum(weights, 1.0)))"): _DIMS_SUM,
    ("kerasprune.core.allocation._solve_eps",
     "for _ in range(201):  # bisection: the total is monotone in eps"):
        "200 halvings already resolve eps to float precision.",
    ("kerasprune.core.allocation._solve_eps",
     "if np.clip(eps * weights, lower, upper).sum() <= budget:"):
        "Both converge to where the clipped total meets the budget; where that total is flat "
        "at the budget, every eps gives the same clipped counts.",
    **{("kerasprune.core.allocation.floor_weights", line): _INT_COUNTS for line in (
        "counts = np.asarray(counts, dtype=None)", "counts = np.asarray(counts, )")},
    ("kerasprune.core.allocation.floor_weights",
     "floors = np.minimum(wanted, np.maximum(share, np.asarray(min_densities) >= 0))"):
        "A tensor with min_density 0 wants 0 weights: the minimum is 0 either way.",
    ("kerasprune.core.allocation.lamp_scores",
     "normalized = ascending / np.where(suffix > 0, suffix, 2.0)  # all-zero tail: 0 / 1"):
        "Where the suffix sum is 0 the squared score is 0 too: 0 divided by anything is 0.",
    ("kerasprune.core.allocation.lamp_scores", 'order = np.argsort(squared, kind="STABLE")'):
        _KIND,
    **{("kerasprune.core.selection._select_unequal", line): _INT_COUNTS for line in (
        "sizes = np.concatenate([np.broadcast_to(np.asarray(n, None), c)",
        "sizes = np.concatenate([np.broadcast_to(np.asarray(n, ), c)")},
    ("kerasprune.core.order_statistics._sample",
     "mask = _inside(values, None, lo, hi)"): _PIVOTS,
    ("kerasprune.structured.group_selection.expand_along",
     "return np.broadcast_to(keep.reshape(view), shape).astype(None)"):
        "Both callers cast the result to the mask dtype at once: 0 and 1 are exact in float64.",
    **{("kerasprune.structured.group_selection._GroupTable.__init__", line):
        "Group sizes are small counts, exact in float64: the selection reads them as ints."
       for line in ("self.sizes = np.zeros(n, dtype=None)", "self.sizes = np.zeros(n, )")},
    **{("kerasprune.structured.group_selection._write_masks", line):
        "`expand_along` makes the same 0/1 mask of a float vector of 1.0 and 0.0 as of a "
        "boolean one." for line in ("keep = np.ones(member.groups.size, dtype=None)",
                                     "keep = np.ones(member.groups.size, )")},
    ("kerasprune.structured.criteria.by_channel",
     "return np.moveaxis(np.asarray(array), axis, 0).reshape(array.shape[axis], -2)"): _RESHAPE,
    ("kerasprune.structured.criteria._taylor",
     "per_batch = [by_channel(weight * np.asarray(g, None), axis).sum(axis=1)"): _TIMES_F64,
    ("kerasprune.structured.criteria._taylor",
     "per_batch = [by_channel(weight * np.asarray(g, ), axis).sum(axis=1)"): _TIMES_F64,
    ("kerasprune.structured.channelwise_rules._reshape_kind", 'return "XXflattenXX"'): _KIND_NAME,
    ("kerasprune.structured.channelwise_rules._reshape_kind", 'return "FLATTEN"'): _KIND_NAME,
    ("kerasprune.structured.channelwise_rules._reshape_kind", 'return "XXkeep_lastXX"'):
        _KIND_NAME,
    ("kerasprune.structured.channelwise_rules._reshape_kind", 'return "KEEP_LAST"'): _KIND_NAME,
    ("kerasprune.structured.conv_rules.DepthwiseRule.propagate",
     "zero_in = np.nan_to_num(values, ) == 0"): _NOT_CONSTANT,
    ("kerasprune.structured.group_selection.per_layer_masks",
     "pruned = select_pruned(scores, np.ones(scores.size, dtype=None), already,"): _ONES,
    ("kerasprune.structured.group_selection.per_layer_masks",
     "pruned = select_pruned(scores, np.ones(scores.size, ), already,"): _ONES,
    ("kerasprune.structured.group_selection._select_for_cost", "best = choose(2.0)"):
        "A fraction of 2 prunes every prunable group, as 1 does.",
    ("kerasprune.structured.group_selection._select_for_cost", "low, high = 0.0, 2.0"):
        _BISECTION,
    ("kerasprune.structured.group_selection._select_for_cost", "for _ in range(31):"):
        _BISECTION,
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule._original_last",
     "last = (self.original_steps or 2) - 1"):
        "`original_steps` is None only for a constant rate, the same at every step.",
    ("kerasprune.retrain.retrain_schedule.RetrainSchedule.original_rates", ")"): _USER_FRAME,
    # kth_smallest_of_parts: what only steers the search (its result is exact whatever
    # the pivots; its cost is tested by tests/core/test_order_statistics.py)
    ("kerasprune.core.order_statistics.kth_smallest_of_parts",
     "sample = _sample(parts, lo, hi) if inside >= _DIRECT else None"):
        "Exactly `_DIRECT` candidates are copied now or after one more narrowing: the same "
        "answer.",
    **{("kerasprune.core.order_statistics.kth_smallest_of_parts", line):
        "A sample of 2 or 3 values only decides whether the candidates are copied now or "
        "after one more narrowing: the same answer."
       for line in ("if sample is None or sample.size <= 2:",
                    "if sample is None or sample.size < 3:")},
    **{("kerasprune.core.order_statistics.kth_smallest_of_parts", line):
        "The margin moves by 1/65,536 of the rank, the pivots by one sample position: the "
        "same answer, as many passes." for line in (
        "margin = 3.0 / math.sqrt(sample.size) - 1.0 / sample.size",
        "margin = 3.0 / math.sqrt(sample.size) + 2.0 / sample.size")},
    **{("kerasprune.core.order_statistics.kth_smallest_of_parts", line): _NEVER_BINDS
       for line in (
        "p1 = sample[min(sample.size + 1, max(0, math.floor((fraction - margin) * sample.size)))]",
        "p1 = sample[min(sample.size - 2, max(0, math.floor((fraction - margin) * sample.size)))]",
        "p2 = sample[min(sample.size - 1, max(1, math.ceil((fraction + margin) * sample.size)))]")},
    **{("kerasprune.core.order_statistics.kth_smallest_of_parts", line):
        "Only for the lowest or highest ranks: the outer pivot is the sample's second instead "
        "of its first (or last), one sample position: the same answer." for line in (
        "p1 = sample[min(sample.size - 1, max(1, math.floor((fraction - margin) * sample.size)))]",
        "p2 = sample[min(sample.size - 2, max(0, math.ceil((fraction + margin) * sample.size)))]")},
    **{("kerasprune.core.order_statistics.kth_smallest_of_parts", line): _BELOW_HI for line in (
        "at_most_p1, below_p2 = _counts(parts, lo, None, [(p1, np.less_equal), (p2, np.less)])",
        "(below_p1,) = [below_p2] if p1 == p2 else _counts(parts, lo, None, [(p1, np.less)])",
        "(at_most_p2,) = _counts(parts, lo, None, [(p2, np.less_equal)])")},
    ("kerasprune.core.order_statistics.kth_smallest_of_parts",
     "lo, inside = p2, inside + at_most_p2"):
        "Only when the rank lies above the upper pivot (the highest ranks): the overcount "
        "takes one more sample, which holds too few values to narrow: the same copy.",
    **{("kerasprune.core.order_statistics._sample", line): _PIVOTS for line in (
        "positions = np.sort(np.random.default_rng(1).integers(0, total, min(total, _SAMPLE)))",
        "positions = np.sort(np.random.default_rng(0).integers(1, total, min(total, _SAMPLE)))",
        "[1, *bounds[:-1]], bounds):",
        "mask = _inside(values, None if (alive is None) or True else alive[at], lo, hi)")},
    ("kerasprune.core.order_statistics._partition_inside",
     "return value, below_lo + int(np.count_nonzero(candidates[: rank + 1] < value))"):
        "After the partition, positions rank - 1 and rank hold the value and one at least as "
        "large: neither is below it.",
    # the selection rule
    ("kerasprune.core.selection.select_pruned_parts",
     "highest = np.max(highests) if highests else 1.0  # one pass per part: NaN propagates"):
        "With no groups at all, the highest score is only compared with +inf and NaN: "
        "0 and 1 are neither.",
    ("kerasprune.core.selection.select_pruned_parts",
     "if left >= 0:  # then some groups are alive: the target is at most every weight"):
        _NOTHING_LEFT,
    ("kerasprune.core.selection._select_unequal",
     "if left >= 0:  # then some groups are alive: the target is at most every weight"):
        _NOTHING_LEFT,
    ("kerasprune.core.selection._common_size", "return 2"):
        "No part has a group: any common size makes zero weights to prune.",
    ("kerasprune.core.selection._prune_lowest_equal_size",
     "alive = [~p if (p.any()) or True else None for p in pruned]  # None: nothing pruned yet"):
        "None stands for an all-True mask (memory only): the same marks.",
    **{("kerasprune.core.selection._prune_lowest_equal_size", line):
        "Only which search runs (over the alive groups alone, or over all of them masked): "
        "both give the same marks." for line in (
        "if 5 * n_alive < sum(p.size for p in pruned):  # mostly pruned: select among the "
        "others only",
        "if 4 * n_alive <= sum(p.size for p in pruned):  # mostly pruned: select among the "
        "others only")},
    ("kerasprune.core.selection._prune_lowest_equal_size", "if k > n_alive:"):
        "k equal to the alive count: the k-th smallest alive score is the highest, and every "
        "alive group is below or tied with it: the same marks.",
    ("kerasprune.core.selection._prune_lowest_equal_size",
     "tied = np.flatnonzero((values == threshold) & ~marks)[:ties] if (ties) or True else []"):
        "`[:0]` is empty, as no ties are.",
    **{("kerasprune.core.selection.select_with_floors", line):
        "An all-zero vector is not `.any()`, whatever its dtype." for line in (
        "short = (np.zeros(len(pruned), dtype=None) if floors is None",
        "short = (np.zeros(len(pruned), ) if floors is None")},
    ("kerasprune.core.selection.select_with_floors",
     "else _kept(sizes, pruned, [s.size for s in scores]) <= floors)"): _AT_FLOOR,
    ("kerasprune.core.selection._protect_and_reselect",
     "short = ~protected & (_kept(rest_sizes, chosen, counts) <= floors)"): _AT_FLOOR,
    ("kerasprune.core.selection._protect_and_reselect",
     "rest = [None if (w is None) and False else s[w] for s, w in zip(scores, where)]"):
        "A short part's rest is set in the loop's first pass, before it is read.",
    ("kerasprune.core.selection._protect_and_reselect",
     "where[t], rest[t] = _rest_with(scores[t], None, pruned[t], where[t], top)"):
        "The unequal-size path is the general one: for equal groups it finds the same "
        "positions (the kept groups and the protected ones).",
    ("kerasprune.core.selection._protect_and_reselect", "protected = short"):
        "A protected part's highest groups stay +inf in the rest, so it never falls short "
        "again: remembering it only skips a check.",
    ("kerasprune.core.selection._protect_and_reselect", "max(left, 0) / max(inside, 2))"):
        "With one weight in the rest the fraction differs only when that weight must go; it "
        "is then a protected group's (+inf, never pruned), or the first selection took it.",
    ("kerasprune.core.selection._top", "if n_alive == 0 or floor < 0:"):
        "Only a part short of its floor is protected: its floor is > 0.",
    ("kerasprune.core.selection._top",
     'order = np.flatnonzero(alive)[np.argsort(-scores[alive], kind="STABLE")]'): _KIND,
    **{("kerasprune.core.selection._kept", line): _INT_COUNTS for line in (
        "return np.array(kept, dtype=None)", "return np.array(kept, )")},
    ("kerasprune.core.selection.PruningSet.release_scores", "self.scores = None"):
        "Nothing reads the scores once they are released: None frees them as well.",
    # the integration layers
    ("kerasprune.callbacks.pruning_callback.PruningCallback.check_begin",
     "self.stage = STAGES[1]"):
        "`on_epoch_begin` sets the stage of its epoch before anything reads it.",
    ("kerasprune.callbacks.sparsity_metric.attach_sparsity_metric",
     'if getattr(model, "compiled", True):'):
        "Every Keras model has `compiled` (`keras.Model` sets it): the default is never read.",
    ("tflite_export.conversion.conversion_failure",
     'op = getattr(getattr(item, "operator", None), "name", ) or "an op"'):
        "The converter's errors are protobuf messages (`ConverterErrorData`): `operator` and "
        "its `name` are always there (empty when unknown), so the default is never read.",
    ("kerasprune.tfmot.sparsity.keras.pruning_wrapper.PruneLowMagnitude.__init__",
     'kwargs.pop("XXpatternXX", None)  # derived from the settings above'):
        "`get_config` leaves `pattern` out, so only a `pattern=` passed by hand (not a TFMOT "
        "argument) reaches here: the mutant refuses it with Python's TypeError instead of "
        "ignoring it.",
    # the wording of a help or error text, whose facts the tests check (option names,
    # values, layers), not its prose or case
    **{(function, line): _WORDING for function, line in (
        ("kerasprune.cli.export_command.add_parser",
         'export.add_argument("--dense", action="store_true", help="DO NOT ENCODE SPARSE '
         'WEIGHTS")'),
        ("kerasprune.cli.inspect_command.add_parser",
         "\"densify; file size raw and gzipped. --json adds tflite's own tensor names.\","),
        ("kerasprune.cli.prune_command.add_parser",
         'help="prune a .keras model by a yaml recipe; write the model, tflite file and '
         'report",'),
        ("kerasprune.cli.prune_command.add_parser",
         'help="XXfolder to write into (created if missing)XX")'),
        ("kerasprune.cli.prune_command.add_parser", '"(DEFAULT 100)")'),
        ("kerasprune.cli.run_report._report", '"## tflite: dense vs pruned",'),
        ("kerasprune.tfmot.sparsity.keras.prune._prune_model", '"XXthe variables to prune.XX",'),
        ("tflite_export.conversion._check_arguments",
         '"XXset KERAS_BACKEND=tensorflow before importing keras.XX"'))},
}


def run_mutmut(max_children: int, names: tuple[str, ...], part: str) -> dict[str, float]:
    """Run mutmut on the mutants matching `names` (patterns or exact mutant names); returns
    the CPU seconds it and its workers used, and the machine's mean load meanwhile."""
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(max_children), *names]
    print(" ".join(command[:4]), f"<{len(names)} names>" if len(names) > 20 else names,
          flush=True)
    # Each mutant starts pytest afresh: not loading the unused plugins of the environment
    # (hypothesis works without its own) saves ~0.1 s a mutant. Property tests draw a
    # fifth of their examples (tests/mutation_scope.py `examples`).
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", MUTATION_RUN: part}
    loads, done = [], threading.Event()

    def sample_load():
        while not done.wait(10):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample_load, daemon=True)
    sampler.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        subprocess.run(command, cwd=ROOT, check=True, env=env)
    finally:
        done.set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"cpu": cpu, "load": sum(loads) / len(loads) if loads else os.getloadavg()[0]}


def retest_without_limit(names: list[str], part: str, max_children: int) -> None:
    """Run each named mutant's test modules (tests/mutation_scope.py) to the first failure
    or the end, as mutmut's workers do but without mutmut's CPU limit and without its
    instrumented run first, and keep the verdict in ./mutants.

    mutmut stops a mutant after twice (its tests' estimate + `timeout_constant`) of CPU
    time; the estimate counts the tests' calls only, not their module fixtures (a
    conversion, a whole `kerasprune prune` run, on TensorFlow's threads), so a mutant the
    integration tests do not catch early can hit the limit without hanging: "timeout"
    would count it as detected.
    """
    import configparser
    from concurrent.futures import ThreadPoolExecutor

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    mutmut = config["mutmut"]
    selection = mutmut["pytest_add_cli_args_test_selection"].split()
    extra = mutmut["pytest_add_cli_args"].split()
    command = [sys.executable, "-m", "pytest", "--rootdir=.", "--tb=native", "-x", "-q",
               "-p", "no:randomly", "-p", "no:random-order", *selection, *extra]
    base = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", MUTATION_RUN: part,
            "PY_IGNORE_IMPORTMISMATCH": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}

    def run(name):
        result = subprocess.run(command, cwd=ROOT / "mutants", capture_output=True,
                                env={**base, "MUTANT_UNDER_TEST": name})
        return name, result.returncode

    metas = {name: meta for meta in (ROOT / "mutants").glob("**/*.py.meta")
             for name in json.loads(meta.read_text())["exit_code_by_key"]}
    with ThreadPoolExecutor(max_children) as pool:
        for name, code in pool.map(run, names):
            data = json.loads(metas[name].read_text())
            data["exit_code_by_key"][name] = code
            metas[name].write_text(json.dumps(data))
            print(f"{name}: exit {code}", flush=True)


def all_mutants(part: str) -> list[str]:
    """Every mutant mutmut makes of the part's files, named as mutmut names them."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    files = INTEGRATION_TESTS if part == INTEGRATION else set(RELEVANT_TESTS) - set(
        INTEGRATION_TESTS)
    names = []
    for path in sorted(files):
        mutated = mutate_file_contents(path, (ROOT / path).read_text())
        names += [get_mutant_name(Path(path), name) for name in mutated.mutant_names]
    return names


def sample(names, size: int, seed: int) -> list[str]:
    """The `size` mutants whose `sha256(f"{seed}:{name}")` is lowest: the same sample on every
    run of the same code, and a mutant's place in it does not depend on the other mutants.

    Example:

    >>> names = [f"m.x_f__mutmut_{i}" for i in range(100)]
    >>> sample(names, 3, 34) == sample(reversed(names), 3, 34)
    True
    """
    def rank(name):
        return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()

    return sorted(sorted(names, key=rank)[:size])


def _generated() -> dict[str, dict[str, int | None]]:
    """`{source path: {mutant name: exit code}}` of every mutant mutmut generated."""
    metas = {}
    for package in ("kerasprune", "tflite_export"):
        for meta in sorted((ROOT / "mutants" / package).glob("**/*.py.meta")):
            path = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
            metas[path] = json.loads(meta.read_text())["exit_code_by_key"]
    return metas


def in_scope(names, part: str) -> list[str]:
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in PARTS[part][1])]


def selected(names, part: str) -> set[str]:
    """The names a part's campaign runs: those in its scope, sampled if it samples."""
    chosen = in_scope(names, part)
    return set(sample(chosen, *SAMPLES[part]) if part in SAMPLES else chosen)


def collect_results(part: str) -> dict[str, dict[str, int | None]]:
    """`{source path: {mutant name: exit code}}` for the mutants the part's campaign runs."""
    generated = _generated()
    chosen = selected([name for codes in generated.values() for name in codes], part)
    results = {}
    for path, codes in generated.items():
        kept = {name: code for name, code in codes.items() if name in chosen}
        if kept:
            results[path] = kept
    return results


def scope_size(part: str) -> int:
    """How many mutants the part's scope holds (before any sampling)."""
    return len(in_scope([name for codes in _generated().values() for name in codes], part))


def mutated_lines(name: str, path: str) -> list[str]:
    """The lines a mutant changes, as `-old` / `+new`."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=path).splitlines()
    return [line[0] + line[1:].strip() for line in diff
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def function_of(name: str) -> str:
    """`module.function` (methods: `module.Class.method`) of a mutant name."""
    module, _, rest = name.rpartition(".")
    rest = rest.split("__mutmut_")[0]
    if rest.startswith("xǁ"):
        _, cls, method = rest.split("ǁ")
        return f"{module}.{cls}.{method}"
    return f"{module}.{rest[2:]}"


def explanation(name: str, lines: list[str]) -> str | None:
    added = " ".join(line[1:] for line in lines if line.startswith("+"))
    return EQUIVALENT.get((function_of(name), added))


def report(results: dict[str, dict[str, int | None]], part: str, retested: bool,
           run: dict | None = None) -> str:
    from mutmut.stats import status_by_exit_code

    rows, survivors = [], []
    totals = collections.Counter()
    for path, codes in results.items():
        count = collections.Counter(status_by_exit_code[c] for c in codes.values())
        totals.update(count)
        detected = count["killed"] + count["timeout"]
        rows.append(f"| {path} | {len(codes)} | {count['killed']} | {count['timeout']} | "
                    f"{count['survived']} | {count['no tests']} | {count['not checked']} | "
                    f"{100 * detected / len(codes):.1f}% |")
        survivors += [(path, n) for n, c in codes.items()
                      if status_by_exit_code[c] in ("survived", "no tests")]
    total = sum(len(codes) for codes in results.values())
    make = "make mutation" if part == "core" else f'make mutation ARGS="--part {part}"'
    detected = totals["killed"] + totals["timeout"]
    lines = [
        f"## Mutation testing, part `{part}` (bench/mutation.py)",
        "",
        f"mutmut 3 seeds one bug at a time into {PARTS[part][2]}, and runs the "
        "tests of the mutated file (tests/mutation_scope.py) that reach the mutated function, "
        "property tests drawing a fifth of their examples. Killed: a test failed; timeout: "
        "the mutant hung (also detected); not run: the run was stopped before it (continue "
        "with `--keep`). The campaign: "
        f"`python -m bench.mutation --part {part}` (`{make}`).",
        "",
    ]
    if part in SAMPLES:
        size, seed = SAMPLES[part]
        score = detected / max(total, 1)
        margin = 1.96 * math.sqrt(score * (1 - score) / max(total, 1))
        lines += [
            f"A fixed sample: of the {scope_size(part):,} mutants in scope, the {size} whose "
            f'`sha256(f"{seed}:{{name}}")` is lowest (`SAMPLES`, bench/mutation.py `sample`), '
            "the same on every run of the same code. The score of the sample estimates the "
            f"whole scope's within ±{100 * margin:.1f} points (95%, binomial).",
            "",
        ]
    lines += [
        "| module | mutants | killed | timeout | survived | no tests | not run | detected |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        f"| **all** | **{total}** | **{totals['killed']}** | **{totals['timeout']}** | "
        f"**{totals['survived']}** | **{totals['no tests']}** | **{totals['not checked']}** | "
        f"**{100 * detected / max(total, 1):.1f}%** |",
        "",
    ]
    if run and run.get("cpu_seconds"):
        cpu = run["cpu_seconds"] / 60
        lines += [
            f"The machine was shared with other work: mean load {run['load']:.1f} on its 2 "
            f"cores during the run (`nice`, 2 workers). The run used {cpu:.1f} min of CPU time "
            f"(mutmut and its workers), so on 2 idle cores it takes {cpu / 2:.1f} min while "
            f"both are busy, at most {cpu:.1f} min (mutmut's own per-mutant times are not "
            "kept by its forkserver).",
            "",
        ]
    if (ROOT / "mutants" / f"timeouts-retested-{part}").exists():
        lines += ["The mutants mutmut stopped at its CPU limit were re-tested to the end "
                  "without it (`--timeouts`): the limit counts the tests' calls, not their "
                  "module fixtures, so most of them had not hung; each is listed here by "
                  "that verdict.", ""]
    if totals["timeout"] and part == INTEGRATION:
        lines += [f"**{totals['timeout']} mutants stopped at mutmut's CPU limit are not "
                  "re-tested yet** (`--timeouts`) and count as detected above; counted as "
                  f"survivors, the score is {100 * totals['killed'] / max(total, 1):.1f}%.", ""]
    if retested:
        lines += ["The full run's survivors were re-tested after tests were added "
                  "(`--survivors`); the wall time below is the full run's.", ""]
    first = ROOT / "mutants" / f"first-verdicts-{part}.md"  # written by hand after a run
    if first.exists():
        lines += [first.read_text().strip(), ""]
    if totals["not checked"]:
        lines += [f"**Partial run**: {total - totals['not checked']} of {total} mutants were "
                  "tested before the run was stopped; the score is not the campaign's. "
                  "Continue with `python -m bench.mutation --keep`.", ""]
    explained = unexplained = 0
    notes = []
    for path, name in survivors:
        changed = mutated_lines(name, path)
        why = explanation(name, changed)
        explained += why is not None
        unexplained += why is None
        notes.append(f"- `{name}`: `{' / '.join(changed)}`: {why or '**unexplained**'}")
    lines.append(f"Survivors: {len(survivors)} ({explained} explained below: equivalent, or "
                 f"only a text's wording; {unexplained} unexplained).")
    lines.append("")
    lines.extend(notes)
    return "\n".join(lines)


def plant(path: str, old: str, new: str, folder: Path) -> None:
    """Copy the repository's code and tests into `folder`, with `old` replaced by `new` in
    `path` (which must hold `old` exactly once)."""
    for name in ("kerasprune", "tflite_export", "tests", "examples"):
        shutil.copytree(ROOT / name, folder / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.keras", "*.tflite"))
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copy2(ROOT / name, folder / name)
    source = folder / path
    text = source.read_text()
    if text.count(old) != 1:
        raise ValueError(f"{path} holds {text.count(old)} copies of {old!r}, not one.")
    source.write_text(text.replace(old, new))


def hand_written_report(round_: int, only_missed: bool = False) -> str:
    """Plant each bug of round `round_` of `HAND_WRITTEN` and run its file's tests; the
    section's text. `only_missed`: plant only those missed at first (after tests were
    written for them), the other rows kept from the round's section in RESULTS.md."""
    import tempfile

    from bench.common import RESULTS

    bugs, missed = HAND_WRITTEN[round_], MISSED_AT_FIRST[round_]
    earlier = Path(RESULTS).read_text().splitlines() if only_missed else []
    rows, caught = [], 0
    for path, old, new, what in bugs:
        kept = [row for row in earlier if row.startswith(f"| {path} | {what} | ")]
        if only_missed and (path, old) not in missed and kept:
            rows.append(kept[-1])
            caught += "**missed**" not in kept[-1]
            continue
        with tempfile.TemporaryDirectory() as folder:
            plant(path, old, new, Path(folder))
            command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                       *{**HAND_WRITTEN_TESTS, **RELEVANT_TESTS}[path], path]
            result = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        failed = [line.split()[1] for line in result.stdout.splitlines()
                  if line.startswith(("FAILED ", "ERROR "))]
        if result.returncode not in (0, 1) or (result.returncode == 1 and not failed):
            raise RuntimeError(f"pytest could not run the tests of {path}:\n{result.stdout}")
        caught += bool(failed)
        by = f"`{failed[0]}`" if failed else "**missed**"
        if (path, old) in missed:
            by += " (missed at first: the test was written for it)"
        rows.append(f"| {path} | {what} | {by} |")
        print(rows[-1], flush=True)
    return "\n".join([
        f"## Mutation testing, hand-written bugs in the integration layers, round {round_} "
        "(bench/mutation.py)",
        "",
        f"{len(bugs)} realistic bugs written by hand (`HAND_WRITTEN[{round_}]`), none planted "
        "in an earlier round, each planted alone in a copy of the repository, judged by its "
        "file's test modules (tests/mutation_scope.py, or `HAND_WRITTEN_TESTS` for the "
        "wrapper, its resume state and surgery; none deselected) and its doctests. "
        f"The campaign: `python -m bench.mutation --hand-written --round {round_}`.",
        "",
        f"Caught: {caught} of {len(bugs)}; when first planted, before the tests written for "
        f"the ones it missed, the suite caught {len(bugs) - len(missed)}.",
        "",
        "| file | bug | first test that fails |",
        "|---|---|---|",
        *rows,
    ])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), default="core",
                        help="which campaign (each writes its own RESULTS section)")
    parser.add_argument("--keep", action="store_true",
                        help="continue from ./mutants instead of starting afresh")
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes")
    parser.add_argument("--survivors", action="store_true",
                        help="re-test the survivors in ./mutants with the tests as they are "
                        "now (after adding tests)")
    parser.add_argument("--timeouts", action="store_true",
                        help="re-test the timed-out mutants in ./mutants without mutmut's CPU "
                        "limit")
    parser.add_argument("--report-only", action="store_true",
                        help="write the section from ./mutants without running mutmut")
    parser.add_argument("--hand-written", action="store_true",
                        help="plant the hand-written bugs one at a time instead (own section)")
    parser.add_argument("--round", type=int, choices=sorted(HAND_WRITTEN),
                        default=max(HAND_WRITTEN), help="which round of hand-written bugs")
    parser.add_argument("--missed", action="store_true",
                        help="with --hand-written: plant again only the bugs missed at first "
                        "(`MISSED_AT_FIRST`), keeping the other rows of the round's section")
    args = parser.parse_args(argv)
    if args.hand_written:
        start = time.perf_counter()
        text = hand_written_report(args.round, args.missed)
        write_section(f"mutation-hand-written-{args.round}", text,
                      wall_seconds=time.perf_counter() - start)
        return
    section, scope, _ = PARTS[args.part]
    start = time.perf_counter()
    used = None
    if args.timeouts:
        from mutmut.stats import status_by_exit_code

        names = [name for codes in collect_results(args.part).values()
                 for name, code in codes.items() if status_by_exit_code[code] == "timeout"]
        retest_without_limit(names, args.part, args.max_children)
        (ROOT / "mutants" / f"timeouts-retested-{args.part}").touch()
    elif args.survivors:
        from mutmut.stats import status_by_exit_code

        # the tests as they are now (and their mapping), not as the full run copied them
        shutil.copytree(ROOT / "tests", ROOT / "mutants" / "tests", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "setup.cfg", ROOT / "mutants" / "setup.cfg")
        # those explained (no test can or should kill them) are not run again
        names = [name for path, codes in collect_results(args.part).items()
                 for name, code in codes.items()
                 if status_by_exit_code[code] in ("survived", "no tests")
                 and explanation(name, mutated_lines(name, path)) is None]
        retest_without_limit(names, args.part, args.max_children)
        (ROOT / "mutants" / f"retested-{args.part}").touch()
    elif args.keep and (ROOT / "mutants").exists():
        # Named mutants are always re-run by mutmut: name only those not run yet.
        pending = tuple(name for codes in collect_results(args.part).values()
                        for name, code in codes.items() if code is None)
        if pending:
            used = run_mutmut(args.max_children, pending, args.part)
    elif not args.report_only:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        names = (tuple(sorted(selected(all_mutants(args.part), args.part)))
                 if args.part in SAMPLES else scope)
        used = run_mutmut(args.max_children, names, args.part)
    # The times are the full run's (kept beside its results, a continued run's added), not
    # a re-test's.
    run_file = ROOT / "mutants" / f"full-run-{args.part}.json"
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    if used is not None or not (args.report_only or args.survivors or args.keep
                                or args.timeouts):
        wall = time.perf_counter() - start
        before = run if args.keep else {}
        cpu = before.get("cpu_seconds", 0.0) + (used or {}).get("cpu", 0.0)
        load = (used or {}).get("load", os.getloadavg()[0])
        if before.get("seconds"):  # the mean load over both runs, by their lengths
            load = (before["load"] * before["seconds"] + load * wall) / (before["seconds"] + wall)
        run = {"seconds": before.get("seconds", 0.0) + wall, "cpu_seconds": cpu, "load": load}
        run_file.write_text(json.dumps(run))
    retested = (ROOT / "mutants" / f"retested-{args.part}").exists()
    write_section(section, report(collect_results(args.part), args.part, retested, run),
                  wall_seconds=run.get("seconds"))


if __name__ == "__main__":
    main()
