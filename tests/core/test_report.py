"""sparsity_report: per-weight rows, totals and a readable table."""

import keras
import numpy as np
import pytest

import kerasprune
from tests.helpers import small_cnn


def test_report_rows_and_table():
    pruned = kerasprune.prune(small_cnn(), layers=["hidden", "logits"])
    kerasprune.update_masks(pruned, 0.5)
    report = kerasprune.sparsity_report(pruned)
    assert [(r.layer, r.weight, r.shape) for r in report.rows] == [
        ("hidden", "kernel", (200, 32)), ("logits", "kernel", (32, 10))]
    assert report.rows[0].nonzeros == 200 * 32 // 2
    assert report.total == pytest.approx(0.5)
    text = str(report)
    assert "hidden" in text and "50.00%" in text and text.splitlines()[-1].startswith("total")
    # Biases and the unpruned conv count in the model-wide figure, masks do not.
    n_weights = small_cnn().count_params()
    assert report.model_size == n_weights
    conv_kernel = np.asarray(pruned.layers[0].kernel)
    zero_biases = 8 + 32 + 10  # Keras initializes biases to zero
    expected = (200 * 32 + 320) // 2 + zero_biases + int((conv_kernel == 0).sum())
    assert report.model_zeros == expected


def test_report_on_plain_model_counts_zeros_in_prunable_kernels():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="d")])
    model.layers[0].kernel.assign(np.eye(4, dtype="float32"))
    assert kerasprune.sparsity_report(model).as_dict() == {"d/kernel": 0.75}


def test_report_rejects_non_models():
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        kerasprune.sparsity_report([1, 2])
