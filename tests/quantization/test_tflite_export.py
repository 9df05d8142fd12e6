"""A quantization-aware model exported to TFLite: int8 with its trained ranges, every pruned
weight sparse in the file, in (16, 1) blocks on the sparse kernel, zero exactly where its
mask is, and on the grid it trained on."""

import warnings

import numpy as np
import pytest

import kerasprune
import tflite_export
from kerasprune.cli import main
from kerasprune.quantization import calibrate, quantize_model
from kerasprune.quantization.fake_quant import quantize_weight
from tests.quantization.helpers import data, pruned_cnn


@pytest.fixture(scope="module")
def exported():
    x, _ = data()
    qat = quantize_model(pruned_cnn())
    calibrate(qat, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SparsityWarning, no SparseKernelWarning
        content = tflite_export.convert(qat, quantize="int8")
    return qat, content, x


def densified(interpreter, detail) -> np.ndarray:
    """The dense [out, in] values of a weight stored in TFLite's block-sparse format."""
    values = interpreter.get_tensor(detail["index"])
    rows, csr, block = detail["sparsity_parameters"]["dim_metadata"]
    segments, indices, size = csr["array_segments"], csr["array_indices"], block["dense_size"]
    dense = np.zeros(detail["shape"], values.dtype)
    for row in range(rows["dense_size"]):
        for k in range(segments[row], segments[row + 1]):
            dense[row, indices[k] * size:(indices[k] + 1) * size] = values[k * size:(k + 1) * size]
    return dense


def file_weights(content) -> dict:
    """`{layer: (int8 values [out, in], per-channel scales)}` of the file's FC weights."""
    interpreter = tflite_export.load_interpreter(content, xnnpack=False).interpreter
    details = {d["name"]: d for d in interpreter.get_tensor_details()}
    found = {}
    for tensor in tflite_export.inspect(content).tensors:
        if tensor.op != "FULLY_CONNECTED":
            continue
        detail = details[tensor.name]
        values = (densified(interpreter, detail) if tensor.sparse
                  else interpreter.get_tensor(detail["index"]))
        found[tensor.layer.split("/")[-1]] = (
            values, detail["quantization_parameters"]["scales"])
    return found


def test_every_pruned_weight_is_int8_and_sparse_on_the_int8_kernel(exported):
    _, content, _ = exported
    report = tflite_export.inspect(content)
    pruned = [t for t in report.tensors if t.layer.split("/")[-1] in ("hidden", "logits")]
    assert len(pruned) == 2
    assert all(t.dtype == "int8" and t.sparse and t.block_shape == (1, 16)
               and t.runs == "sparse kernel" for t in pruned)
    assert all(t.dtype == "int8" for t in report.tensors)
    assert report.ops[0] == "QUANTIZE" and report.ops[-1] == "DEQUANTIZE"
    assert "DEQUANTIZE" not in report.ops[1:-1]                 # integer all the way


def test_int8_weights_are_zero_exactly_where_masks_are_and_on_the_trained_grid(exported):
    qat, content, _ = exported
    weights = file_weights(content)
    for wrapper in kerasprune.prune_wrappers(qat):
        values, scales = weights[wrapper.layer.name]
        mask = np.asarray(wrapper.masks[0]).T                    # TFLite's [out, in]
        expected, expected_scales = quantize_weight(np.asarray(wrapper.layer.kernel), (-1,))
        assert np.all(values[mask == 0] == 0)
        assert np.array_equal(values, expected.T)
        assert np.allclose(scales, expected_scales.ravel(), rtol=1e-6)


def test_activation_scales_come_from_the_trained_ranges(exported):
    qat, content, _ = exported
    interpreter = tflite_export.load_interpreter(content, xnnpack=False).interpreter
    quantized_input = next(d for d in interpreter.get_tensor_details()
                           if "input_range" in d["name"])
    scale, zero_point = quantized_input["quantization"]
    first = qat.layers[0].input_range
    assert quantized_input["dtype"] == np.int8
    assert scale == pytest.approx((float(first.high) - float(first.low)) / 255, rel=1e-5)
    assert zero_point == round(-128 - float(first.low) / scale)


def test_the_file_computes_what_the_keras_model_computes(exported):
    qat, content, x = exported
    interpreter = tflite_export.load_interpreter(content, xnnpack=False).interpreter
    tflite = tflite_export.interpreter.run(interpreter, x)
    keras_out = np.asarray(qat(x))
    logits = qat.layers[-1].output_range
    step = (float(logits.high) - float(logits.low)) / 255
    assert np.abs(tflite - keras_out).max() <= 2 * step
    assert np.mean(tflite.argmax(-1) == keras_out.argmax(-1)) >= 0.95


def test_dynamic_range_export_keeps_the_same_int8_weights(exported):
    qat, content, _ = exported
    dynamic = tflite_export.convert(qat, quantize="dynamic")
    report = tflite_export.inspect(dynamic)
    assert "QUANTIZE" not in report.ops                          # float activations
    assert [t.runs for t in report.tensors if t.layer.endswith("hidden")] == ["sparse kernel"]
    assert np.array_equal(file_weights(dynamic)["hidden"][0], file_weights(content)["hidden"][0])


def test_export_refuses_calibration_data_float_and_unset_ranges():
    qat = quantize_model(pruned_cnn())
    x, _ = data(8)
    with pytest.raises(ValueError, match=r"never saw data: \['quant_conv/input_range'"):
        tflite_export.convert(qat, quantize="int8")
    calibrate(qat, x)
    with pytest.raises(ValueError, match=r"quantization-aware.*Received: quantize=None"):
        tflite_export.convert(qat)
    with pytest.raises(ValueError, match=r"representative_data=given"):
        tflite_export.convert(qat, quantize="int8", representative_data=x)


def test_the_export_command_takes_a_saved_quantization_aware_model(exported, tmp_path):
    qat, _, _ = exported
    qat.save(tmp_path / "qat.keras")
    out = tmp_path / "qat.tflite"
    assert main(["export", str(tmp_path / "qat.keras"), "-o", str(out), "--quantize", "int8"]) == 0
    report = tflite_export.inspect(out)
    assert report.ops[0] == "QUANTIZE" and len(report.on_sparse_kernel) == 2
