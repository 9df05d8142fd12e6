"""How `make mutation` runs the tests: which modules judge a mutant of each mutated
source file, and how many examples a property test draws.

mutmut runs, for a mutant, the tests that reached the mutated function in its first,
instrumented run: nearly every test reaches the validators and the selection rule through
`prune`. Under mutmut, tests/conftest.py keeps only the modules listed here for the
mutant's file, the tests written for that code, so a mutant they miss is reported
instead of being caught (slowly) by an unrelated integration test.
"""

import os

MUTATION_RUN = "KERASPRUNE_MUTATION_RUN"  # set by bench/mutation.py for its mutmut run


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

RELEVANT_TESTS: dict[str, tuple[str, ...]] = {
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


def source_of(mutant: str) -> str | None:
    """The source file of a mutant name (`kerasprune.core.selection.x_f__mutmut_3`)."""
    if "__mutmut_" not in mutant:
        return None  # mutmut's own runs: "stats", "fail", "list_all_tests"...
    module = mutant.split(".x_")[0].split(".xǁ")[0]
    return module.replace(".", "/") + ".py"


def relevant(mutant: str, nodeid: str) -> bool:
    """True when test `nodeid` is one of the tests that judge `mutant`."""
    source = source_of(mutant)
    return source is None or nodeid.split("::")[0] in RELEVANT_TESTS.get(source, ())
