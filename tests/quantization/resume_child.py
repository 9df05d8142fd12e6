"""Child process of `test_resume_after_kill.py`: the kill -9 scenarios of
`tests/callbacks/resume_child.py`, run on a quantization-aware model.

`python -m tests.quantization.resume_child WORKDIR` runs that module's machinery (start,
SIGKILL mid-fit, resume through `BackupAndRestore`, a `.keras` file and a split fit, then
the uninterrupted reference, each piece in a new forked process) with its model replaced
by `quantize_model(prune(cnn))`: GMP prunes inside a quantization-aware fit, whose
activation ranges move every step.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.callbacks import resume_child as base

import keras  # noqa: E402  (configured by the base module's imports)

import kerasprune  # noqa: E402
from kerasprune.quantization import quantize_model  # noqa: E402

SCENARIOS = {
    "qat_gmp": (
        lambda: kerasprune.PruningCallback(
            0.75, stabilization_epochs=1, pruning_epochs=2, finetune_epochs=1,
            update_every=2),
        4, (2, 2)),
}


def new_model(name: str = "") -> keras.Model:
    """The same model for every scenario (`name` is the base module's argument)."""
    return base.compiled(quantize_model(kerasprune.prune(
        base.dense_model(), layers=["hidden", "logits"], block_shape=(16, 1))))


base.SCENARIOS = SCENARIOS
base.new_model = new_model

if __name__ == "__main__":
    print(json.dumps(base.run_until_done(Path(sys.argv[1]), sys.argv[2:] or list(SCENARIOS))))
