import collections
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


#: Modules of a minute or so each (subprocesses, whole example runs), longest first.
LONGEST_FIRST = (
    "tests/test_layer_coverage.py",
    "tests/callbacks/test_resume_after_kill.py",
    "tests/tfmot/scripts/test_scripts.py",
    "tests/test_readme.py",
    "tests/test_backends.py",
    "tests/test_kerashub.py",
    "tests/examples/test_quickstart.py",
    "tests/test_cli_prune.py",
    "tests/examples/test_keras_applications.py",
    "tests/core/test_round_trip.py",
    "tests/test_cli.py",
    "tests/examples/test_one_shot_lm.py",
    "tests/test_distributed.py",
    "tests/examples/test_kerashub_text.py",
    "tests/quantization/test_resume_after_kill.py",
)


def pytest_configure(config):
    """`make test` runs each module whole on one of two workers (`--dist loadscope`), in
    collection order: xdist's own order (most tests first) would leave the long modules
    of one or two tests for the end, one worker running them while the other is idle."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def longest_first(items: list) -> None:
    """The modules of LONGEST_FIRST first, the others by their number of tests (the short
    modules last, to even out the two workers' ends); the order inside a module is kept."""
    modules = [item.nodeid.split("::")[0] for item in items]
    counts = collections.Counter(modules)
    rank = {module: i for i, module in enumerate(LONGEST_FIRST)}
    order = sorted(range(len(items)), key=lambda i: (
        rank.get(modules[i], len(rank)), -counts[modules[i]], modules[i], i))
    items[:] = [items[i] for i in order]


def pytest_collection_modifyitems(config, items):
    """The longest modules first (see `longest_first`). Under mutmut (bench/mutation.py):
    a mutant's own test modules only, fastest first (mutmut's own runs: the modules of the
    campaign's files).

    mutmut's forkserver workers receive the tests in no particular order and stop at the
    first failure, so a mutant a quick test catches would often wait for slow ones. mutmut's
    clean run (no mutant) repeats the tests its instrumented run has just passed on the same
    code: one test per module is kept there. The doctests of mutmut's copies of each
    function (`x_f__mutmut_3`, each with the function's docstring) are left out.
    """
    from tests.mutation_scope import relevant

    mutant = os.environ.get("MUTANT_UNDER_TEST")
    if mutant is None or not os.environ.get(MUTATION_RUN):
        longest_first(items)
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
