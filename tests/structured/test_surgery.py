"""Specification of kerasprune.shrink: smaller dense models that compute the same outputs."""

import re

import numpy as np
import keras
import pytest

import kerasprune
from kerasprune import shrink
from kerasprune.structured.channel_patterns import Channels
from tests.helpers import subclassed_dense

RNG = np.random.default_rng(0)


def randomize_batch_norms(model):
    """Non-trivial statistics, so that a zeroed conv channel is not zero after BN."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([RNG.uniform(0.5, 1.5, n), RNG.normal(0, 0.5, n),
                               RNG.normal(0, 0.5, n), RNG.uniform(0.5, 2.0, n)])


def zero_channels(layer, channels, batch_norm=None):
    """Prune output channels by hand: kernel slices (and bias) to zero; optionally the
    BN scale and shift of the same channels, so that the channel is exactly zero."""
    weights = layer.get_weights()
    weights[0][..., channels] = 0.0
    if len(weights) > 1:
        weights[1][channels] = 0.0
    layer.set_weights(weights)
    if batch_norm is not None:
        bn = batch_norm.get_weights()
        bn[0][channels] = 0.0
        bn[1][channels] = 0.0
        batch_norm.set_weights(bn)


def randomize(model):
    """Normal random weights in every layer (biases too: a zero channel's constant is then
    its activated bias)."""
    for layer in model.layers[1:]:
        layer.set_weights([RNG.normal(size=w.shape).astype("float32") for w in layer.weights])


def max_output_diff(a, b, shape):
    x = RNG.normal(size=(4,) + shape).astype("float32")
    return float(np.max(np.abs(a.predict(x, verbose=0) - b.predict(x, verbose=0))))


def widths(model, kind):
    return [layer.filters if hasattr(layer, "filters") else layer.units
            for layer in model.layers if isinstance(layer, kind)]


def test_conv_bn_relu_chain_removes_channels_and_matching_bn_entries():
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Conv2D(4, 1)(x)
    model = keras.Model(inputs, outputs)
    randomize_batch_norms(model)
    conv1, bn1, _, conv2, bn2 = model.layers[1:6]
    zero_channels(conv1, [0, 3, 5, 7], bn1)
    zero_channels(conv2, [1, 2], bn2)

    small = shrink(model)

    assert widths(small, keras.layers.Conv2D) == [4, 4, 4]
    bn_sizes = [l.gamma.shape[0] for l in small.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bn_sizes == [4, 4]
    # conv 3*3*3*4 + bn 4*4 + conv 3*3*4*4 + bn 4*4 + conv 1*1*4*4 + 4 biases
    assert small.count_params() == 108 + 16 + 144 + 16 + 20
    assert max_output_diff(model, small, (12, 12, 3)) <= 1e-4


def test_constant_channels_are_folded_into_the_next_bias_through_flatten():
    # Conv -> BN -> ReLU -> pool -> Flatten -> Dense: a pruned conv channel leaves a
    # non-zero constant after BN; shrink folds it into the Dense bias.
    model = keras.Sequential([
        keras.Input((10, 10, 2)),
        keras.layers.Conv2D(6, 3, padding="valid"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(5),
    ])
    randomize_batch_norms(model)
    zero_channels(model.layers[0], [1, 4])  # BN left intact: constants are not zero

    small = shrink(model)

    assert widths(small, keras.layers.Conv2D) == [4]
    dense = small.layers[-1]
    assert dense.kernel.shape == (4 * 4 * 4, 5)
    expected = (3 * 3 * 2 * 4 + 4) + 4 * 4 + (64 * 5 + 5)
    assert small.count_params() == expected
    assert max_output_diff(model, small, (10, 10, 2)) <= 1e-4


def test_nonzero_constant_before_zero_padded_conv_is_kept_not_approximated():
    # A constant channel entering a 'same' 3x3 conv differs at the borders, so it
    # cannot become a bias: shrink keeps it rather than build a wrong model.
    model = keras.Sequential([
        keras.Input((8, 8, 2)),
        keras.layers.Conv2D(4, 3, padding="same"),
        keras.layers.Activation("sigmoid"),  # sigmoid(0) = 0.5, a non-zero constant
        keras.layers.Conv2D(3, 3, padding="same"),
    ])
    zero_channels(model.layers[0], [2])

    small = shrink(model)

    assert widths(small, keras.layers.Conv2D) == [4, 3]
    assert max_output_diff(model, small, (8, 8, 2)) <= 1e-4


def residual_block(channels=8):
    inputs = keras.Input((8, 8, channels))
    x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name="a")(inputs)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name="b")(x)
    x = keras.layers.BatchNormalization(name="bn_b")(x)
    shortcut = keras.layers.Conv2D(channels, 1, use_bias=False, name="shortcut")(inputs)
    shortcut = keras.layers.BatchNormalization(name="bn_s")(shortcut)
    x = keras.layers.Add()([x, shortcut])
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Conv2D(4, 1, name="head")(x)
    model = keras.Model(inputs, outputs)
    randomize_batch_norms(model)
    return model


def test_activation_inside_the_layer_is_applied_to_the_constant():
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        keras.layers.Conv2D(5, 3, activation="sigmoid"),  # a dead channel outputs 0.5
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="relu"),
    ])
    zero_channels(model.layers[0], [0, 2])
    small = shrink(model)
    assert widths(small, keras.layers.Conv2D) == [3]
    assert max_output_diff(model, small, (6, 6, 2)) <= 1e-4


def test_shrinks_a_model_pruned_by_channels_with_gmp():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.DepthwiseConv2D(3),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(4, name="logits"),
    ])
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["logits"])
    pruned.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = RNG.random((64, 12, 12, 1)).astype("float32")
    y = RNG.integers(0, 4, 64)
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=1)
    pruned.fit(x, y, epochs=3, callbacks=[callback], verbose=0)

    small = shrink(pruned)  # strips the wrappers itself

    assert widths(small, (keras.layers.Conv2D, keras.layers.Dense)) == [4, 4, 8, 4]
    diff = np.abs(pruned.predict(x, verbose=0) - small.predict(x, verbose=0)).max()
    assert diff <= 1e-4


def test_residual_add_removes_only_channels_pruned_in_every_branch():
    model = residual_block()
    get = model.get_layer
    zero_channels(get("a"), [0, 1, 2, 3], get("bn_a"))  # inside the block: free to go
    zero_channels(get("b"), [0, 1, 2, 5], get("bn_b"))
    zero_channels(get("shortcut"), [0, 1, 2, 6], get("bn_s"))  # shares channels 0, 1, 2

    small = shrink(model)

    assert small.get_layer("a").filters == 4
    assert small.get_layer("b").filters == 5
    assert small.get_layer("shortcut").filters == 5
    assert small.get_layer("head").kernel.shape == (1, 1, 5, 4)
    assert small.get_layer("bn_b").gamma.shape == (5,)
    assert max_output_diff(model, small, (8, 8, 8)) <= 1e-4


def test_concatenate_maps_each_branch_to_its_slice_of_the_next_layer():
    inputs = keras.Input((8, 8, 3))
    left = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="left")(inputs)
    right = keras.layers.Conv2D(6, 1, activation="relu", name="right")(inputs)
    x = keras.layers.Concatenate()([left, right])
    x = keras.layers.Conv2D(5, 3, padding="same", name="after")(x)
    model = keras.Model(inputs, x)
    zero_channels(model.get_layer("left"), [1])
    zero_channels(model.get_layer("right"), [0, 4, 5])

    small = shrink(model)

    assert small.get_layer("left").filters == 3
    assert small.get_layer("right").filters == 3
    kept = [0, 2, 3, 5, 6, 7]  # left 0..3 without 1, right 4..9 without 4, 8, 9
    np.testing.assert_array_equal(
        small.get_layer("after").kernel.numpy(),
        model.get_layer("after").kernel.numpy()[:, :, kept, :],
    )
    assert max_output_diff(model, small, (8, 8, 3)) <= 1e-4


def test_dense_units_and_reshape():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
    x = keras.layers.Reshape((2, 4))(x)  # does not keep the channel axis: stays as is
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="tanh", name="d2")(x)
    x = keras.layers.Reshape((1, 6))(x)  # keeps the last axis
    outputs = keras.layers.Dense(3, name="d3")(x)
    model = keras.Model(inputs, outputs)
    zero_channels(model.get_layer("d2"), [0, 3])
    zero_channels(model.get_layer("d1"), [5])

    small = shrink(model)

    assert small.get_layer("d1").units == 8
    assert small.get_layer("d2").units == 4
    assert small.get_layer("d3").kernel.shape == (4, 3)
    assert max_output_diff(model, small, (6,)) <= 1e-4


def test_mobilenet_v2_expansion_channels_halved():
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
    randomize_batch_norms(model)
    removed = 0
    for layer in model.layers:
        if layer.name.endswith("_expand") and isinstance(layer, keras.layers.Conv2D):
            prefix = layer.name[: -len("expand")]
            channels = np.arange(0, layer.filters, 2)  # every other expansion channel
            zero_channels(layer, channels, model.get_layer(prefix + "expand_BN"))
            fan_in = layer.kernel.shape[2]
            fan_out = model.get_layer(prefix + "project").filters
            # expand kernel + expand BN + 3x3 depthwise + depthwise BN + project kernel;
            # the depthwise BN leaves constants that the project conv absorbs as a new bias
            removed += len(channels) * (fan_in + 4 + 9 + 4 + fan_out) - fan_out

    small = shrink(model)

    assert small.count_params() == model.count_params() - removed
    expand = small.get_layer("block_5_expand")
    assert expand.filters == model.get_layer("block_5_expand").filters // 2
    assert small.get_layer("block_5_depthwise").kernel.shape[2] == expand.filters
    assert max_output_diff(model, small, (96, 96, 3)) <= 1e-4


def test_input_model_is_not_modified():
    model = residual_block()
    zero_channels(model.get_layer("a"), [0, 1], model.get_layer("bn_a"))
    before = [w.copy() for w in model.get_weights()]
    shrink(model)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_rejects_non_models_and_subclassed_models():
    with pytest.raises(TypeError, match="model"):
        shrink(keras.layers.Dense(3))

    with pytest.raises(ValueError, match="my_custom"):
        shrink(subclassed_dense("my_custom"))


def test_shared_layer_is_named_in_the_error():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared_dense")
    outputs = shared(shared(inputs))
    with pytest.raises(ValueError, match="shared_dense"):
        shrink(keras.Model(inputs, outputs))


def test_channel_pruning_masks_batchnorm_so_padded_conv_chains_really_shrink(tmp_path):
    # Conv(same)-BN-ReLU twice: a pruned channel's BN would output a constant that a
    # zero-padded 3x3 conv cannot absorb; prune() masks BN gamma/beta with the conv's
    # channels, so the channels output exactly zero and shrink removes them.
    inputs = keras.Input((12, 12, 3))
    x = inputs
    for name in ("c1", "c2"):
        x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name=name)(x)
        x = keras.layers.BatchNormalization(name=f"bn_{name}")(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, name="out")(x))
    rng = np.random.default_rng(0)
    model.set_weights([np.abs(rng.normal(size=w.shape)).astype("float32") + 0.1
                       for w in model.weights])
    pruned = kerasprune.prune(model, pattern=kerasprune.Channels("l1"), exclude=["out"])
    followers = {w.layer.name: w.follows for w in kerasprune.prune_wrappers(pruned) if w.follows}
    assert followers == {"bn_c1": "c1", "bn_c2": "c2"}
    data = rng.normal(size=(32, 12, 12, 3)).astype("float32")
    pruned.compile(keras.optimizers.SGD(0.01), "mse")
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=1)
    pruned.fit(data, rng.normal(size=(32, 10)), epochs=2, callbacks=[gmp], verbose=0)
    assert kerasprune.sparsity_report(pruned).total == 0.5  # BN weights are not counted
    small = kerasprune.shrink(pruned)
    assert [l.filters for l in small.layers if isinstance(l, keras.layers.Conv2D)] == [8, 8]
    assert np.abs(np.asarray(small(data)) - np.asarray(pruned(data))).max() <= 1e-4
    path = tmp_path / "bn.keras"
    pruned.save(path)
    loaded = keras.saving.load_model(path)
    assert [w.follows for w in kerasprune.prune_wrappers(loaded)].count("c1") == 1


@pytest.mark.parametrize("constant_source", ["sigmoid", "batch_norm"])
def test_zero_padding_keeps_a_channel_whose_constant_is_not_zero(constant_source):
    # The padded border is 0 while the channel's inside holds a non-zero constant: the
    # channel is no longer constant, so the 'valid' conv after it cannot fold it away.
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    if constant_source == "sigmoid":
        x = keras.layers.Activation("sigmoid")(x)  # sigmoid(0) = 0.5
    else:
        x = keras.layers.BatchNormalization(name="bn")(x)  # the BN shift
    x = keras.layers.ZeroPadding2D(1)(x)
    outputs = keras.layers.Conv2D(3, 3, name="c2")(x)
    model = keras.Model(inputs, outputs)
    randomize_batch_norms(model)
    zero_channels(model.get_layer("c1"), [1, 2])

    small = shrink(model)

    assert widths(small, keras.layers.Conv2D) == [4, 3]
    assert max_output_diff(model, small, (8, 8, 2)) <= 1e-4


def test_zero_padding_passes_a_zero_channel_through():
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.ZeroPadding2D(1)(x)
    outputs = keras.layers.Conv2D(3, 3, padding="same", name="c2")(x)
    model = keras.Model(inputs, outputs)
    zero_channels(model.get_layer("c1"), [1, 2])

    small = shrink(model)

    assert widths(small, keras.layers.Conv2D) == [2, 3]
    assert max_output_diff(model, small, (8, 8, 2)) <= 1e-4


def test_a_layer_whose_channels_are_all_pruned_keeps_one_channel():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, outputs)
    zero_channels(model.get_layer("conv"), [0, 1, 2, 3])
    zero_channels(model.get_layer("hidden"), [0, 1, 2, 3, 4])

    small = shrink(model)

    assert small.get_layer("conv").filters == 1
    assert small.get_layer("hidden").units == 1
    assert small.get_layer("logits").kernel.shape == (1, 3)
    assert max_output_diff(model, small, (6, 6, 2)) <= 1e-4


def test_a_rule_registered_for_a_new_layer_type_is_used(scratch_registries):
    from kerasprune.structured.channelwise_rules import ActivationRule
    from kerasprune.structured.layer_rules import register_layer_rule

    class Double(keras.layers.Layer):
        """An elementwise layer shrink does not know: opaque until given a rule."""

        def call(self, x):
            return 2.0 * x

    def model_with(layer):
        inputs = keras.Input((6,))
        x = keras.layers.Dense(4, name="d1")(inputs)
        x = layer(x)
        outputs = keras.layers.Dense(2, name="d2")(x)
        model = keras.Model(inputs, outputs)
        zero_channels(model.get_layer("d1"), [0, 3])
        return model

    assert shrink(model_with(Double())).get_layer("d1").units == 4  # opaque: kept
    register_layer_rule(Double, ActivationRule())
    model = model_with(Double())
    small = shrink(model)
    assert small.get_layer("d1").units == 2
    assert small.get_layer("d2").kernel.shape == (2, 2)
    assert max_output_diff(model, small, (6,)) <= 1e-4


def test_attention_heads_with_zero_output_rows_are_removed():
    inputs = keras.Input((5, 8))
    mha = keras.layers.MultiHeadAttention(num_heads=4, key_dim=3, name="mha")
    x = mha(inputs, inputs)
    x = keras.layers.Dense(16, activation="gelu", name="up")(x)
    outputs = keras.layers.Dense(8, name="down")(x)
    model = keras.Model(inputs, outputs)
    names = {v.path.split("/", 1)[1]: v for v in mha.weights}
    rows = names["attention_output/kernel"].numpy()
    rows[[0, 2]] = 0.0
    names["attention_output/kernel"].assign(rows)
    zero_channels(model.get_layer("up"), [1, 5, 7])

    small = shrink(model)

    assert small.get_layer("mha").num_heads == 2
    np.testing.assert_array_equal(small.get_layer("mha").get_weights()[0],
                                  mha.get_weights()[0][:, [1, 3], :])
    assert small.get_layer("up").units == 13
    assert max_output_diff(model, small, (5, 8)) <= 1e-4


def test_kerashub_encoder_loses_its_dead_feed_forward_units():
    import keras_hub
    inputs = keras.Input((6, 16))
    encoder = keras_hub.layers.TransformerEncoder(intermediate_dim=32, num_heads=4,
                                                  name="encoder")
    outputs = keras.layers.Dense(3, name="head")(encoder(inputs))
    model = keras.Model(inputs, outputs)
    weights = {v.path.split("/", 1)[1]: v for v in encoder.weights}
    up = weights["feedforward_intermediate_dense/kernel"].numpy()
    up[:, 8:24] = 0.0  # 16 units output gelu(bias), a constant the down bias absorbs
    weights["feedforward_intermediate_dense/kernel"].assign(up)
    weights["feedforward_intermediate_dense/bias"].assign(RNG.normal(size=32))

    small = shrink(model)

    assert small.get_layer("encoder").intermediate_dim == 16
    assert small.get_layer("encoder").num_heads == 4
    assert max_output_diff(model, small, (6, 16)) <= 1e-4


def depthwise_chain(c_activation, **depthwise):
    """c (1x1, `c_activation`) -> dw (3x3 depthwise) -> out, random, c's channel 1 zeroed."""
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(3, 1, activation=c_activation, name="c")(inputs)
    x = keras.layers.DepthwiseConv2D(3, name="dw", **depthwise)(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(x))
    randomize(model)
    zero_channels(model.get_layer("c"), [1])
    return model


