"""`make demo`'s job (examples/quickstart.py) at tiny settings: tables, and no log noise."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_its_tables_and_nothing_on_stderr(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    result = subprocess.run(
        [sys.executable, "-m", "examples.quickstart", "--train", "256", "--dense-epochs", "1",
         "--output-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    out = result.stdout
    assert "Keras accuracy: dense" in out
    assert "total" in out and "90.00%" in out  # the sparsity table reached the target
    assert "| dense |" in out and "| pruned |" in out
    assert (tmp_path / "pruned.tflite").stat().st_size > 0
