"""Mutation testing of kerasprune's pure-numpy core with mutmut (`make mutation`).

mutmut seeds one small bug at a time (a flipped comparison, an off-by-one constant, a
dropped argument, a changed string) into the functions below and runs the tests that
cover the mutated function; a mutant the tests let pass *survived*. Two campaigns
(`PARTS`), each under 20 minutes on 2 cores: `core` (the selection rule and its order
statistics, mask patterns, sparsity schedules with IMP's cycle arithmetic, validators,
model-wide allocation, the retraining schedules) and `channels` (channel patterns and
criteria, shrink's channel analysis: the layer rules' `applies`/`propagate`, and the
channel groups and their selection).
A mutant is judged by the test modules written for its file (tests/mutation_scope.py),
of those mutmut saw reach the mutated function, its property tests drawing a fifth of
their examples; settings are in setup.cfg `[mutmut]`.

Writes the `mutation` (core) or `mutation-channels` section of bench/RESULTS.md: mutants
per module, the score, and every survivor with the reason it cannot be killed
(`EQUIVALENT`), or flagged.

    python -m bench.mutation [--part core|channels]   # a fresh run (deletes ./mutants first)
    python -m bench.mutation --keep         # continue an interrupted run
    python -m bench.mutation --survivors    # re-test only the survivors (after new tests)
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, write_section
from tests.mutation_scope import MUTATION_RUN

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
# Two campaigns, each under 20 minutes on 2 cores: `make mutation` (the numpy core) and
# `make mutation ARGS="--part channels"` (channel analysis, groups and their selection).
PARTS = {
    "core": ("mutation", CORE_SCOPE,
             "the selection rule and its order statistics, patterns, sparsity and retraining "
             "schedules (IMP's cycle arithmetic included), validators and model-wide "
             "allocation"),
    "channels": ("mutation-channels", CHANNEL_SCOPE,
                 "channel patterns and criteria, shrink's channel analysis (the layer rules' "
                 "`applies`/`propagate`), and channel groups and their selection"),
}

# Survivors that no test can kill, keyed by (function, the mutated line as mutmut writes
# it), with the reason. A survivor missing here is listed as unexplained.
_SAME_SLICE = "`slice(None, n)` and `slice(n)` are `slice(0, n)`."
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
}


def run_mutmut(max_children: int, names: tuple[str, ...]) -> None:
    """Run mutmut on the mutants matching `names` (patterns or exact mutant names)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(max_children), *names]
    print(" ".join(command), flush=True)
    # Each mutant starts pytest afresh: not loading the unused plugins of the environment
    # (hypothesis works without its own) saves ~0.1 s a mutant. Property tests draw a
    # fifth of their examples (tests/mutation_scope.py `examples`).
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", MUTATION_RUN: "1"}
    subprocess.run(command, cwd=ROOT, check=True, env=env)


def collect_results(scope: tuple[str, ...]) -> dict[str, dict[str, int | None]]:
    """`{source path: {mutant name: exit code}}` for the mutants in `scope`."""
    results = {}
    for meta in sorted((ROOT / "mutants").glob("kerasprune/**/*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        chosen = {k: v for k, v in codes.items() if any(fnmatch.fnmatch(k, p) for p in scope)}
        if chosen:
            results[str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]] = chosen
    return results


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


def report(results: dict[str, dict[str, int | None]], part: str, retested: bool) -> str:
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
        "| module | mutants | killed | timeout | survived | no tests | not run | detected |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        f"| **all** | **{total}** | **{totals['killed']}** | **{totals['timeout']}** | "
        f"**{totals['survived']}** | **{totals['no tests']}** | **{totals['not checked']}** | "
        f"**{100 * detected / max(total, 1):.1f}%** |",
        "",
    ]
    if retested:
        lines += ["The full run's survivors were re-tested after tests were added "
                  "(`--survivors`); the wall time below is the full run's.", ""]
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
    lines.append(f"Survivors: {len(survivors)} ({explained} equivalent, explained below; "
                 f"{unexplained} unexplained).")
    lines.append("")
    lines.extend(notes)
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), default="core",
                        help="which campaign (each writes its own RESULTS section)")
    parser.add_argument("--keep", action="store_true",
                        help="continue from ./mutants instead of starting afresh")
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes")
    parser.add_argument("--survivors", action="store_true",
                        help="re-test the survivors in ./mutants (after adding tests)")
    parser.add_argument("--report-only", action="store_true",
                        help="write the section from ./mutants without running mutmut")
    args = parser.parse_args(argv)
    section, scope, _ = PARTS[args.part]
    start = time.perf_counter()
    if args.survivors:
        from mutmut.stats import status_by_exit_code

        names = tuple(name for codes in collect_results(scope).values()
                      for name, code in codes.items() if status_by_exit_code[code] == "survived")
        run_mutmut(args.max_children, names)
        (ROOT / "mutants" / f"retested-{args.part}").touch()
    elif args.keep and (ROOT / "mutants").exists():
        # Named mutants are always re-run by mutmut: name only those not run yet.
        pending = tuple(name for codes in collect_results(scope).values()
                        for name, code in codes.items() if code is None)
        if pending:
            run_mutmut(args.max_children, pending)
    elif not args.report_only:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        run_mutmut(args.max_children, scope)
    # The wall time is the full run's (kept beside its results, a continued run's added),
    # not a re-test's.
    wall_file = ROOT / "mutants" / f"full-run-seconds-{args.part}"
    if not (args.report_only or args.survivors):
        before = float(wall_file.read_text()) if args.keep and wall_file.exists() else 0.0
        wall_file.write_text(f"{before + time.perf_counter() - start:.0f}")
    wall = float(wall_file.read_text()) if wall_file.exists() else None
    retested = (ROOT / "mutants" / f"retested-{args.part}").exists()
    write_section(section, report(collect_results(scope), args.part, retested),
                  wall_seconds=wall)


if __name__ == "__main__":
    main()
