"""`prune(model, policy="xnnpack_sparse")`: XNNPACK's sparse-inference conditions on a Keras
graph; one test per condition, each with a model that breaks it."""

import keras
import pytest

import kerasprune
from kerasprune.core import xnnpack_sparse
from kerasprune.core.xnnpack_sparse import XNNPackSparseError
from tests.helpers import xnnpack_net

L = keras.layers


def pruned_names(model, **kwargs) -> list[str]:
    pruned = kerasprune.prune(model, policy="xnnpack_sparse", **kwargs)
    return sorted(w.layer.name for w in kerasprune.prune_wrappers(pruned))


def refusal(model) -> str:
    with pytest.raises(XNNPackSparseError) as error:
        kerasprune.prune(model, policy="xnnpack_sparse")
    return str(error.value)


def test_prunes_exactly_the_pointwise_convolutions_inside():
    def head_conv(x):  # a 1x1 conv after the mean runs outside the sparse subgraph
        return L.Conv2D(4, 1, name="after")(L.GlobalAveragePooling2D(keepdims=True)(x))

    assert pruned_names(xnnpack_net()) == ["expand", "project"]
    assert pruned_names(xnnpack_net(end=head_conv)) == ["expand", "project"]
    assert pruned_names(xnnpack_net(), exclude=["project"]) == ["expand"]


def test_a_sequential_model_and_a_nested_block_are_followed():
    block = keras.Sequential([keras.Input((8, 8, 8)), L.Conv2D(8, 1, name="inner")],
                             name="block")
    model = keras.Sequential([keras.Input((16, 16, 3)), L.ZeroPadding2D(1),
                              L.Conv2D(8, 3, strides=2, name="stem"), block,
                              L.GlobalAveragePooling2D(keepdims=True)])
    assert pruned_names(model) == ["inner"]


def test_squeeze_excitation_upsampling_and_activations_are_accepted():
    def middle(x):
        gate = L.GlobalAveragePooling2D(keepdims=True)(x)
        gate = L.Conv2D(8, 1, activation="sigmoid", name="gate")(gate)
        x = L.Multiply()([x, gate])
        x = L.Conv2D(8, 1, activation="hard_silu", name="after_gate")(x)
        x = L.UpSampling2D(interpolation="bilinear")(L.ELU()(L.LeakyReLU()(x)))
        return L.Activation("swish")(x)

    assert pruned_names(xnnpack_net(middle=middle)) == ["after_gate", "expand", "gate"]


@pytest.mark.parametrize("stem, found", [
    (lambda x: L.Conv2D(8, 3, strides=2, padding="same", name="stem")(x),
     "padding='same' with stride 2"),
    (lambda x: L.Conv2D(8, 3, strides=2, name="stem")(x), "without a ZeroPadding2D(1)"),
    (lambda x: L.Conv2D(8, 3, strides=2, name="stem")(L.ZeroPadding2D(2)(x)),
     "pads ((2, 2), (2, 2)), not 1 on each side"),
    (lambda x: L.Conv2D(8, 5, strides=2, name="stem")(L.ZeroPadding2D(1)(x)),
     "kernel is (5, 5) on 3 input channels"),
    (lambda x: L.Conv2D(8, 3, name="stem")(L.ZeroPadding2D(1)(x)), "strides are (1, 1)"),
    (lambda x: L.Conv2D(8, 3, strides=2, dilation_rate=1, groups=1, name="stem")(
        L.ZeroPadding2D(1)(L.Concatenate()([x, x]))), "on 6 input channels"),
])
def test_each_stem_condition_is_named(stem, found):
    message = refusal(xnnpack_net(stem=stem))
    assert "'stem' (Conv2D)" in message and found in message


def test_an_odd_input_size_is_refused_at_the_stem():
    message = refusal(xnnpack_net(size=17))
    assert "'stem'" in message and "17x17, odd" in message


def test_keras_applications_mobilenet_v2_is_refused_at_its_stem():
    model = keras.applications.MobileNetV2((32, 32, 3), weights=None, alpha=0.35)
    message = refusal(model)
    assert "'Conv1' (Conv2D)" in message and "padding='same' with stride 2" in message


