"""inspect(): what a TFLite file stores sparse and how each weight really runs."""

import gzip
import warnings

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from tflite_export.inspection import keras_layer
from tests.helpers import float16_block_sparse_file


def mlp():
    return keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )


def converted(block_shape=None, sparsity=0.9, sparse=True, quantize=None):
    model = kerasprune.prune(mlp(), block_shape=block_shape)
    kerasprune.update_masks(model, sparsity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tflite_export.SparsityWarning)
        return tflite_export.convert(model, sparse=sparse, quantize=quantize)


def test_block_sparse_file_runs_on_the_sparse_kernel():
    report = tflite_export.inspect(converted(block_shape=(4, 1)))
    assert len(report.tensors) == 2
    for tensor in report.tensors:
        assert tensor.sparse and tensor.op == "FULLY_CONNECTED"
        assert tensor.block_shape == (1, 4)  # TFLite [out, in] layout
        assert tensor.runs == "sparse kernel"
    assert report.ops == ("FULLY_CONNECTED", "FULLY_CONNECTED")
    assert report.densified == []


def test_dense_conversion_has_no_sparse_tensors():
    report = tflite_export.inspect(converted(block_shape=(4, 1), sparse=False))
    assert report.sparse_tensors == []
    assert [t.runs for t in report.tensors] == ["dense", "dense"]
    assert [t.shape for t in report.tensors] == [(64, 32), (10, 64)]


def test_random_sparsity_is_stored_sparse_but_densified():
    report = tflite_export.inspect(converted())
    assert [(t.block_shape, t.runs) for t in report.tensors] == [((1, 1), "DENSIFY")] * 2
    assert report.ops.count("DENSIFY") == 2
    assert report.on_sparse_kernel == []


def test_sizes_raw_and_gzipped(tmp_path):
    content = converted(block_shape=(4, 1))
    path = tmp_path / "model.tflite"
    path.write_bytes(content)
    report = tflite_export.inspect(path)
    assert report.file_bytes == len(content)
    assert report.gzip_bytes == len(gzip.compress(content, compresslevel=9))
    dense = tflite_export.inspect(converted(sparse=False))
    assert report.file_bytes < 0.35 * dense.file_bytes


def test_printed_table_names_every_tensor_by_its_layer_and_the_sizes():
    report = tflite_export.inspect(converted(block_shape=(4, 1)))
    text = str(report)
    assert text.startswith("| layer | op |")
    for tensor in report.tensors:
        assert f"| {tensor.layer} | {tensor.op} |" in text and tensor.name not in text
    assert "1x4" in text and "sparse kernel" in text
    assert f"{report.file_bytes:,} B" in text
    assert report.summary() == "2 sparse kernel"


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.tflite"):
        tflite_export.inspect(tmp_path / "nothing.tflite")


def test_non_tflite_bytes_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        tflite_export.inspect(b"PK\x03\x04 this is a zip, not a model")
    path = tmp_path / "model.keras"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="model.keras"):
        tflite_export.inspect(path)


def test_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="Received: model of type ndarray"):
        tflite_export.inspect(np.zeros(10))


def layer_names(model, **convert_options) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tflite_export.SparsityWarning)
        return [t.layer for t in tflite_export.inspect(
            tflite_export.convert(model, **convert_options)).tensors]


def test_weights_are_named_by_their_keras_layer_not_the_fused_tensor_name():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)  # folded into dw's weight
    x = keras.layers.Conv2D(4, 1, name="pw")(x)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, name="fc")], name="block")
    x = inner(keras.layers.GlobalAveragePooling2D()(x))
    x = keras.layers.Dense(3, name="dense_3")(keras.layers.Dense(5, name="dense_1_2")(x))
    model = keras.Model(inputs, x, name="net")
    report = tflite_export.inspect(tflite_export.convert(model, sparse=False))
    assert [t.layer for t in report.tensors] == ["dw", "pw", "block/fc", "dense_1_2", "dense_3"]
    assert ";" in report.tensors[0].name  # TFLite's fused name, kept in `name`
    assert layer_names(model, quantize="dynamic") == [t.layer for t in report.tensors]


def test_attention_kernels_are_named_by_layer_and_sublayer():
    inputs = keras.Input((4, 16))
    model = keras.Model(inputs, keras.layers.MultiHeadAttention(2, 8, name="mha")(inputs, inputs))
    assert sorted(layer_names(model, sparse=False)) == [
        "mha/attention_output", "mha/key", "mha/query", "mha/value"]


def test_a_sparse_output_layer_is_named_as_the_model_output():
    """The converter names a sparse weight after its op's output, here the model's."""
    report = tflite_export.inspect(converted(block_shape=(4, 1)))
    assert report.tensors[-1].layer == "(model output layer)"
    assert report.tensors[0].layer.startswith("dense")


@pytest.mark.parametrize("name, op, layer", [
    ("sequential_1_1/dense_3_1/MatMul;sequential_1_1/dense_3_1/Relu", "FULLY_CONNECTED",
     "dense_3"),
    ("m_1/bn_1/batchnorm/mul_1;m_1/conv_1/convolution;m_1/bn_1/batchnorm/sub", "CONV_2D", "conv"),
    ("arith.constant", "FULLY_CONNECTED", ""),
    ("m_1/enc_1/ffn_1/einsum/Einsum", "FULLY_CONNECTED", "enc/ffn"),
])
def test_keras_layer_reads_the_layer_path_from_a_tensor_name(name, op, layer):
    assert keras_layer(name, op) == layer


def test_float16_weights_stored_sparse_are_expanded_by_dequantize():
    report = tflite_export.inspect(float16_block_sparse_file())
    assert [(t.dtype, t.sparse, t.block_shape, t.runs) for t in report.tensors] == [
        ("float16", True, (1, 4), "DEQUANTIZE")] * 2
    assert report.densified == list(report.tensors) and report.on_sparse_kernel == []
    assert report.summary() == "2 DEQUANTIZE"
    assert "| sparse | 1x4 | DEQUANTIZE |" in str(report)
