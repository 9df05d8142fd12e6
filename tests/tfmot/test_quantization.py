"""TFMOT's pruning-preserving quantization-aware training (PQAT), as its collaborative
optimization guide writes it, with only the import line and the export changed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
import kerasprune.tfmot as tfmot
import tflite_export
from kerasprune.quantization import quantize_wrappers


def data():
    rng = np.random.default_rng(0)
    return rng.random((128, 32), dtype=np.float32), rng.integers(0, 4, 128)


def pruned_then_stripped():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(4)])
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    pruned.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data()
    pruned.fit(x, y, batch_size=32, epochs=1, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return tfmot.sparsity.keras.strip_pruning(pruned)


def quantization_aware(stripped, scheme):
    annotated = tfmot.quantization.keras.quantize_annotate_model(stripped)
    qat = tfmot.quantization.keras.quantize_apply(annotated, scheme)
    qat.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data()
    qat.fit(x, y, batch_size=32, epochs=2, verbose=0)
    return qat


def kernels(model):
    return [np.asarray(w.inner_layer.kernel) for w in quantize_wrappers(model)]


def test_the_prune_preserve_scheme_keeps_every_zero_and_exports_sparse_int8():
    stripped = pruned_then_stripped()
    zeros = [np.asarray(layer.kernel) == 0 for layer in stripped.layers]
    qat = quantization_aware(
        stripped, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
    assert [np.array_equal(k == 0, z) for k, z in zip(kernels(qat), zeros)] == [True, True]
    assert kerasprune.sparsity_report(qat).total == pytest.approx(0.5)
    # TFMOT's guide converts so: an int8 file, computing what the Keras model computes.
    converter = tf.lite.TFLiteConverter.from_keras_model(qat)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    content = converter.convert()
    report = tflite_export.inspect(content)
    assert [t.dtype for t in report.tensors] == ["int8", "int8"] and "QUANTIZE" in report.ops
    x, _ = data()
    interpreter = tflite_export.load_interpreter(content, xnnpack=False).interpreter
    logits = qat.layers[-1].output_range
    step = (float(logits.high) - float(logits.low)) / 255       # one int8 level
    assert np.abs(tflite_export.interpreter.run(interpreter, x) - qat(x)).max() <= 2 * step
    # tflite_export also stores the zeros sparse (and says how each weight runs).
    report = tflite_export.inspect(tflite_export.convert(qat, quantize="int8"))
    assert all(t.dtype == "int8" and t.sparse for t in report.tensors)


def test_the_default_scheme_lets_training_fill_the_zeros():
    qat = quantization_aware(pruned_then_stripped(),
                             tfmot.quantization.keras.Default8BitQuantizeScheme())
    assert kerasprune.prune_wrappers(qat) == []
    assert np.mean(kernels(qat)[0] == 0) < 0.2  # from 0.5


def test_what_tfmot_would_refuse_or_kerasprune_does_not_do():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    with pytest.raises(ValueError, match="returned by `quantize_annotate_model`"):
        tfmot.quantization.keras.quantize_apply(model)
    with pytest.raises(TypeError, match=r"Received: scheme='8bit'"):
        tfmot.quantization.keras.quantize_apply(
            tfmot.quantization.keras.quantize_annotate_model(model), "8bit")
    with pytest.raises(NotImplementedError, match="quantize_annotate_model"):
        tfmot.quantization.keras.quantize_annotate_layer(model.layers[0])
    with tfmot.quantization.keras.quantize_scope():
        assert quantize_wrappers(tfmot.quantization.keras.quantize_model(model))
