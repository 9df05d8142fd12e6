"""`make mutation`'s settings agree: what is mutated, and which tests judge it."""

import configparser
from pathlib import Path

from tests.mutation_scope import (
    INTEGRATION,
    INTEGRATION_TESTS,
    MUTATION_RUN,
    RELEVANT_TESTS,
    campaign_tests,
    examples,
    relevant,
    source_of,
)

ROOT = Path(__file__).resolve().parents[1]


def mutmut_setting(key):
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return [line for line in config.get("mutmut", key).split("\n") if line]


def test_every_mutated_file_has_its_tests_and_mutmut_collects_them():
    assert sorted(mutmut_setting("only_mutate")) == sorted(RELEVANT_TESTS)
    selected = [a for a in mutmut_setting("pytest_add_cli_args_test_selection")
                if not a.startswith("--")]
    assert sorted({t for tests in RELEVANT_TESTS.values() for t in tests}) == sorted(selected)
    for tests in RELEVANT_TESTS.values():
        assert all((ROOT / t).is_file() for t in tests)


def test_a_mutant_is_judged_by_its_files_tests_only():
    method = "kerasprune.structured.conv_rules.xǁMixerRuleǁpropagate__mutmut_3"
    function = "kerasprune.core.validation.x_check_positive__mutmut_12"
    assert source_of(method) == "kerasprune/structured/conv_rules.py"
    assert source_of(function) == "kerasprune/core/validation.py"
    assert relevant(function, "tests/core/test_validation.py::test_check_positive")
    assert not relevant(function, "tests/core/test_selection.py::test_exact_count")
    assert not relevant(method, "tests/core/test_validation.py::test_check_positive")
    # mutmut names a package's __init__.py by the package
    assert source_of("kerasprune.cli.x_main__mutmut_2") == "kerasprune/cli/__init__.py"
    assert relevant("kerasprune.cli.x_main__mutmut_2", "tests/test_cli.py::test_help")


def test_mutmuts_own_runs_keep_the_tests_of_the_campaigns_files(monkeypatch):
    cli, core = "tests/test_cli.py::test_help", "tests/core/test_selection.py::test_exact"
    assert source_of("stats") is None
    monkeypatch.setenv(MUTATION_RUN, INTEGRATION)
    assert relevant("stats", cli) and relevant("fail", cli) and not relevant("stats", core)
    for part in ("core", "channels"):
        monkeypatch.setenv(MUTATION_RUN, part)
        assert relevant("stats", core) and not relevant("stats", cli)
    assert campaign_tests(INTEGRATION) == {t for ts in INTEGRATION_TESTS.values() for t in ts}


def test_property_tests_draw_a_fifth_of_their_examples_under_mutation(monkeypatch):
    monkeypatch.delenv(MUTATION_RUN, raising=False)
    assert [examples(n) for n in (3, 25, 150)] == [3, 25, 150]
    monkeypatch.setenv(MUTATION_RUN, "1")
    assert [examples(n) for n in (3, 25, 150)] == [3, 5, 30]


def test_each_campaigns_scope_names_its_own_files_and_functions_that_exist():
    import importlib
    import re

    from bench.mutation import PARTS

    modules = {path[:-3].replace("/", ".").removesuffix(".__init__"): path
               for path in RELEVANT_TESTS}
    for part, (_, scope, _) in PARTS.items():
        for pattern in scope:
            prefix = re.split(r"\.x[_ǁ]", pattern, maxsplit=1)[0].rstrip(".*")
            files = [path for module, path in modules.items()
                     if module == prefix or module.startswith(prefix + ".")]
            assert files, pattern
            assert all((path in INTEGRATION_TESTS) == (part == INTEGRATION) for path in files)
            # a function or class the pattern names by name exists (a rename would drop it)
            named = re.search(r"\.x_(\w+?)__mutmut_|\.xǁ(\w+)ǁ", pattern)
            if named and prefix in modules:
                name = named.group(1) or named.group(2)
                assert hasattr(importlib.import_module(prefix), name), pattern


def test_the_sample_is_the_same_on_every_run_and_grows_by_adding():
    from bench.mutation import SAMPLES, sample

    names = [f"kerasprune.recipe.x_f__mutmut_{i}" for i in range(500)]
    size, seed = SAMPLES[INTEGRATION]
    chosen = sample(names, 20, seed)
    assert len(chosen) == 20 and chosen == sample(list(reversed(names)), 20, seed)
    assert set(chosen) < set(sample(names, 40, seed))  # a bigger sample holds the smaller
    assert chosen != sample(names, 20, seed + 1)
    assert sample(names[:10], size, seed) == sorted(names[:10])  # fewer than asked: all


def test_every_hand_written_bug_can_still_be_planted_and_is_judged_by_tests():
    from bench.mutation import HAND_WRITTEN, HAND_WRITTEN_TESTS, MISSED_AT_FIRST, ROOT

    for round_, bugs in HAND_WRITTEN.items():
        for path, old, new, what in bugs:
            # the code a bug replaces is there exactly once (a refactoring would lose it)
            assert (ROOT / path).read_text().count(old) == 1, (round_, path, old)
            tests = {**HAND_WRITTEN_TESTS, **RELEVANT_TESTS}[path]
            assert old != new and what and tests, (round_, path)
            assert all((ROOT / test.split("::")[0]).exists() for test in tests), tests
        planted = {(path, old) for path, old, _, _ in bugs}
        assert set(MISSED_AT_FIRST[round_]) <= planted, round_


def test_every_file_of_the_integration_layers_has_the_tests_that_judge_a_bug_in_it():
    from bench.mutation import HAND_WRITTEN_TESTS, ROOT

    judged = {**HAND_WRITTEN_TESTS, **RELEVANT_TESTS}
    for pattern in ("kerasprune/callbacks/*.py", "kerasprune/tfmot/**/*.py",
                    "kerasprune/cli/*.py", "tflite_export/*.py"):
        for path in ROOT.glob(pattern):
            name = str(path.relative_to(ROOT))
            assert judged.get(name), name
    for path, tests in judged.items():
        assert (ROOT / path).is_file(), path
        assert all((ROOT / test).is_file() for test in tests), path