def test_a_constant_channel_through_a_depthwise_conv_is_folded_with_its_own_filter():
    model = depthwise_chain("sigmoid")  # channel 1 is sigmoid(0) = 0.5 everywhere

    small = shrink(model)

    assert small.get_layer("c").filters == small.get_layer("dw").kernel.shape[-2] == 2
    # out's bias absorbed 0.5 * (sum of dw's filter 1) + dw's bias 1, through out's kernel.
    assert max_output_diff(model, small, (6, 6, 3)) <= 1e-4


def test_a_zero_channel_through_a_depthwise_conv_leaves_its_activated_bias():
    # dw's channel 1 is then sigmoid(its bias)
    model = depthwise_chain("relu", padding="same", activation="sigmoid")

    small = shrink(model)

    assert small.get_layer("c").filters == small.get_layer("dw").kernel.shape[-2] == 2
    assert max_output_diff(model, small, (6, 6, 3)) <= 1e-4


def test_a_zero_filter_of_a_padded_depthwise_conv_outputs_its_bias_whatever_the_input():
    # c's channel 1 is 0.5 everywhere: zero padding would vary it,
    model = depthwise_chain("sigmoid", padding="same")
    kernel, bias = model.get_layer("dw").get_weights()
    kernel[..., 1, 0] = 0.0  # but dw's filter 1 ignores it
    model.get_layer("dw").set_weights([kernel, bias])

    small = shrink(model)

    assert small.get_layer("c").filters == small.get_layer("dw").kernel.shape[-2] == 2
    assert max_output_diff(model, small, (6, 6, 3)) <= 1e-4


