"""kerasprune on JAX (tests/backend_checks.py in a child process), and backends refused.

The suite itself runs on TensorFlow; Keras picks its backend once per process, so the JAX
run is a child process with KERAS_BACKEND=jax.
"""

import os
import subprocess
import sys

from tests import backend_checks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(args, backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS=backend_checks.QUICK_COMPILE)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_every_check_passes_on_jax():
    result = run_python(["-m", "tests.backend_checks"], "jax")
    passed = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("PASS")]
    assert passed == [check.__name__ for check in backend_checks.CHECKS], (
        result.stdout[-4000:] + result.stderr[-2000:])
    assert result.returncode == 0


def test_other_backends_are_refused_before_anything_is_built():
    code = (
        "import keras, kerasprune\n"
        "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
        "for make in (lambda: kerasprune.prune(model),\n"
        "             lambda: kerasprune.PruneWrapper(keras.layers.Dense(2))):\n"
        "    try:\n"
        "        make()\n"
        "    except ValueError as error:\n"
        "        print('ValueError:', error)\n"
    )
    result = run_python(["-c", code], "numpy")
    lines = [l for l in result.stdout.splitlines() if l.startswith("ValueError:")]
    assert len(lines) == 2, result.stdout + result.stderr[-2000:]
    for line in lines:
        assert "kerasprune runs on the Keras backends ('tensorflow', 'jax')" in line
        assert "Received: the 'numpy' backend" in line
