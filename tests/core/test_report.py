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


def mac_cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((12, 12, 2)),
        keras.layers.Conv2D(4, 3, strides=2, name="conv"),  # 5x5 out, kernel 3*3*2*4 = 72
        keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise"),  # 5x5, 3*3*4 = 36
        keras.layers.SeparableConv2D(6, 3, name="separable"),  # 3x3, 36 + 4*6 = 24
        keras.layers.Conv2DTranspose(2, 2, strides=2, name="transposed"),  # 3x3 in, 2*2*2*6
        keras.layers.Flatten(),
        keras.layers.Dense(5, name="dense"),  # 6*6*2 = 72 in, 72*5 = 360
    ])


DENSE_MACS = 72 * 25 + 36 * 25 + (36 + 24) * 9 + 48 * 9 + 360


def test_count_macs_counts_each_kernel_weight_once_per_position():
    macs = kerasprune.count_macs(mac_cnn())
    assert (macs.dense, macs.nonzero, macs.speedup) == (DENSE_MACS, DENSE_MACS, 1.0)


def test_count_macs_counts_only_the_nonzero_weights_after_pruning():
    pruned = kerasprune.prune(mac_cnn(), scope="global")
    kerasprune.update_masks(pruned, 0.75)
    positions = {"conv": 25, "depthwise": 25, "separable": 9, "transposed": 9, "dense": 1}
    expected = sum(int(np.count_nonzero(np.asarray(v))) * positions[w.layer.name]
                   for w in kerasprune.prune_wrappers(pruned) for v in w.pruned_weights)
    macs = kerasprune.count_macs(pruned)
    assert (macs.dense, macs.nonzero) == (DENSE_MACS, expected)
    assert macs.speedup == pytest.approx(DENSE_MACS / expected)
    assert macs.speedup > 1.5  # 75% of the weights are gone, unevenly across positions
    assert kerasprune.count_macs(kerasprune.strip(pruned)) == macs


def test_count_macs_needs_known_output_positions():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3, name="conv")

        def call(self, x):
            return self.conv(x)

    model = Subclassed()
    model(np.zeros((1, 5, 5, 1), "float32"))
    with pytest.raises(ValueError, match="output positions of layer 'conv'"):
        kerasprune.count_macs(model)
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        kerasprune.count_macs("model")