def test_a_dead_filter_of_a_1d_transposed_conv_is_removed():
    inputs = keras.Input((5, 3))
    x = keras.layers.Conv1D(3, 1, activation="relu", name="c")(inputs)
    x = keras.layers.Conv1DTranspose(4, 3, activation="relu", name="up")(x)
    model = keras.Model(inputs, keras.layers.Conv1D(2, 1, name="out")(x))
    randomize(model)
    kernel, bias = model.get_layer("up").get_weights()  # kernel (3, filters, inputs)
    kernel[:, 1, :] = 0.0
    model.get_layer("up").set_weights([kernel, bias])

    small = shrink(model)

    assert small.get_layer("up").filters == 3
    assert max_output_diff(model, small, (5, 3)) <= 1e-4


def test_a_batch_norm_without_scale_and_shift_is_folded_like_any_other():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 1, name="c")(inputs)
    x = keras.layers.BatchNormalization(scale=False, center=False, name="bn")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, name="out")(x))
    bn = model.get_layer("bn")
    bn.set_weights([RNG.normal(0, 0.5, 4), RNG.uniform(0.5, 2.0, 4)])
    zero_channels(model.get_layer("c"), [2])  # then -mean / sqrt(variance) after bn

    small = shrink(model)

    assert small.get_layer("c").filters == 3
    assert small.get_layer("bn").moving_mean.shape == (3,)
    assert max_output_diff(model, small, (6, 6, 2)) <= 1e-4


