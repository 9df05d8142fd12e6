"""Keras' own `model.export(format="litert")` writes sparse weights only when asked to."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
import tflite_export


@pytest.mark.parametrize("stripped", [False, True])
def test_keras_export_is_sparse_with_the_converters_sparsity_option(tmp_path, stripped):
    dense = keras.Sequential([keras.Input((32,)), keras.layers.Dense(256),
                              keras.layers.Dense(10)])
    pruned = kerasprune.prune(dense, block_shape=(4, 1))
    kerasprune.update_masks(pruned, 0.9)
    model = kerasprune.strip(pruned) if stripped else pruned
    plain, sparse = tmp_path / "plain.tflite", tmp_path / "sparse.tflite"
    model.export(plain, format="litert", verbose=False)
    model.export(sparse, format="litert", verbose=False,
                 optimizations=[tf.lite.Optimize.EXPERIMENTAL_SPARSITY])
    assert tflite_export.inspect(plain).sparse_tensors == []
    assert [t.runs for t in tflite_export.inspect(sparse).tensors] == ["sparse kernel"] * 2
    assert sparse.stat().st_size < 0.2 * plain.stat().st_size
    x = np.random.default_rng(0).random((4, 32), dtype=np.float32)
    report = tflite_export.benchmark(sparse, x, keras_model=model, runs=1, warmup=0, xnnpack=(False,))
    assert report.max_abs_diff < 1e-4
