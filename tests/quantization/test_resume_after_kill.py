"""kill -9 in the middle of a quantization-aware fit that also prunes (GMP), then resume:
bit-identical to the uninterrupted run (weights, masks, activation ranges, optimizer
state), through `BackupAndRestore`, a `.keras` file, and a fit split on purpose."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.callbacks.resume_child import RESUME_PATHS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qat_resume")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "tests.quantization.resume_child",
         str(folder)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    codes = json.loads(result.stdout.splitlines()[-1])  # of its forked processes
    assert codes == [-signal.SIGKILL, 0], result.stderr[-3000:]
    return folder


@pytest.mark.parametrize("path", RESUME_PATHS)
def test_a_killed_quantization_aware_fit_resumes_bit_identically(workdir, path):
    arrays = np.load(workdir / "qat_gmp.npz")
    n = len([k for k in arrays.files if k.startswith("reference_")])
    differing = [i for i in range(n)
                 if not np.array_equal(arrays[f"{path}_{i}"], arrays[f"reference_{i}"])]
    assert differing == [], f"{len(differing)} of {n} state arrays differ"
    record = json.loads((workdir / "qat_gmp.json").read_text())
    assert record[path]["first_epoch"] == 2 and record[path]["warnings"] == []
    reference = record["reference"]["logs"]
    assert record[path]["logs"]["loss"] == reference["loss"][2:]
    assert reference["sparsity"][-1] == pytest.approx(0.75, abs=0.02)  # blocks of 16 rows
    assert n > 20  # the ranges (3 variables each) are among the arrays compared
