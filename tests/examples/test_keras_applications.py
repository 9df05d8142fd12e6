"""examples/keras_applications.py at tiny settings: a MobileNet pruned and exported."""

import pytest

from examples import keras_applications


def test_mobilenet_is_pruned_to_its_target_and_its_tflite_file_shrinks():
    result = keras_applications.main([
        "--model", "MobileNet", "--alpha", "0.25", "--train", "128", "--dense-epochs", "0",
        "--pruning-epochs", "1",
        "--finetune-epochs", "0", "--sparsity", "0.7", "--runs", "2", "--verbose", "0",
    ])
    report = result["report"]
    assert report.total == pytest.approx(0.7, abs=1e-3)
    layers = {row.layer for row in report.rows}
    assert "conv1" in layers and "conv_preds" in layers  # stem conv and classifier
    assert not any(name.startswith("conv_dw") for name in layers)
    comparison = result["comparison"]
    assert comparison["pruned"].gzip_bytes < 0.6 * comparison["dense"].gzip_bytes
