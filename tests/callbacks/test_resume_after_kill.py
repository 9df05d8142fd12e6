"""kill -9 mid-cycle, then the same `fit` call: the result is bit-identical to no kill.

For GMP, IMP with ALLR, IMP with weight rewinding and BIMP, a child process running `fit`
with `keras.callbacks.BackupAndRestore` (and saving a `.keras` file at each epoch end)
SIGKILLs itself mid-cycle. Running the same fit again resumes it, and so does
`load_model` of the last `.keras` file + `fit(initial_epoch=k)`; so does a run stopped
on purpose with `fit(epochs=k)` and continued with `fit(initial_epoch=k)`. Under
`set_random_seed` and op determinism the resumed run must end with exactly the weights,
masks, pruning state and optimizer state of an uninterrupted run, and log the same values
for the epochs it ran. See `tests/callbacks/resume_child.py` for the scenarios.
"""

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.callbacks.resume_child import RESUME_PATHS, SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two chains of scenarios side by side, each forking a new process until one finishes
    its chain; a process is killed once per scenario of its chain, then one exits 0."""
    workdir = tmp_path_factory.mktemp("resume")
    chains = [list(SCENARIOS)[0::2], list(SCENARIOS)[1::2]]
    with concurrent.futures.ThreadPoolExecutor(len(chains)) as pool:
        codes = list(pool.map(lambda chain: run_chain(workdir, chain), chains))
    return workdir, dict(zip(map(tuple, chains), codes))


def run_chain(workdir, names):
    """The exit codes of the chain's processes (negative: the signal)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "tests.callbacks.resume_child",
         str(workdir), *names],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    codes = json.loads(result.stdout.splitlines()[-1])
    assert codes[-1] == 0, result.stderr[-3000:]
    return codes


def test_each_scenario_was_killed_once(runs):
    _, codes = runs
    assert sorted(name for chain in codes for name in chain) == sorted(SCENARIOS)
    for chain, chain_codes in codes.items():
        assert chain_codes == [-signal.SIGKILL] * len(chain) + [0]


@pytest.mark.parametrize("path", RESUME_PATHS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(runs, name, path):
    workdir, _ = runs
    arrays = np.load(workdir / f"{name}.npz")
    n = len([k for k in arrays.files if k.startswith("reference_")])
    differing = [i for i in range(n)
                 if not np.array_equal(arrays[f"{path}_{i}"], arrays[f"reference_{i}"])]
    assert differing == [], f"{name}: {len(differing)} of {n} state arrays differ"

    record = json.loads((workdir / f"{name}.json").read_text())
    make_callback, epochs, (kill_epoch, _) = SCENARIOS[name]
    # It resumed from the last epoch end before the kill, not from scratch.
    assert record[path]["first_epoch"] == kill_epoch
    assert record[path]["warnings"] == []  # no cycle "pruned nothing", no target missed
    resumed, reference = record[path]["logs"], record["reference"]["logs"]
    assert len(reference["loss"]) == epochs
    for key, values in resumed.items():
        assert values == reference[key][kill_epoch:], key
    assert reference["sparsity"][-1] == pytest.approx(make_callback().target_sparsity, abs=1e-3)
