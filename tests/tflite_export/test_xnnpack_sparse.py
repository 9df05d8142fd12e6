"""`tflite_export.sparse_inference`: each condition of XNNPACK's sparse inference, read from the
converted file alone, holds for a model pruned with `policy="xnnpack_sparse"` and fails
when the graph breaks it (one converted model per condition)."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
import tflite_export
from tflite_export.sparse_kernels import SparsityWarning
from tflite_export.xnnpack_sparse import CONDITIONS, sparse_inference
from tests.helpers import xnnpack_net

L = keras.layers


def converted(model, sparsity=0.8, **kwargs) -> bytes:
    """`model` with its layers of the XNNPACK policy (or all 1x1 convs) pruned, converted."""
    try:
        pruned = kerasprune.prune(model, policy="xnnpack_sparse")
    except ValueError:  # a model the policy refuses: prune its 1x1 convolutions anyway
        pruned = kerasprune.prune(model, layers=lambda l: xnnpack_pointwise(l))
    kerasprune.update_masks(pruned, sparsity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparsityWarning)
        return tflite_export.convert(pruned, verbose=0, **kwargs)


def xnnpack_pointwise(layer) -> bool:
    return type(layer) is L.Conv2D and tuple(layer.kernel_size) == (1, 1)


def broken(content) -> dict[str, str]:
    """`{condition: what breaks it}` of the file's first subgraph."""
    (subgraph,) = sparse_inference(content).subgraphs
    return {c.name: c.detail for c in subgraph.conditions if not c.ok}


def test_a_model_pruned_with_the_policy_converts_to_a_ready_subgraph():
    content = converted(xnnpack_net())
    report = sparse_inference(content)
    (subgraph,) = report.subgraphs
    assert report.ready and subgraph.ok
    assert [c.name for c in subgraph.conditions] == list(CONDITIONS)
    assert subgraph.zeros == pytest.approx(0.8, abs=0.02)
    assert "op 1 CONV_2D (layer 'stem')" in subgraph.condition("stem").detail
    assert "MEAN (layer 'mean')" in subgraph.condition("end").detail
    inspection = tflite_export.inspect(content)
    assert inspection.sparse_inference == report
    assert "XNNPACK sparse inference: ready" in inspection.to_markdown()


def test_convert_does_not_warn_for_a_ready_file_and_names_a_broken_condition():
    pruned = kerasprune.prune(xnnpack_net(), policy="xnnpack_sparse")
    kerasprune.update_masks(pruned, 0.8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SparsityWarning)
        tflite_export.convert(pruned, verbose=0)
    kerasprune.update_masks(pruned, 0.5, masks_only_grow=False)
    weights = [w for w in kerasprune.prune_wrappers(pruned)]
    for wrapper in weights:  # masked weights are zero: give them back values to re-prune
        wrapper.layer.kernel.assign(np.random.default_rng(0).normal(
            size=wrapper.layer.kernel.shape).astype("float32"))
    kerasprune.update_masks(pruned, 0.5, masks_only_grow=False)
    with pytest.warns(SparsityWarning, match="breaks a condition.*zeros: .* \\(50.0%\\)"):
        tflite_export.convert(pruned, verbose=0)


def test_stored_sparse():
    assert list(broken(converted(xnnpack_net(), sparse=False))) == ["stored sparse"]


def test_stem_same_padding_at_stride_two():
    stem = lambda x: L.Conv2D(8, 3, strides=2, padding="same", name="stem")(x)  # noqa: E731
    found = broken(converted(xnnpack_net(stem=stem)))
    assert list(found) == ["stem"] and "SAME at stride 2" in found["stem"]


def test_stem_on_an_odd_input_size_where_the_converter_folds_the_padding():
    found = broken(converted(xnnpack_net(size=17)))
    assert list(found) == ["stem"] and "layer 'stem'" in found["stem"]


def test_stem_with_four_input_channels():
    stem = lambda x: L.Conv2D(8, 3, strides=2, name="stem")(  # noqa: E731
        L.ZeroPadding2D(1)(L.Concatenate()([x, x[..., :1]])))
    found = broken(converted(xnnpack_net(stem=stem)))
    assert list(found) == ["stem"] and "on 4 channels" in found["stem"]


def test_end_a_mean_without_keep_dims():
    end = lambda x: L.GlobalAveragePooling2D(name="mean")(x)  # noqa: E731
    found = broken(converted(xnnpack_net(end=end)))
    assert "end" in found and "keep_dims is False" in found["end"]


def test_end_depth_to_space():
    inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, name="stem")(L.ZeroPadding2D(1)(inputs))
    x = L.Conv2D(16, 1, name="expand")(x)
    model = keras.Model(inputs, L.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(x))
    kernel = model.get_layer("expand").kernel
    kernel.assign(np.where(np.arange(kernel.shape[-1]) % 5, 0.0, kernel.numpy()))  # 80% zeros
    content = tflite_export.convert(model, verbose=0)
    assert broken(content) == {}
    assert "DEPTH_TO_SPACE" in sparse_inference(content).subgraphs[0].condition("end").detail


def test_ops_inside_each_kind_breaks_it():
    kinds = {
        "MAX_POOL_2D": lambda x: L.MaxPooling2D(name="pool")(x),
        "SUB": lambda x: L.Subtract(name="sub")([x, L.Conv2D(8, 1, name="other")(x)]),
        "TANH": lambda x: L.Activation("tanh", name="act")(x),
        "strides (2, 2)": lambda x: L.Conv2D(8, 1, strides=2, name="strided")(x),
        "not 1 on each side": lambda x: L.DepthwiseConv2D(
            3, strides=2, padding="same", name="dw")(x),
    }
    for kind, middle in kinds.items():
        found = broken(converted(xnnpack_net(middle=middle)))
        assert list(found) == ["ops"] and kind in found["ops"], (kind, found)


def test_ops_computing_in_int8():
    x = np.random.default_rng(0).uniform(size=(8, 16, 16, 3)).astype("float32")
    found = broken(converted(xnnpack_net(), quantize="int8", representative_data=x))
    assert "ops" in found and "another type than float32" in found["ops"]


def test_closed_a_value_from_outside_the_subgraph():
    inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, name="stem")(L.ZeroPadding2D(1)(inputs))
    side = L.Conv2D(8, 1, name="side")(L.AveragePooling2D(2)(inputs))
    x = L.Add(name="join")([L.Conv2D(8, 1, name="expand")(x), side])
    model = keras.Model(inputs, L.GlobalAveragePooling2D(keepdims=True)(x))
    found = broken(converted(model))
    assert list(found) == ["closed"] and "ADD (layer 'join')" in found["closed"]


def test_zeros_below_two_thirds():
    found = broken(converted(xnnpack_net(), sparsity=0.6))
    assert list(found) == ["zeros"] and "(59.4%) in 2 1x1 CONV_2D" in found["zeros"]


def test_squeeze_excitation_and_upsampling_stay_inside():
    def middle(x):
        gate = L.Conv2D(8, 1, activation="sigmoid")(L.GlobalAveragePooling2D(keepdims=True)(x))
        x = L.Conv2D(8, 1, activation="hard_silu")(L.Multiply()([x, gate]))
        return L.UpSampling2D(interpolation="bilinear")(x)

    assert broken(converted(xnnpack_net(middle=middle))) == {}
