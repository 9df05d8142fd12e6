"""How `make mutation` runs the tests: which modules judge a mutant of each mutated
source file, and how many examples a property test draws.

mutmut runs, for a mutant, the tests that reached the mutated function in its first,
instrumented run: nearly every test reaches the validators and the selection rule through
`prune`. Under mutmut, tests/conftest.py keeps only the modules listed here for the
mutant's file, the tests written for that code, so a mutant they miss is reported
instead of being caught (slowly) by an unrelated integration test. mutmut's own runs (the
instrumented first run, the forced failure) keep the modules of the campaign's files:
those of `INTEGRATION_TESTS` for the `integration` part, of `NUMPY_TESTS` for the others.
"""

import os

MUTATION_RUN = "KERASPRUNE_MUTATION_RUN"  # the part bench/mutation.py's mutmut run is for
INTEGRATION = "integration"  # the part of the integration layers


def examples(n: int) -> int:
    """Examples a property test draws: `n`, or a fifth of them (at least 5, at most n) under
    `make mutation`, where every surviving mutant re-runs all its file's properties.
    Hypothesis keeps each failing example in its database and replays it first, so an
    example that killed one mutant is tried on the next ones."""
    return min(n, max(5, n // 5)) if os.environ.get(MUTATION_RUN) else n


CORE_SELECTION = ("tests/core/test_selection.py", "tests/core/test_set_selection.py")
# Channel groups and their selection are judged by the group tests; shrink's channel
# analysis (the walk and the layer rules) by shrink's tests too.
GROUPS = ("tests/structured/test_layer_rules.py", "tests/structured/test_channel_groups.py")
CHANNELS = (*GROUPS, "tests/structured/test_surgery.py")

NUMPY_TESTS: dict[str, tuple[str, ...]] = {
    "kerasprune/core/selection.py": (*CORE_SELECTION, "tests/core/test_allocation.py",
                                     "tests/core/test_patterns.py"),
    "kerasprune/core/order_statistics.py": ("tests/core/test_order_statistics.py",
                                            *CORE_SELECTION),
    "kerasprune/core/patterns.py": ("tests/core/test_patterns.py", *CORE_SELECTION),
    "kerasprune/core/allocation.py": ("tests/core/test_allocation.py", *CORE_SELECTION),
    "kerasprune/core/sparsity_schedules.py": ("tests/core/test_sparsity_schedules.py",),
    "kerasprune/core/validation.py": ("tests/core/test_validation.py",),
    "kerasprune/retrain/retrain_schedule.py": ("tests/retrain/test_schedules.py",),
    "kerasprune/retrain/schedules.py": ("tests/retrain/test_schedules.py",),
    "kerasprune/structured/channel_patterns.py": ("tests/structured/test_channel_patterns.py",
                                                  *GROUPS),
    "kerasprune/structured/criteria.py": ("tests/structured/test_criteria.py",
                                          "tests/structured/test_redundancy_criteria.py",
                                          "tests/structured/test_channel_patterns.py"),
    "kerasprune/structured/channel_analysis.py": CHANNELS,
    "kerasprune/structured/layer_rules.py": CHANNELS,
    "kerasprune/structured/conv_rules.py": CHANNELS,
    "kerasprune/structured/channelwise_rules.py": CHANNELS,
    "kerasprune/structured/attention_rules.py": CHANNELS,
    "kerasprune/structured/channel_groups.py": (*GROUPS,
                                                "tests/structured/test_channel_patterns.py"),
    "kerasprune/structured/group_selection.py": (*GROUPS,
                                                 "tests/structured/test_channel_patterns.py"),
}

# The integration layers (`make mutation ARGS="--part integration"`): each file by the tests
# written for it (the bad-input tables for the arguments their checks refuse)
CALLBACK = ("tests/callbacks/test_base_pruning_callback.py", "tests/test_bad_inputs_api.py")
TFMOT = ("tests/tfmot/test_tfmot_semantics.py", "tests/tfmot/test_tfmot_conformance.py",
         *(f"tests/tfmot/upstream/{name}_test.py" for name in (
             "prune", "pruning_callbacks", "pruning_policy", "pruning_schedule",
             "pruning_wrapper")))
CLI = ("tests/test_cli.py", "tests/test_cli_prune.py", "tests/test_bad_inputs_export.py")
EXPORT = ("tests/tflite_export/test_conversion.py", "tests/test_bad_inputs_export.py")
INTEGRATION_TESTS: dict[str, tuple[str, ...]] = {
    "kerasprune/callbacks/base_pruning_callback.py": (
        *CALLBACK, "tests/callbacks/test_pruning_callback.py",
        "tests/callbacks/test_sparsity_logging.py", "tests/core/test_pruning_state.py"),
    "kerasprune/callbacks/pruning_callback.py": ("tests/callbacks/test_pruning_callback.py",
                                                 *CALLBACK),
    "kerasprune/callbacks/imp_callback.py": ("tests/callbacks/test_imp_callback.py", *CALLBACK),
    "kerasprune/callbacks/bimp_callback.py": ("tests/callbacks/test_bimp_callback.py",
                                              *CALLBACK),
    "kerasprune/callbacks/rigl_callback.py": ("tests/callbacks/test_rigl_callback.py",
                                              *CALLBACK),
    "kerasprune/callbacks/penalty_pruning_callback.py": (
        "tests/callbacks/test_penalty_pruning_callback.py", *CALLBACK),
    "kerasprune/callbacks/sparsity_metric.py": ("tests/callbacks/test_sparsity_logging.py",),
    "kerasprune/callbacks/layer_summaries.py": ("tests/callbacks/test_sparsity_logging.py",
                                                "tests/test_bad_inputs_api.py"),
    **{f"kerasprune/tfmot/sparsity/keras/{name}.py": TFMOT for name in (
        "mask_rules", "prune", "prune_registry", "pruning_impl", "pruning_policy",
        "pruning_schedule", "pruning_summaries", "pruning_utils", "pruning_wrapper",
        "update_pruning_step")},
    "kerasprune/recipe.py": ("tests/test_recipe.py", "tests/test_bad_inputs_api.py"),
    **{f"kerasprune/cli/{name}.py": CLI for name in (
        "__init__", "bench_command", "console", "data", "export_command", "inspect_command",
        "model_loading", "options", "prune_command", "run_report")},
    "tflite_export/sparse_kernels.py": EXPORT,
    "tflite_export/conversion.py": (*EXPORT,
                                    "tests/tflite_export/test_recurrent_and_mixed_precision.py"),
    "tflite_export/inspection.py": ("tests/tflite_export/test_inspection.py",),
}
# and by its own doctests (tests/conftest.py leaves out those of mutmut's copies)
INTEGRATION_TESTS = {path: (*tests, path) for path, tests in INTEGRATION_TESTS.items()}
RELEVANT_TESTS = {**NUMPY_TESTS, **INTEGRATION_TESTS}


def source_of(mutant: str) -> str | None:
    """The source file of a mutant name (`kerasprune.core.selection.x_f__mutmut_3`; mutmut
    names a package's `__init__.py` by the package alone)."""
    if "__mutmut_" not in mutant:
        return None  # mutmut's own runs: "stats", "fail", "list_all_tests"...
    path = mutant.split(".x_")[0].split(".xǁ")[0].replace(".", "/")
    package = f"{path}/__init__.py"
    return package if package in RELEVANT_TESTS else f"{path}.py"


def campaign_tests(part: str | None) -> set[str]:
    """The test modules of a part's files: what mutmut's own runs see."""
    files = INTEGRATION_TESTS if part == INTEGRATION else NUMPY_TESTS
    return {test for tests in files.values() for test in tests}


def relevant(mutant: str, nodeid: str) -> bool:
    """True when test `nodeid` is one of the tests that judge `mutant`."""
    source = source_of(mutant)
    module = nodeid.split("::")[0]
    if source is None:
        return module in campaign_tests(os.environ.get(MUTATION_RUN))
    return module in RELEVANT_TESTS.get(source, ())


def keep_signatures() -> None:
    """Give mutmut's trampolines of `__init__` the signature of the `__init__` they stand for.

    mutmut wraps every function of a mutated file in a `*args, **kwargs` trampoline (with
    `functools.wraps`), which `inspect.getfullargspec` does not see through; Keras reads
    `getfullargspec(cls.__init__)` when a layer is made, so a layer class of a mutated file
    (`PruneLowMagnitude`) could not be made at all. (Only `__init__`: Keras wraps a layer's
    bound `build` with `functools.wraps`, which would copy the signature with `self`.)
    Called before the mutated modules load.
    """
    import inspect

    from mutmut.mutation import trampoline

    wrap = trampoline.wrap_in_trampoline
    if getattr(wrap, "keeps_signatures", False):
        return

    def wrap_in_trampoline(*args, **kwargs):
        decorate = wrap(*args, **kwargs)

        def decorated(function):
            wrapper = decorate(function)
            if function.__name__ == "__init__":
                wrapper.__signature__ = inspect.signature(function)
            return wrapper

        return decorated

    wrap_in_trampoline.keeps_signatures = True
    trampoline.wrap_in_trampoline = wrap_in_trampoline