def test_a_batch_norm_over_the_positions_is_left_whole():
    # Each position has its own statistics: a zero channel is not constant after it.
    inputs = keras.Input((5, 4))
    x = keras.layers.Dense(4, name="d1")(inputs)
    x = keras.layers.BatchNormalization(axis=1, name="bn")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="d2")(x), name="positions")
    randomize_batch_norms(model)
    zero_channels(model.get_layer("d1"), [1])
    message = (
        "shrink removed nothing: no channel of model 'positions' is entirely zero (or "
        "removable exactly), so the copy has the same size. Unstructured and block pruning "
        "zero single weights, not channels: prune with pattern=kerasprune.Channels(...) to "
        "remove channels.")

    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        small = shrink(model)

    assert small.get_layer("d1").units == 4
    assert max_output_diff(model, small, (5, 4)) <= 1e-4


def test_a_product_of_constant_channels_is_folded_as_their_product():
    inputs = keras.Input((5,))
    a = keras.layers.Dense(3, activation="sigmoid", name="a")(inputs)
    b = keras.layers.Dense(3, activation="relu", name="b")(inputs)
    x = keras.layers.Multiply()([a, b])
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    randomize(model)
    zero_channels(model.get_layer("a"), [0])  # sigmoid(0) = 0.5
    zero_channels(model.get_layer("b"), [0, 1])
    kernel, bias = model.get_layer("b").get_weights()
    bias[0] = 1.0  # relu(1) = 1
    model.get_layer("b").set_weights([kernel, bias])

    small = shrink(model)

    # channel 0 is 0.5 * 1; channel 1 is 0 but the same channel of a is not constant.
    assert small.get_layer("a").units == small.get_layer("b").units == 2
    assert max_output_diff(model, small, (5,)) <= 1e-4


