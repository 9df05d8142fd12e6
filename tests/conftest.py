import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

from tests.mutation_scope import MUTATION_RUN, keep_signatures  # noqa: E402

if os.environ.get(MUTATION_RUN):  # under `make mutation`
    keep_signatures()


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def scratch_registries(monkeypatch):
    """Layer specs (prunable weights, channel rules) a test registers are forgotten after it."""
    import dataclasses

    from kerasprune.core import registry

    monkeypatch.setattr(registry, "_SPECS", {
        key: dataclasses.replace(spec, channel_rules=list(spec.channel_rules))
        for key, spec in registry._SPECS.items()})


@pytest.fixture(scope="session")
def digits():
    """Real MNIST digits shipped with the repository, pooled to 7x7, split 2,400 / 600."""
    from examples.datasets import load_embedded_mnist

    return load_embedded_mnist(pool=4)


@pytest.fixture(scope="session")
def mnist():
    """The same real digits at full 28x28 resolution."""
    from examples.datasets import load_embedded_mnist

    return load_embedded_mnist()


def pytest_collection_modifyitems(config, items):
    """Under mutmut (bench/mutation.py): a mutant's own test modules only, fastest first
    (mutmut's own runs: the modules of the campaign's files).

    mutmut's forkserver workers receive the tests in no particular order and stop at the
    first failure, so a mutant a quick test catches would often wait for slow ones. mutmut's
    clean run (no mutant) repeats the tests its instrumented run has just passed on the same
    code: one test per module is kept there. The doctests of mutmut's copies of each
    function (`x_f__mutmut_3`, each with the function's docstring) are left out.
    """
    from tests.mutation_scope import relevant

    mutant = os.environ.get("MUTANT_UNDER_TEST")
    if mutant is None or not os.environ.get(MUTATION_RUN):
        return
    # The doctests of a mutated file are its functions' (through their trampolines), not
    # those of mutmut's copies of them (`x_f__mutmut_3`), which call no trampoline.
    kept = [item for item in items if "__mutmut_" not in item.nodeid]
    if mutant:
        kept = [item for item in kept if relevant(mutant, item.nodeid)]
    else:
        firsts = {}
        for item in kept:
            firsts.setdefault(item.nodeid.split("::")[0], item)
        kept = list(firsts.values())
    if len(kept) < len(items):
        chosen = set(map(id, kept))
        config.hook.pytest_deselected(items=[i for i in items if id(i) not in chosen])
    stats = Path("mutmut-stats.json")  # mutmut runs the tests from ./mutants
    durations = json.loads(stats.read_text())["duration_by_test"] if stats.exists() else {}
    items[:] = sorted(kept, key=lambda item: durations.get(item.nodeid, 0.0))
