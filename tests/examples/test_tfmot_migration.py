"""The TFMOT pruning guide, run with only its import line changed (examples/tfmot_migration)."""

import numpy as np
import pytest

from examples import tfmot_migration
from tests.helpers import read_scalars


def test_pruning_guide_reaches_its_sparsity_and_logs_each_layer(tmp_path):
    result = tfmot_migration.main([
        "--baseline-epochs", "1", "--limit", "1000", "--batch-size", "16",
        "--frequency", "25", "--log-dir", str(tmp_path), "--verbose", "0",
    ])
    # 900 training images / 16 = 57 steps x 2 epochs: end_step 114, updates at 25..100.
    assert result["end_step"] == 114
    reached = 0.8 + (0.5 - 0.8) * (1 - 100 / 114) ** 3
    sparsity = result["layer_sparsity"]  # {conv2d..., dense...}: names numbered by Keras
    assert sorted(sparsity.values()) == pytest.approx([reached, reached], abs=0.01)
    conv, dense = sorted(sparsity)
    assert result["pruned_accuracy"] > 0.7
    assert result["pruned_accuracy"] >= result["baseline_accuracy"] - 0.1
    sizes = result["gzipped_bytes"]
    assert sizes["pruned keras"] < 0.8 * sizes["baseline keras"]
    scalars = read_scalars(tmp_path / "metrics")  # TFMOT's folder and tags
    assert sorted(t for t in scalars if t.endswith("/sparsity")) == [
        f"prune_low_magnitude_{conv}/mask:0/sparsity",
        f"prune_low_magnitude_{dense}/mask:0/sparsity"]
    # PruningSummaries writes at each epoch's start, at the optimizer's step.
    dense_tag = f"prune_low_magnitude_{dense}/mask:0/sparsity"
    assert [s for s, _ in scalars[dense_tag]] == [0, 57]
    assert scalars[dense_tag][1][1] == pytest.approx(
        0.8 + (0.5 - 0.8) * (1 - 50 / 114) ** 3, abs=0.01)
    train = read_scalars(tmp_path / "train")
    assert len(train["epoch_sparsity"]) == 2 and train["epoch_sparsity"][-1][1] > 0.75
    assert np.count_nonzero(result["stripped"].layers[-1].kernel) < 0.21 * 2028 * 10