def test_a_multiply_by_a_one_channel_gate_keeps_the_outputs():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(4, name="d1")(inputs)
    gate = keras.layers.Dense(1, activation="sigmoid", name="gate")(inputs)
    x = keras.layers.Multiply()([x, gate])
    x = keras.layers.Dense(3, activation="relu", name="hidden")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="d2")(x))
    zero_channels(model.get_layer("d1"), [0, 3])
    zero_channels(model.get_layer("hidden"), [1])

    small = shrink(model)

    assert small.get_layer("hidden").units == 2
    assert max_output_diff(model, small, (6,)) <= 1e-4


def test_a_conv_with_two_groups_on_two_channels_is_depthwise():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(2, 1, name="c")(inputs)
    x = keras.layers.Conv2D(2, 3, groups=2, name="dw")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(x))
    randomize(model)
    zero_channels(model.get_layer("c"), [1])  # dw's channel 1 is then its bias

    small = shrink(model)

    assert small.get_layer("c").filters == small.get_layer("dw").filters == 1
    assert small.get_layer("dw").kernel.shape == (3, 3, 1, 1)
    assert max_output_diff(model, small, (6, 6, 3)) <= 1e-4


def test_a_separable_conv_with_depth_multiplier_loses_the_rows_of_a_removed_input():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 1, activation="relu", name="c")(inputs)
    x = keras.layers.SeparableConv2D(5, 3, depth_multiplier=3, padding="same", name="sep")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(x))
    randomize(model)
    zero_channels(model.get_layer("c"), [1])  # c's channel 1 is relu(0) = 0 everywhere

    small = shrink(model)

    sep = small.get_layer("sep")
    assert small.get_layer("c").filters == sep.depthwise_kernel.shape[-2] == 3
    assert sep.pointwise_kernel.shape[-2] == 3 * 3
    assert max_output_diff(model, small, (6, 6, 3)) <= 1e-4