@pytest.mark.parametrize("end, found", [
    (lambda x: L.GlobalAveragePooling2D(name="mean")(x), "'mean'"),
    (lambda x: L.Flatten(name="flat")(x), "not reached through a spatial mean"),
])
def test_the_end_must_be_a_mean_keeping_its_dimensions(end, found):
    message = refusal(xnnpack_net(end=end))
    assert found in message


@pytest.mark.parametrize("middle, layer, found", [
    (lambda x: L.MaxPooling2D(name="pool")(x), "'pool'", "has no such op"),
    (lambda x: L.Conv2D(8, 3, padding="same", name="conv3")(x), "'conv3'", "(3, 3) conv"),
    (lambda x: L.Conv2D(8, 1, strides=2, name="strided")(x), "'strided'", "strides"),
    (lambda x: L.Conv2D(8, 1, activation="tanh", name="tanh")(x), "'tanh'", "'tanh'"),
    (lambda x: L.Subtract(name="sub")([x, L.Conv2D(8, 1)(x)]), "'sub'", "has no such op"),
    (lambda x: x - L.Conv2D(8, 1)(x), "(Subtract)", "no Subtract op"),
    (lambda x: L.DepthwiseConv2D(3, strides=2, padding="same", name="dw")(x), "'dw'",
     "padding='same' with stride 2"),
    (lambda x: L.DepthwiseConv2D(7, padding="same", name="dw")(x), "'dw'", "only 3x3 and 5x5"),
    (lambda x: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x), "'dw'",
     "depth_multiplier"),
    (lambda x: L.DepthwiseConv2D(5, name="dw")(L.ZeroPadding2D(1)(x)), "'dw'",
     "not 2 on each side"),
    (lambda x: L.BatchNormalization(name="bn")(L.Add()([x, L.Conv2D(8, 1)(x)])), "'bn'",
     "cannot fold it"),
    (lambda x: L.Add()([L.ZeroPadding2D(1, name="pad")(x),
                        L.ZeroPadding2D(1, name="pad2")(x)]),
     "(ZeroPadding2D)", "folded into the one depthwise"),
    (lambda x: L.Activation("hard_sigmoid", name="act")(x), "'act'", "'hard_sigmoid'"),
    (lambda x: L.ReLU(max_value=4.0, name="relu4")(x), "'relu4'", "cap other than 6"),
])
def test_each_layer_inside_is_checked(middle, layer, found):
    message = refusal(xnnpack_net(middle=middle))
    assert layer in message and found in message and "inside the sparse subgraph" in message


def test_a_feature_map_that_bypasses_the_mean_is_refused():
    inputs = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, name="stem")(L.ZeroPadding2D(1)(inputs))
    x = L.Conv2D(8, 1, name="expand")(x)
    model = keras.Model(inputs, [L.GlobalAveragePooling2D(keepdims=True)(x), x])
    assert "Output of 'expand' (Conv2D) is not reached through a spatial mean" in refusal(model)


def test_two_inputs_each_need_their_stem():
    a, b = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, name="stem_a")(L.ZeroPadding2D(1)(a))
    y = L.Conv2D(8, 3, strides=2, padding="same", name="stem_b")(b)
    x = L.Conv2D(8, 1, name="expand")(L.Add()([x, y]))
    model = keras.Model([a, b], L.GlobalAveragePooling2D(keepdims=True)(x))
    assert "'stem_b'" in refusal(model)


def test_the_policy_is_a_choice_and_chooses_the_layers_itself():
    with pytest.raises(ValueError, match="`policy` must be one of .*Received: policy='fast'"):
        kerasprune.prune(xnnpack_net(), policy="fast")
    with pytest.raises(ValueError, match="chooses the layers to prune itself"):
        kerasprune.prune(xnnpack_net(), policy="xnnpack_sparse", layers=["expand"])


def test_subclassed_and_unbuilt_models_are_refused():
    with pytest.raises(XNNPackSparseError, match="Functional or Sequential"):
        xnnpack_sparse.check(keras.Model())
    with pytest.raises(XNNPackSparseError, match="built"):
        xnnpack_sparse.check(keras.Sequential([L.Conv2D(8, 1)]))
