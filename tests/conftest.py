import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


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
    """Under mutmut (bench/mutation.py): a mutant's own test modules only, fastest first.

    mutmut's forkserver workers receive the tests in no particular order and stop at the
    first failure, so a mutant a quick test catches would often wait for slow ones.
    """
    from tests.mutation_scope import relevant

    mutant = os.environ.get("MUTANT_UNDER_TEST")
    stats = Path("mutmut-stats.json")  # mutmut runs the tests from ./mutants
    if not mutant or not stats.exists():
        return
    kept = [item for item in items if relevant(mutant, item.nodeid)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    durations = json.loads(stats.read_text())["duration_by_test"]
    items[:] = sorted(kept, key=lambda item: durations.get(item.nodeid, 0.0))