def test_a_constant_folded_into_a_layer_without_bias_gives_it_one():
    inputs = keras.Input((5,))
    x = keras.layers.Dense(4, activation="sigmoid", name="d")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False, name="out")(x))
    randomize(model)
    zero_channels(model.get_layer("d"), [2])  # unit 2 is sigmoid(0) = 0.5 everywhere

    small = shrink(model)

    assert small.get_layer("d").units == 3
    assert small.get_layer("out").use_bias  # 0.5 * the removed kernel row
    assert max_output_diff(model, small, (5,)) <= 1e-5


def test_a_transposed_conv_loses_the_kernel_slice_of_a_removed_input():
    inputs = keras.Input((5, 3))
    x = keras.layers.Conv1D(4, 1, activation="relu", name="c")(inputs)
    x = keras.layers.Conv1DTranspose(3, 3, name="up")(x)
    model = keras.Model(inputs, keras.layers.Conv1D(2, 1, name="out")(x))
    randomize(model)
    zero_channels(model.get_layer("c"), [1])  # relu(0) = 0: up's input 1 carries nothing

    small = shrink(model)

    assert small.get_layer("c").filters == 3
    assert small.get_layer("up").kernel.shape == (3, 3, 3)  # (width, filters, inputs)
    assert max_output_diff(model, small, (5, 3)) <= 1e-4


