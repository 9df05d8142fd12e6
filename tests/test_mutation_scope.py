"""`make mutation`'s settings agree: what is mutated, and which tests judge it."""

import configparser
from pathlib import Path

from tests.mutation_scope import MUTATION_RUN, RELEVANT_TESTS, examples, relevant, source_of

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
    # mutmut's own runs (instrumented stats, the clean check) keep every test
    assert source_of("stats") is None and relevant("stats", "tests/test_cli.py::test_x")


def test_property_tests_draw_a_fifth_of_their_examples_under_mutation(monkeypatch):
    monkeypatch.delenv(MUTATION_RUN, raising=False)
    assert [examples(n) for n in (3, 25, 150)] == [3, 25, 150]
    monkeypatch.setenv(MUTATION_RUN, "1")
    assert [examples(n) for n in (3, 25, 150)] == [3, 5, 30]