def test_shrink_shows_keras_progress_bar_over_the_layers_it_rebuilds(capsys):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(2, name="out")])
    kernel, bias = model.get_layer("a").get_weights()
    kernel[:, :2] = 0.0
    model.get_layer("a").set_weights([kernel, bias * 0])
    shrink(model, verbose=1)
    bar = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out.replace("\b", ""))
    assert bar.splitlines()[-1].startswith("3/3 ")  # the analysis, then both layers
    shrink(model, verbose=0)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="`verbose` must be one of \\(0, 1\\) or 'auto'"):
        shrink(model, verbose=2)


@keras.saving.register_keras_serializable("kerasprune_tests")
class TwoDense(keras.Model):
    """A Functional subclass, as KerasHub's models are: its graph built in `__init__`."""

    def __init__(self, hidden: int = 6, **kwargs):
        inputs = keras.Input((4,))
        x = keras.layers.Dense(hidden, activation="relu", name="hidden")(inputs)
        super().__init__(inputs, keras.layers.Dense(3, name="out")(x), **kwargs)
        self.hidden = hidden

    def get_config(self):
        return {"hidden": self.hidden, "name": self.name}


def test_shrink_of_a_functional_subclass_keeps_the_kept_channels_weights():
    model = TwoDense()
    zero_channels(model.get_layer("hidden"), [0, 2, 4])
    small = shrink(model)
    assert type(small).__name__ == "TwoDense" and small is not model
    assert small.get_layer("hidden").units == 3
    x = RNG.normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(small(x)), np.asarray(model(x)), atol=1e-6)
    kept = model.get_layer("hidden").get_weights()[0][:, [1, 3, 5]]
    np.testing.assert_array_equal(small.get_layer("hidden").get_weights()[0], kept)


def test_a_lambda_layer_is_kept_as_it_is_and_the_rest_shrinks():
    layers = keras.layers
    inputs = keras.Input((8,))
    hidden = layers.Lambda(lambda t: t * 2.0, name="twice")(
        layers.Dense(16, activation="relu", name="a")(inputs))
    model = keras.Model(inputs, layers.Dense(4, name="c")(layers.Dense(16, name="b")(hidden)))
    x = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    with pytest.warns(kerasprune.structured.group_selection.LayersLeftWholeWarning,
                      match="'twice' \\(Lambda\\)"):
        pruned = kerasprune.prune(model, pattern=Channels(), exclude=["c"])
        kerasprune.update_masks(pruned, 0.5)
    small = shrink(pruned, verbose=0)
    assert small.get_layer("b").units == 8 and small.get_layer("a").units == 16
    np.testing.assert_allclose(small.predict(x, verbose=0), pruned.predict(x, verbose=0),
                               atol=1e-5)
