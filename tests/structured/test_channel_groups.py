"""Specification of channel groups: coupled channels are pruned together and shrink removes them.

Every coupling kind is built as a small graph, pruned with the plain user call
(`prune(model, pattern=Channels(...), exclude=[...])`, `update_masks`), shrunk, and the
shrunk model's outputs must equal the masked model's.
"""

import re

import numpy as np
import keras
import pytest

import kerasprune
from kerasprune import Channels, shrink
from kerasprune.core.criterion_data import ChannelActivity
from kerasprune.structured.channel_groups import channel_groups
from kerasprune.structured.channel_patterns import channels_kept
from kerasprune.structured.group_selection import LayersLeftWholeWarning

RNG = np.random.default_rng(0)


def randomize(model):
    """Non-trivial weights everywhere, BN statistics included (a pruned channel is then
    non-zero after BN unless its BN is masked too)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([RNG.uniform(0.5, 1.5, n), RNG.normal(0, 0.5, n),
                               RNG.normal(0, 0.5, n), RNG.uniform(0.5, 2.0, n)])
        elif layer.weights:
            layer.set_weights([RNG.normal(0, 0.5, w.shape).astype("float32")
                               for w in layer.weights])
    return model


def prune_shrink(model, sparsity=0.5, exclude=("out",), **options):
    pruned = kerasprune.prune(model, pattern=Channels("l1", **options), exclude=list(exclude))
    kerasprune.update_masks(pruned, sparsity)
    small = shrink(pruned)
    x = RNG.normal(size=(3,) + tuple(model.input.shape[1:])).astype("float32")
    np.testing.assert_allclose(np.asarray(small(x)), np.asarray(pruned(x)), atol=1e-4,
                               rtol=1e-4)
    return pruned, small


def kept(pruned, name):
    wrapper = next(w for w in kerasprune.prune_wrappers(pruned) if w.layer.name == name)
    return channels_kept(np.asarray(wrapper.masks[0]))


def width(model, name):
    layer = model.get_layer(name)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return layer.kernel.shape[-2]
    return layer.units if isinstance(layer, keras.layers.Dense) else layer.filters


def conv(x, filters, name, kernel=3, **kwargs):
    return keras.layers.Conv2D(filters, kernel, padding="same", name=name, **kwargs)(x)


@pytest.mark.parametrize("merge", [keras.layers.Add, keras.layers.Subtract,
                                   keras.layers.Multiply, keras.layers.Average,
                                   keras.layers.Maximum])
def test_a_merge_couples_the_channels_of_its_inputs(merge):
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.BatchNormalization(name="bn_a")(conv(inputs, 8, "a", use_bias=False))
    b = keras.layers.BatchNormalization(name="bn_b")(conv(inputs, 8, "b", kernel=1))
    x = keras.layers.ReLU()(merge()([a, b]))
    model = randomize(keras.Model(inputs, conv(x, 4, "out")))

    pruned, small = prune_shrink(model)

    np.testing.assert_array_equal(kept(pruned, "a"), kept(pruned, "b"))
    assert kept(pruned, "a").sum() == 4
    assert width(small, "a") == width(small, "b") == 4


def test_a_residual_stream_is_one_set_of_groups_and_halves():
    inputs = keras.Input((8, 8, 3))
    stream = conv(inputs, 8, "stem")
    for i in range(2):
        y = keras.layers.ReLU()(conv(stream, 6, f"inner{i}"))
        stream = keras.layers.Add()([stream, conv(y, 8, f"proj{i}")])
    model = randomize(keras.Model(inputs, conv(stream, 4, "out")))

    pruned, small = prune_shrink(model)

    for name in ("stem", "proj0", "proj1"):
        assert width(small, name) == 4
        np.testing.assert_array_equal(kept(pruned, name), kept(pruned, "stem"))
    assert width(small, "inner0") == width(small, "inner1") == 3
    text = str(channel_groups(pruned))
    assert "8 groups couple proj0, proj1, stem" in text


def test_concatenate_slices_are_pruned_with_their_producers():
    inputs = keras.Input((8, 8, 3))
    left = conv(inputs, 4, "left", activation="relu")
    right = conv(inputs, 6, "right", kernel=1, activation="relu")
    x = keras.layers.Concatenate()([left, right])
    model = randomize(keras.Model(inputs, conv(x, 5, "out")))

    pruned, small = prune_shrink(model)

    assert (width(small, "left"), width(small, "right")) == (2, 3)
    assert small.get_layer("out").kernel.shape[2] == 5


def test_pass_through_layers_keep_the_group():
    # BN, activation, pooling, zero padding, dropout and cropping between two convs.
    inputs = keras.Input((12, 12, 3))
    x = conv(inputs, 8, "a", use_bias=False)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Activation("swish")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Cropping2D(1)(x)
    model = randomize(keras.Model(inputs, conv(x, 4, "out")))

    pruned, small = prune_shrink(model)

    assert width(small, "a") == 4
    assert small.get_layer("bn").gamma.shape == (4,)


def test_a_depthwise_conv_loses_the_channels_of_the_conv_before_it():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.ReLU(6.0)(conv(inputs, 8, "expand", kernel=1))
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    grouped = keras.layers.Conv2D(8, 3, padding="same", groups=8, name="grouped")(x)
    model = randomize(keras.Model(inputs, conv(grouped, 4, "out", kernel=1)))

    pruned, small = prune_shrink(model)

    np.testing.assert_array_equal(kept(pruned, "expand"), kept(pruned, "dw"))
    np.testing.assert_array_equal(kept(pruned, "expand"), kept(pruned, "grouped"))
    assert width(small, "expand") == width(small, "dw") == width(small, "grouped") == 4
    assert small.get_layer("grouped").groups == 4


def test_flatten_and_reshape_into_a_dense_layer():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu", name="d")(x)
    x = keras.layers.Reshape((2, 4))(keras.layers.Reshape((8,))(x))
    x = keras.layers.Flatten()(x)
    model = randomize(keras.Model(inputs, keras.layers.Dense(3, name="out")(x)))

    with pytest.warns(LayersLeftWholeWarning, match="'d'"):
        pruned, small = prune_shrink(model)

    assert width(small, "c") == 3
    assert small.get_layer("out").kernel.shape[0] == 8  # the Reshape(2, 4) pins d's units
    assert "d" in channel_groups(pruned).left_whole


def test_squeeze_and_excitation_gate_joins_the_gated_channels():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Activation("swish")(conv(inputs, 8, "c"))
    s = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    s = keras.layers.Conv2D(4, 1, activation="relu", name="reduce")(s)
    s = keras.layers.Conv2D(8, 1, activation="sigmoid", name="expand")(s)
    x = keras.layers.Multiply()([x, s])
    model = randomize(keras.Model(inputs, conv(x, 4, "out", kernel=1)))

    pruned, small = prune_shrink(model)

    np.testing.assert_array_equal(kept(pruned, "c"), kept(pruned, "expand"))
    assert (width(small, "c"), width(small, "expand"), width(small, "reduce")) == (4, 4, 2)


def test_transposed_and_separable_convolutions():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu",
                                     name="up")(inputs)
    x = keras.layers.SeparableConv2D(6, 3, padding="same", activation="relu", name="sep")(x)
    model = randomize(keras.Model(inputs, conv(x, 4, "out")))

    pruned, small = prune_shrink(model)

    assert (width(small, "up"), width(small, "sep")) == (4, 3)
    assert small.get_layer("sep").depthwise_kernel.shape[2] == 4


def test_a_nested_model_is_followed_and_inlined():
    block = keras.Sequential([keras.Input((8, 8, 8)), keras.layers.Conv2D(6, 1, name="in1"),
                              keras.layers.ReLU()], name="block")
    inputs = keras.Input((8, 8, 3))
    x = block(conv(inputs, 8, "c", activation="relu"))
    model = randomize(keras.Model(inputs, conv(x, 4, "out")))

    pruned, small = prune_shrink(model)

    assert (width(small, "c"), width(small, "in1")) == (4, 3)


def test_keras_ops_elementwise_calls_keep_the_group():
    inputs = keras.Input((8, 8, 3))
    x = conv(inputs, 8, "c")
    x = x * keras.ops.relu6(x + 3.0) * (1.0 / 6.0)  # hard swish, as MobileNetV3 writes it
    model = randomize(keras.Model(inputs, conv(x, 4, "out", kernel=1)))

    pruned, small = prune_shrink(model)

    assert width(small, "c") == 4


def test_transformer_feed_forward_units_are_pruned_and_the_stream_is_left_whole():
    inputs = keras.Input((5, 8))
    x = keras.layers.Dense(8, name="embed")(inputs)
    h = keras.layers.Dense(16, activation="gelu", name="up")(x)
    x = keras.layers.LayerNormalization()(keras.layers.Add()([x, keras.layers.Dense(
        8, name="down")(h)]))
    model = randomize(keras.Model(inputs, keras.layers.Dense(3, name="out")(x)))

    with pytest.warns(LayersLeftWholeWarning, match="embed"):
        pruned, small = prune_shrink(model)

    assert width(small, "up") == 8
    assert width(small, "embed") == width(small, "down") == 8
    reason = channel_groups(pruned).left_whole["down"]
    assert "LayerNormalization" in reason


def test_an_output_layer_is_left_whole_and_named():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="hidden"),
                              keras.layers.Dense(3, name="out")])
    # L1 ranks hidden's channels 7 < 6 < ... < 0: its last group is pruned, and out's
    # channels (in no group) must not follow it.
    model.get_layer("hidden").set_weights([np.tile(np.arange(8.0, 0.0, -1, dtype="float32"),
                                                   (4, 1)), np.zeros(8, "float32")])
    pruned = kerasprune.prune(model, pattern=Channels("l1"))
    message = ("Channel pruning leaves these pruned layers whole (no channel of theirs can be "
               "removed exactly): {'out': 'it reaches a model output'}")
    with pytest.warns(LayersLeftWholeWarning, match=f"^{re.escape(message)}$"):
        kerasprune.update_masks(pruned, 0.5)
    assert kept(pruned, "out").all()
    assert kept(pruned, "hidden").tolist() == [True] * 4 + [False] * 4


def test_a_group_is_scored_by_combining_its_members():
    # L1 per channel (mean |w|): a = [0.1, 0.2, 1.0, 0.8], b = [2.0, 0.3, 0.1, 0.8].
    # Sum (and mean, the groups being of equal size): [2.1, 0.5, 1.1, 1.6];
    # max: [2.0, 0.3, 1.0, 0.8]. Half the groups go.
    inputs = keras.Input((4,))
    a = keras.layers.Dense(4, name="a")(inputs)
    b = keras.layers.Dense(4, name="b")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.Add()([a, b])))
    ka = np.ones((4, 4), "float32") * np.array([0.1, 0.2, 1.0, 0.8], "float32")
    kb = np.ones((4, 4), "float32") * np.array([2.0, 0.3, 0.1, 0.8], "float32")
    model.get_layer("a").set_weights([ka, np.zeros(4, "float32")])
    model.get_layer("b").set_weights([kb, np.zeros(4, "float32")])
    expected = {"sum": [True, False, False, True], "mean": [True, False, False, True],
                "max": [True, False, True, False]}
    for combine, keep in expected.items():
        pruned = kerasprune.prune(model, pattern=Channels("l1", combine=combine,
                                                          min_channels=0), exclude=["out"])
        kerasprune.update_masks(pruned, 0.5)
        assert kept(pruned, "a").tolist() == keep, combine
        assert kept(pruned, "b").tolist() == keep, combine


def test_min_channels_and_max_fraction_cap_every_layer():
    inputs = keras.Input((8, 8, 3))
    x = conv(inputs, 8, "a", activation="relu")
    model = randomize(keras.Model(inputs, conv(x, 4, "out")))
    pruned, _ = prune_shrink(model, sparsity=0.9, max_fraction=0.5)
    assert kept(pruned, "a").sum() == 4
    pruned, _ = prune_shrink(model, sparsity=0.9, min_channels=3)
    assert kept(pruned, "a").sum() == 3


@pytest.mark.parametrize("target", ["flops", "params"])
def test_a_cost_target_prunes_groups_until_the_cost_is_met(target):
    inputs = keras.Input((16, 16, 3))
    x = conv(inputs, 16, "a", activation="relu")
    x = conv(x, 32, "b", activation="relu")
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = randomize(keras.Model(inputs, keras.layers.Dense(4, name="out")(x)))
    dense = channel_groups(model).cost(np.zeros(channel_groups(model).count, bool))

    pruned, small = prune_shrink(model, sparsity=0.6, target=target)

    groups = channel_groups(small)
    after = groups.cost(np.zeros(groups.count, bool))
    index = {"flops": 0, "params": 1}[target]
    assert after[index] <= 0.4 * dense[index]
    assert after[index] > 0.3 * dense[index]  # not far past the target


def _two_unit_mlp(scope, a_scores, b_scores):
    """Dense a (16 -> 32) and b (32 -> 8), channels scored by the given L1 norms, feeding
    an excluded output: two units of one layer each."""
    inputs = keras.Input((16,))
    x = keras.layers.Dense(32, name="a")(inputs)
    x = keras.layers.Dense(8, name="b")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    model.get_layer("a").set_weights([np.tile(np.asarray(a_scores, "float32") / 16, (16, 1)),
                                      np.zeros(32, "float32")])
    model.get_layer("b").set_weights([np.tile(np.asarray(b_scores, "float32") / 32, (32, 1)),
                                      np.zeros(8, "float32")])
    return kerasprune.prune(model, pattern=Channels("l1", normalize="none", min_channels=0),
                            exclude=["out"], scope=scope)


def test_erk_shares_the_channel_target_by_each_units_density():
    # ERK factors: a 32 * (16 + 32) / (16 * 32) = 3, b 8 * (32 + 8) / (32 * 8) = 1.25; half
    # of the 40 channels kept: a keeps 20 * 3 / 4.25 = 14.1 -> 14, b 5.9 -> 6.
    pruned = _two_unit_mlp("erk", np.arange(1, 33), np.arange(1, 9))
    kerasprune.update_masks(pruned, 0.5)
    assert kept(pruned, "a").tolist() == [False] * 18 + [True] * 14
    assert kept(pruned, "b").tolist() == [False] * 2 + [True] * 6
    layer = _two_unit_mlp("layer", np.arange(1, 33), np.arange(1, 9))
    kerasprune.update_masks(layer, 0.5)  # each unit to the target on its own
    assert kept(layer, "a").sum() == 16 and kept(layer, "b").sum() == 4


def test_lamp_shares_the_channel_target_by_normalized_scores():
    # b's channels are nearly equal (each LAMP score near 1 / rank), a's spread from 1 to
    # 32 (the lowest LAMP scores are tiny): one threshold takes a's low channels first.
    pruned = _two_unit_mlp("lamp", np.arange(1, 33), 1 + np.arange(8) / 100)
    kerasprune.update_masks(pruned, 0.5)
    a, b = kept(pruned, "a"), kept(pruned, "b")
    assert a.sum() + b.sum() == 20  # the model-wide target, exactly
    assert a.sum() < 16 and b.sum() > 4  # a loses more than half, b less
    assert a.tolist() == sorted(a.tolist())  # a's lowest channels go first
    layer = _two_unit_mlp("layer", np.arange(1, 33), 1 + np.arange(8) / 100)
    kerasprune.update_masks(layer, 0.5)
    assert kept(layer, "a").sum() == 16 and kept(layer, "b").sum() == 4


def test_sparsity_overrides_are_refused_with_a_cost_target():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="h"),
                              keras.layers.Dense(2, name="out")])
    pruned = kerasprune.prune(model, pattern=Channels(target="flops"), exclude=["out"],
                              sparsity_overrides={"h": 0.5})
    message = ("Channels(target='flops') prunes to a model-wide cost: per-layer "
               "`sparsity_overrides` apply to target='channels' only.")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kerasprune.update_masks(pruned, 0.5)


def test_channels_masks_the_bias_of_a_pruned_channel(tmp_path):
    # Conv+bias -> ReLU -> zero-padded conv (VGG style): the bias must go with the filter,
    # or the dead channel's ReLU(bias) could not be removed.
    inputs = keras.Input((8, 8, 3))
    x = conv(conv(inputs, 8, "a", activation="relu"), 8, "b", activation="relu")
    model = keras.Model(inputs, conv(x, 4, "out"))
    for name in ("a", "b"):
        layer = model.get_layer(name)
        layer.set_weights([layer.kernel.numpy(), np.ones(8, "float32")])
    pruned, small = prune_shrink(model)
    assert [w.weight_names for w in kerasprune.prune_wrappers(pruned)] == [["kernel", "bias"]] * 2
    assert width(small, "a") == width(small, "b") == 4
    pruned.save(tmp_path / "channels.keras")  # the bias masks and the pattern survive saving
    loaded = keras.saving.load_model(tmp_path / "channels.keras")
    assert loaded.get_layer("prune_a").pattern.get_config() == Channels("l1").get_config()
    assert width(shrink(loaded), "a") == 4


def test_a_subclassed_model_falls_back_to_layer_by_layer_channels():
    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(8)
            self.out = keras.layers.Dense(2)

        def call(self, x):
            return self.out(self.hidden(x))

    net = Net()
    net(np.zeros((1, 4), "float32"))
    pruned = kerasprune.prune(net, pattern=Channels("l1"))
    with pytest.warns(UserWarning, match="layer by layer"):
        kerasprune.update_masks(pruned, 0.5)
    for wrapper in kerasprune.prune_wrappers(pruned):
        assert channels_kept(np.asarray(wrapper.masks[0])).mean() == 0.5
        np.testing.assert_array_equal(channels_kept(np.asarray(wrapper.masks[0])),
                                      np.asarray(wrapper.masks[1]) > 0)


def test_gradual_channel_pruning_with_groups_shrinks_exactly(digits):
    (x, y), _ = digits
    inputs = keras.Input((7, 7, 1))
    a = conv(inputs, 8, "a", use_bias=False)
    a = keras.layers.ReLU()(keras.layers.BatchNormalization(name="bn_a")(a))
    b = keras.layers.BatchNormalization(name="bn_b")(conv(a, 8, "b", use_bias=False))
    x_ = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    x_ = keras.layers.GlobalAveragePooling2D()(x_)
    model = keras.Model(inputs, keras.layers.Dense(10, name="out")(x_))
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["out"])
    pruned.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=1)
    pruned.fit(x[:256], y[:256], epochs=3, batch_size=64, callbacks=[gmp], verbose=0)

    small = shrink(pruned)

    assert width(small, "a") == width(small, "b") == 4
    np.testing.assert_allclose(np.asarray(small(x[:32])), np.asarray(pruned(x[:32])),
                               atol=1e-4)


def test_embedding_columns_are_channels():
    inputs = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(20, 8, name="embed")(inputs)
    x = keras.layers.Dense(6, activation="relu", name="hidden")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["out"])
    kerasprune.update_masks(pruned, 0.5)
    small = shrink(pruned)
    ids = RNG.integers(0, 20, (4, 5)).astype("int32")
    np.testing.assert_allclose(np.asarray(small(ids)), np.asarray(pruned(ids)), atol=1e-5)
    assert small.get_layer("embed").output_dim == 4
    assert width(small, "hidden") == 3


def test_a_recurrent_layer_is_left_whole_and_named_not_a_crash():
    # An LSTM's kernel holds four gates per unit and no rule rebuilds it smaller, so
    # channel pruning must leave it whole and say so (its variables live in a cell).
    inputs = keras.Input((5, 4))
    x = keras.layers.LSTM(8, name="lstm")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["head"])
    reason = "structured pruning has no rule for LSTM layers"
    assert channel_groups(pruned).left_whole == {"lstm": reason}
    with pytest.warns(LayersLeftWholeWarning, match="'lstm'"):
        assert kerasprune.update_masks(pruned, 0.5) == 0.0
    assert all(np.all(np.asarray(m) == 1) for m in kerasprune.prune_wrappers(pruned)[0].masks)


def test_a_layer_left_whole_by_its_arguments_is_named_with_them():
    inputs = keras.Input((6, 6, 4))
    x = keras.layers.Conv2D(4, 1, name="c")(inputs)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(x)
    x = keras.layers.Conv2D(4, 1, name="first", data_format="channels_first")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["head"])
    assert channel_groups(pruned).left_whole == {
        "dw": "structured pruning follows DepthwiseConv2D layers only with depth_multiplier=1",
        "first": "structured pruning follows channels_last layers only, and this Conv2D has "
                 "data_format='channels_first'",
        "c": "it enters 'dw' (DepthwiseConv2D), which structured pruning does not understand"}


def bert_classifier(heads=4, width=32, units=64, length=8):
    """A tiny KerasHub BertBackbone (random weights) nested in a Functional classifier."""
    import keras_hub
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=50, num_layers=2, num_heads=heads, hidden_dim=width,
        intermediate_dim=units, max_sequence_length=length)
    inputs = {name: keras.Input((length,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask")}
    logits = keras.layers.Dense(2, name="logits")(backbone(inputs)["pooled_output"])
    return keras.Model(list(inputs.values()), logits)


def token_batch(length=8):
    padding = np.ones((3, length), "int32")
    padding[:, -2:] = 0
    return [RNG.integers(0, 50, (3, length)).astype("int32"), np.zeros((3, length), "int32"),
            padding]


def encoders(model):
    return [layer for layer in model.layers if hasattr(layer, "intermediate_dim")]


def test_kerashub_encoders_lose_half_their_heads_and_units_and_reload(tmp_path):
    model = bert_classifier()
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["logits"])
    with pytest.warns(LayersLeftWholeWarning, match="token_embedding"):
        kerasprune.update_masks(pruned, 0.5)

    small = shrink(pruned)

    assert [(e.num_heads, e.intermediate_dim) for e in encoders(small)] == [(2, 32)] * 2
    query = next(w for w in small.get_layer("transformer_layer_0").weights
                 if w.path.endswith("self_attention_layer/query/kernel"))
    assert tuple(query.shape) == (32, 2, 8)  # the head size stays width / 4 heads
    x = token_batch()
    masked = np.asarray(pruned(x))
    assert np.abs(masked - np.asarray(model(x))).max() > 1e-3  # pruning changed the output
    np.testing.assert_allclose(np.asarray(small(x)), masked, atol=1e-5)
    small.save(tmp_path / "small.keras")
    loaded = keras.saving.load_model(tmp_path / "small.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(small(x)))


def test_an_encoders_heads_and_units_each_reach_the_layer_target():
    """Heads (1,024-weight slices) and units (64-weight slices) are separate sets: scored
    together, the heads would never be chosen."""
    pruned = kerasprune.prune(bert_classifier(), pattern=Channels("l1"),
                              layers=["transformer_layer_0"])
    kerasprune.update_masks(pruned, 0.75)
    rows = {r.weight: r.sparsity for r in kerasprune.sparsity_report(pruned).rows}

    assert rows["self_attention_layer/query/kernel"] == pytest.approx(0.75)
    assert rows["feedforward_intermediate_dense/kernel"] == pytest.approx(0.75)


def _coupled_pair_then_dense():
    """a and b (one unit each) are added: one group coupling them; d's 3 units are 3 lone
    groups; `out` reaches the output."""
    inputs = keras.Input((4,))
    x = keras.layers.Add()([keras.layers.Dense(1, name="a")(inputs),
                            keras.layers.Dense(1, name="b")(inputs)])
    x = keras.layers.Dense(3, name="d")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(x))


def test_channel_groups_print_the_coupled_sets_and_the_layers_left_whole():
    groups = channel_groups(_coupled_pair_then_dense())
    assert str(groups) == ("4 channel groups in 2 sets of coupled layers\n"
                           "  1 groups couple a, b\n"
                           "  3 groups in d alone\n"
                           "  left whole: out: it reaches a model output")

    message = "`model` must be a keras.Model. Received: model='m' of type str"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        channel_groups("m")


def test_the_cost_counts_every_understood_layer_and_removal_maps_groups_to_atoms():
    groups = channel_groups(_coupled_pair_then_dense())
    # a, b: 4 MACs, 5 parameters each; d: 1*3 MACs, 6 parameters; out: 3*2, 8.
    assert groups.cost(np.zeros(4, bool)) == (4 + 4 + 3 + 6, 5 + 5 + 6 + 8)
    # Without d's units: out keeps only its bias; d keeps its input weights' nothing.
    assert groups.cost(np.array([False, True, True, True])) == (8, 10 + 2)
    first = np.array([True, False, False, False])
    removed = groups.removal(first)
    a, b = (m for m in groups.members if m.slot.layer.name in "ab")
    assert removed[a.slot.atoms].all() and removed[b.slot.atoms].all()
    assert removed.sum() == a.slot.atoms.size + b.slot.atoms.size  # nothing outside a group


def test_a_reshape_is_followed_only_when_it_keeps_known_channels_last():
    inputs = keras.Input((6, 4))
    x = keras.layers.Reshape((2, 3, 4))(keras.layers.Dense(4, name="a")(inputs))
    groups = channel_groups(keras.Model(inputs, keras.layers.Dense(2, name="out")(x)))
    assert groups.count == 4 and "a" not in groups.left_whole
    inputs = keras.Input((None, 4))  # unknown length: the Reshape is opaque
    x = keras.layers.Reshape((-1, 4), name="r")(keras.layers.Dense(4, name="a")(inputs))
    groups = channel_groups(keras.Model(inputs, keras.layers.Dense(2, name="out")(x)))
    assert groups.count == 0
    assert groups.left_whole["a"] == ("it enters 'r' (Reshape), which structured pruning "
                                      "does not understand")


def test_a_layer_on_the_input_channels_is_left_whole_because_inputs_are_not_constant():
    inputs = keras.Input((5, 5, 3))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(x))
    groups = channel_groups(model)
    assert groups.left_whole["dw"] == "it is not constant after a model input"
    hidden = channel_groups(_coupled_pair_then_dense())
    d = next(m for m in hidden.members if m.slot.layer.name == "d")
    assert hidden.analysis.blocked_by(hidden.analysis.roots[d.slot.atoms[0]]) == ""


def test_a_layer_with_one_safe_channel_is_pruned_and_a_one_unit_output_is_left_whole():
    inputs = keras.Input((1,))
    a = keras.layers.Dense(1, name="a")(inputs)
    b = keras.layers.Dense(2, name="b")(inputs)
    # b's first channel is added to the model input (never constant): only its second, added
    # to a's one channel, can go.
    x = keras.layers.Add()([keras.layers.Concatenate()([inputs, a]), b])
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(x))
    groups = channel_groups(model)
    assert groups.count == 1 and groups.component.tolist() == [0]
    assert groups.left_whole == {"out": "it reaches a model output"}
    b_member = next(m for m in groups.members if m.slot.layer.name == "b")
    assert b_member.groups.tolist() == [-1, 0]


def test_coupled_sets_are_numbered_from_zero_in_order():
    inputs = keras.Input((3,))
    x = keras.layers.Dense(3, name="d")(keras.layers.Dense(2, name="a")(inputs))
    groups = channel_groups(keras.Model(inputs, keras.layers.Dense(1, name="out")(x)))
    assert groups.component.tolist() == [0, 0, 1, 1, 1]
    none = channel_groups(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]))
    assert none.count == 0 and none.component.dtype == np.int64 and none.component.size == 0


def test_the_what_if_weights_are_generic_so_unrelated_constants_never_cancel():
    # A pruned channel of p is sigmoid(0) = 0.5; the two depthwise convs (not pruned) map it
    # to constants whose difference reaches a zero-padded conv. Equal weights there would
    # cancel it to zero only by coincidence: training moves them apart.
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(2, 1, activation="sigmoid", name="p")(inputs)
    twins = [keras.layers.DepthwiseConv2D(1, name=n, bias_initializer="ones",
                                          depthwise_initializer="ones")(x) for n in ("a", "b")]
    x = keras.layers.Subtract()(twins)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same", name="out")(x))
    groups = channel_groups(kerasprune.prune(model, pattern=Channels(), layers=["p"]))
    assert groups.count == 0
    assert groups.left_whole == {"p": "a removed channel would carry a non-zero constant into "
                                      "'out', whose zero padding makes it position-dependent"}


def _reasons(model):
    """`ChannelAnalysis` of `model`'s current weights and a `why(atoms)` for its decision."""
    from kerasprune.structured.channel_analysis import ChannelAnalysis, graph_of

    analysis = ChannelAnalysis(graph_of(model))
    return analysis, lambda atoms: [analysis.blocked_by(analysis.roots[a]) for a in atoms]


@pytest.mark.parametrize("layer, kind", [
    (lambda: keras.layers.Conv2DTranspose(4, 3, padding="same", name="next"),
     "a transposed convolution"),
    (lambda: keras.layers.SeparableConv2D(4, 3, padding="same", name="next"),
     "a separable convolution"),
])
def test_only_zero_channels_may_enter_a_transposed_or_separable_conv(layer, kind):
    inputs = keras.Input((6, 6, 3))
    for activation, blocked in (("relu", False), ("sigmoid", True)):  # pruned: 0 or 0.5
        x = keras.layers.Conv2D(4, 1, activation=activation, name="a")(inputs)
        model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(layer()(x)))
        groups = channel_groups(model)
        assert ("a" in groups.left_whole) == blocked
    assert groups.left_whole["a"] == (
        f"a removed channel would carry a non-zero constant into 'next' ({kind})")


@pytest.mark.parametrize("layer", [
    lambda: keras.layers.Conv1DTranspose(5, 3, activation="sigmoid", use_bias=False, name="up"),
    lambda: keras.layers.SeparableConv1D(5, 3, activation="sigmoid", use_bias=False, name="up"),
])
def test_1d_transposed_and_separable_outputs_without_bias(layer):
    inputs = keras.Input((6, 3))
    x = layer()(keras.layers.Conv1D(2, 1, activation="relu", name="a")(inputs))
    model = keras.Model(inputs, keras.layers.Conv1D(2, 1, name="out")(x))
    groups = channel_groups(model)
    assert groups.count == 2 + 5 and set(groups.left_whole) == {"out"}
    # A pruned output channel is sigmoid(0) = 0.5: a zero-padded conv cannot take it.
    padded = keras.Model(inputs, keras.layers.Conv1D(2, 3, padding="same", name="out")(x))
    assert "up" in channel_groups(padded).left_whole


def test_attention_heads_are_dead_when_their_value_or_output_slice_is_zero():
    inputs = keras.Input((5, 8))
    embed = keras.layers.Dense(8, name="embed")(inputs)
    mha = keras.layers.MultiHeadAttention(num_heads=3, key_dim=2, name="mha")
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(mha(embed, embed)))
    weights = {v.path.split("/", 1)[1]: v for v in mha.weights}
    value = weights["value/kernel"].numpy()
    value[:, 1, :] = 0.0
    weights["value/kernel"].assign(value)
    analysis, why = _reasons(model)
    assert why(analysis.internal(mha)) == ["a head of 'mha' still adds to its output", "",
                                           "a head of 'mha' still adds to its output"]
    groups = channel_groups(model)
    assert groups.left_whole["embed"] == (
        "it enters the attention layer 'mha', whose input width is kept")


def test_a_transformer_encoder_prunes_only_dead_heads_and_feed_forward_units():
    import keras_hub

    inputs = keras.Input((4, 8))
    embed = keras.layers.Dense(8, name="embed")(inputs)
    encoder = keras_hub.layers.TransformerEncoder(intermediate_dim=4, num_heads=2, name="enc")
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(encoder(embed)))
    weights = {v.path.split("/", 1)[1]: v for v in encoder.weights}
    down = weights["feedforward_output_dense/kernel"].numpy()
    down[1] = 0.0  # unit 1 adds nothing, whatever its input
    weights["feedforward_output_dense/kernel"].assign(down)
    rows = weights["self_attention_layer/attention_output/kernel"].numpy()
    rows[0] = 0.0  # so does head 0
    weights["self_attention_layer/attention_output/kernel"].assign(rows)
    analysis, why = _reasons(model)
    heads, units = np.split(analysis.internal(encoder), [2])
    assert why(heads) == ["", "a head of 'enc' still adds to its output"]
    live = "a feed-forward unit of 'enc' is not constant"
    assert why(units) == [live, "", live, live]
    groups = channel_groups(model)
    assert groups.left_whole["embed"] == "it enters the encoder block 'enc', whose width is kept"


def _one_dense(pattern, **options):
    """Dense 'a' (3 -> 4) whose channel j has |w| = j + 1 everywhere: L1 ranks 0 < 1 < 2 < 3."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="a")])
    model.get_layer("a").set_weights([np.tile(np.arange(1.0, 5.0, dtype="float32"), (3, 1)),
                                      np.ones(4, "float32")])
    (wrapper,) = kerasprune.prune_wrappers(kerasprune.prune(model, pattern=pattern, **options))
    return wrapper


def _layer_masks(wrapper, sparsity, final=None, **data):
    """The masks `select_layers` chooses for one wrapper (channels of one layer alone)."""
    from kerasprune.core.selectors import ToTarget
    from kerasprune.structured.group_selection import select_layers

    final = sparsity if final is None else final
    return [m for _, m in select_layers([wrapper], sparsity, final, ToTarget(**data))]


def _group_masks(model, wrapper, sparsity, final=None, **data):
    """The masks `select_groups` chooses for one wrapper of `model`."""
    from kerasprune.core.selectors import ToTarget
    from kerasprune.structured.group_selection import select_groups

    final = sparsity if final is None else final
    return [m for _, m in select_groups(model, [wrapper], sparsity, final, ToTarget(**data))]


def test_per_layer_masks_follow_the_layer_target_and_mask_the_bias_too():
    plain = Channels("l1", normalize="none", min_channels=0)
    wrapper = _one_dense(plain, sparsity_overrides={"a": 0.5})
    # The override is reached at the final sparsity: half-way there, a quarter.
    kernel, bias = _layer_masks(wrapper, 0.25, 0.5)[0]
    assert kernel.dtype == bias.dtype == np.float32
    assert channels_kept(kernel).tolist() == [False, True, True, True]
    assert bias.tolist() == [0.0, 1.0, 1.0, 1.0]
    # Without a final sparsity the current one is final: the override itself.
    kernel, _ = _layer_masks(wrapper, 0.25)[0]
    assert channels_kept(kernel).tolist() == [False, False, True, True]


def test_per_layer_masks_pass_the_criterion_data_of_each_kernel():
    wrapper = _one_dense(Channels("taylor", normalize="none", min_channels=0))
    gradient = np.zeros((3, 4), "float32")
    gradient[:, 0] = 1.0  # only channel 0 matters to the loss
    (kernel, _), = _layer_masks(wrapper, 0.75,
                                gradients={wrapper.layer.kernel.path: [gradient]})
    assert channels_kept(kernel).tolist() == [True, False, False, False]
    wrapper = _one_dense(Channels("apoz", normalize="none", min_channels=0))
    activity = ChannelActivity(np.array([0.0, 0.9, 0.1, 0.5]), np.ones(4))
    (kernel, _), = _layer_masks(wrapper, 0.5, activations={wrapper.layer.kernel.path: activity})
    assert channels_kept(kernel).tolist() == [True, False, True, False]


@pytest.mark.parametrize("target, sparsity, removed", [
    ("flops", 0.5, 4), ("params", 0.5, 4), ("flops", 0.875, 7)])
def test_a_cost_target_removes_the_fewest_groups_that_meet_it_exactly(target, sparsity, removed):
    # a: 8 units of 4 MACs / 5 parameters each, feeding 2 MACs / 2 parameters of out
    # (no bias): the dense model is 48 MACs, 56 parameters; half of either is 4 units,
    # 1/8 of the MACs one unit.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="a"),
                              keras.layers.Dense(2, use_bias=False, name="out")])
    model.get_layer("a").set_weights([np.tile(np.arange(1.0, 9.0, dtype="float32"), (4, 1)),
                                      np.zeros(8, "float32")])
    pruned = kerasprune.prune(model, pattern=Channels(target=target, min_channels=0),
                              exclude=["out"])
    kerasprune.update_masks(pruned, sparsity)
    assert kept(pruned, "a").tolist() == [False] * removed + [True] * (8 - removed)


def test_a_cost_target_reached_only_by_removing_everything_warns_only_when_missed():
    # Removing a's 2 units leaves out's 4 biases: 4 of 16 parameters.
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2, name="a"),
                              keras.layers.Dense(4, name="out")])
    pattern = Channels(target="params", min_channels=0)
    pruned = kerasprune.prune(model, pattern=pattern, exclude=["out"])
    emptied = "These weights are now fully pruned: ['a/kernel', 'a/bias']"
    with pytest.warns(UserWarning) as record:
        kerasprune.update_masks(pruned, 0.75)  # exactly reached, by emptying a
    assert [str(w.message)[:len(emptied)] for w in record] == [emptied]
    assert not kept(pruned, "a").any()
    message = ("Channels(target='params'): removing every prunable channel group leaves "
               "0.250 of the dense model's params, above the target 0.100.")
    pruned = kerasprune.prune(model, pattern=pattern, exclude=["out"])
    with pytest.warns(UserWarning) as record:
        kerasprune.update_masks(pruned, 0.9)
    assert [str(w.message) for w in record][0] == message
    assert [str(w.message)[:len(emptied)] for w in record][1:] == [emptied]
    assert not kept(pruned, "a").any()


def test_a_layer_shared_by_a_nested_model_and_its_parent_is_refused():
    shared = keras.layers.Dense(4, name="shared")
    block = keras.Sequential([keras.Input((4,)), shared], name="block")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, shared(block(inputs)), name="outer")
    message = (r"^Layer 'shared' is called more than once in model 'outer': channels of a "
               r"shared layer cannot be removed\.$")
    with pytest.raises(ValueError, match=message):
        channel_groups(model)


def test_an_elementwise_op_on_two_tensors_couples_their_channels():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="a")(inputs) * keras.layers.Dense(3, name="b")(inputs)
    groups = channel_groups(keras.Model(inputs, keras.layers.Dense(2, name="out")(x)))
    assert str(groups).splitlines()[:2] == ["3 channel groups in 1 sets of coupled layers",
                                            "  3 groups couple a, b"]


def test_a_constant_operand_that_varies_along_another_axis_makes_channels_not_constant():
    inputs = keras.Input((4, 2))
    x = keras.layers.Dense(3, name="a")(inputs)
    x = keras.ops.add(x, np.arange(4.0, dtype="float32").reshape(4, 1))  # a per-row offset
    groups = channel_groups(keras.Model(inputs, keras.layers.Dense(2, name="out")(x)))
    assert groups.count == 0
    assert groups.left_whole["a"].startswith("it is not constant after '")
    assert groups.left_whole["a"].endswith("' (Add)")


def test_a_depthwise_conv_without_bias_follows_the_channels():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(3, 1, activation="relu", name="c")(inputs)
    x = keras.layers.DepthwiseConv2D(3, use_bias=False, name="dw")(x)
    groups = channel_groups(keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(x)))
    assert groups.count == 3 and set(groups.left_whole) == {"out"}


def _dense_before_out(pattern, kernel=None, **options):
    """Dense 'a' (3 -> 4, channel j of |w| = j + 1 by default: L1 ranks 0 < 1 < 2 < 3)
    feeding an excluded 'out', pruned with `pattern`."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(2, name="out")])
    if kernel is None:
        kernel = np.tile(np.arange(1.0, 5.0, dtype="float32"), (3, 1))
    model.get_layer("a").set_weights([kernel, np.ones(4, "float32")])
    pruned = kerasprune.prune(model, pattern=pattern, exclude=["out"], **options)
    (wrapper,) = kerasprune.prune_wrappers(pruned)
    return pruned, wrapper


def test_group_masks_follow_the_layer_target_of_an_override_and_mask_the_bias_too():
    plain = Channels("l1", normalize="none", min_channels=0)
    pruned, wrapper = _dense_before_out(plain, sparsity_overrides={"a": 0.5})
    # The override is reached at the final sparsity: half-way there, a quarter.
    kernel, bias = _group_masks(pruned, wrapper, 0.25, 0.5)[0]
    assert kernel.dtype == bias.dtype == np.float32
    assert channels_kept(kernel).tolist() == [False, True, True, True]
    assert bias.tolist() == [0.0, 1.0, 1.0, 1.0]
    # Without a final sparsity the current one is final: the override itself.
    kernel, _ = _group_masks(pruned, wrapper, 0.25)[0]
    assert channels_kept(kernel).tolist() == [False, False, True, True]


@pytest.mark.parametrize("grouped", [True, False])
def test_a_channel_already_pruned_counts_toward_the_target_before_an_equally_low_one(grouped):
    from kerasprune.core.mask_update import write_masks

    kernel = np.tile(np.array([0.0, 2.0, 3.0, 4.0], "float32"), (3, 1))  # channel 0 is dead
    pruned, wrapper = _dense_before_out(Channels("l1", min_channels=0), kernel)
    write_masks({wrapper: [np.tile(np.array([1, 1, 1, 0], "float32"), (3, 1)),
                           np.array([1, 1, 1, 0], "float32")]})  # channel 3 is pruned
    if grouped:
        (masks,) = _group_masks(pruned, wrapper, 0.25)
    else:
        (masks,) = _layer_masks(wrapper, 0.25)
    # Both score 0 and channel 0 comes first, but the quarter is already pruned.
    assert channels_kept(masks[0]).tolist() == [True, True, True, False]


def test_group_masks_pass_the_criterion_data_of_each_scored_weight():
    gradient = np.zeros((3, 4), "float32")
    gradient[:, 0] = 1.0  # only channel 0 matters to the loss
    pruned, wrapper = _dense_before_out(Channels("taylor", normalize="none", min_channels=0))
    kerasprune.update_masks(pruned, 0.75, gradients={wrapper.layer.kernel.path: [gradient]})
    assert kept(pruned, "a").tolist() == [True, False, False, False]
    pruned, wrapper = _dense_before_out(Channels("apoz", normalize="none", min_channels=0))
    activity = ChannelActivity(np.array([0.0, 0.9, 0.1, 0.5]), np.ones(4))
    kerasprune.update_masks(pruned, 0.5, activations={wrapper.layer.kernel.path: activity})
    assert kept(pruned, "a").tolist() == [True, False, True, False]


def test_each_lone_layer_rounds_its_target_to_whole_channels():
    inputs = keras.Input((8, 8, 3))
    x = conv(inputs, 3, "a", activation="relu")
    x = conv(x, 3, "b", activation="relu")
    model = randomize(keras.Model(inputs, conv(x, 2, "out")))
    pruned, _ = prune_shrink(model, sparsity=0.5)
    # round(0.5 * 3) = 2 channels of each go.
    assert kept(pruned, "a").sum() == kept(pruned, "b").sum() == 1


def test_mean_groups_of_two_layers_compete_with_single_layer_groups_by_their_mean():
    # a, b and r score their channels (mean |w|) a = [1, 4], b = [3, 4], r = [2.5, 3.5]:
    # the a+b groups (2 channels each) have means [2, 4]. Globally the lowest go until
    # half of the 6 channels: the first a+b group (2 channels) and r's first (1 channel).
    inputs = keras.Input((4,))
    a = keras.layers.Dense(2, name="a")(inputs)
    b = keras.layers.Dense(2, name="b")(inputs)
    r = keras.layers.Dense(2, name="r")(keras.layers.Add()([a, b]))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(r))
    for name, columns in {"a": [1.0, 4.0], "b": [3.0, 4.0], "r": [2.5, 3.5]}.items():
        layer = model.get_layer(name)
        kernel = np.ones(layer.kernel.shape, "float32") * np.array(columns, "float32")
        layer.set_weights([kernel, np.zeros(2, "float32")])
    pruned = kerasprune.prune(model, pattern=Channels("l1", combine="mean", min_channels=0),
                              exclude=["out"], scope="global")
    kerasprune.update_masks(pruned, 0.5)
    assert [kept(pruned, name).tolist() for name in "abr"] == [[False, True]] * 3


@pytest.mark.parametrize("min_density", [0.0, 0.01])
def test_a_one_channel_layer_competes_in_global_scope_above_its_floor(min_density):
    # a's single channel (mean |w| 1) is the lowest of the 4 channels: without a floor it
    # and b's lowest go (a emptied, with a warning); the default floor keeps one channel
    # of every layer, so b loses its two lowest instead.
    inputs = keras.Input((4,))
    a = keras.layers.Dense(1, name="a")(inputs)
    b = keras.layers.Dense(3, name="b")(inputs)
    x = keras.layers.Concatenate()([a, b])
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    model.get_layer("a").set_weights([np.ones((4, 1), "float32"), np.zeros(1, "float32")])
    model.get_layer("b").set_weights([np.ones((4, 3), "float32") * np.array([4.0, 2.0, 3.0],
                                                                            "float32"),
                                      np.zeros(3, "float32")])
    pruned = kerasprune.prune(model, pattern=Channels("l1", min_channels=0), exclude=["out"],
                              scope="global", min_density=min_density)
    if min_density:
        kerasprune.update_masks(pruned, 0.5)
        assert kept(pruned, "a").tolist() == [True]
        assert kept(pruned, "b").tolist() == [True, False, False]
        return
    with pytest.warns(UserWarning, match=r"^These weights are now fully pruned: \['a/kernel'"):
        kerasprune.update_masks(pruned, 0.5)
    assert kept(pruned, "a").tolist() == [False]
    assert kept(pruned, "b").tolist() == [True, False, True]


def test_separately_pruned_models_with_different_combine_are_refused_together():
    def block(name, combine):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name=f"{name}_h"),
                                  keras.layers.Dense(4, name=f"{name}_o")], name=name)
        return kerasprune.prune(model, pattern=Channels(combine=combine),
                                exclude=[f"{name}_o"])

    inputs = keras.Input((4,))
    x = block("b", "max")(block("a", "sum")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    message = ("Channel groups span layers, so every channel-pruned layer must use the same "
               "`combine` and `target`. Received: [('max', 'channels'), ('sum', 'channels')]")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kerasprune.update_masks(model, 0.5)


class _Gate(keras.layers.Layer):
    """Output channel j is the learned constant gamma[j]."""

    def build(self, shape):
        self.gamma = self.add_weight(shape=(shape[-1],), name="gamma", initializer="ones")

    def call(self, x):
        return keras.ops.zeros_like(x) + self.gamma


def _register_gate(channels=None):
    """A rule for `_Gate`: a channel of a masked gamma is exactly zero, so its groups are
    safe, but gamma only follows the decision (it scores nothing). Its slot holds the
    output's first `channels` channels (all by default)."""
    from kerasprune.structured.layer_rules import ChannelSlot, LayerRule, register_layer_rule

    class GateRule(LayerRule):
        single_input = True

        def propagate(self, analysis, layer, inputs, output):
            gamma = analysis.weight(layer, "gamma")
            analysis.fresh(output, np.where(gamma == 0, 0.0, np.nan))

        def slots(self, analysis, layer, inputs, output):
            return [ChannelSlot(layer, analysis.atoms(output)[:channels], {"gamma": 0})]

    kerasprune.register_prunable(_Gate, ["gamma"])
    register_layer_rule(_Gate, GateRule())


def test_a_rule_whose_slot_holds_no_channel_leaves_nothing_to_name(scratch_registries):
    _register_gate(channels=0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(_Gate(name="gate")(inputs)))
    groups = channel_groups(kerasprune.prune(model, pattern=Channels(), exclude=["out"]))
    assert groups.count == 0 and groups.left_whole == {}


def test_groups_that_no_pruned_weight_scores_are_never_pruned_and_their_layer_is_named(
        scratch_registries):
    _register_gate()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(_Gate(name="gate")(inputs)))
    pruned = kerasprune.prune(model, pattern=Channels(min_channels=0), exclude=["out"])
    assert channel_groups(pruned).count == 4
    reason = "no pruned weight scores its channel groups (its masked weights only follow)"
    message = ("Channel pruning leaves these pruned layers whole (no channel of theirs can be "
               f"removed exactly): {{'gate': '{reason}'}}")
    with pytest.warns(LayersLeftWholeWarning, match=f"^{re.escape(message)}$"):
        kerasprune.update_masks(pruned, 0.5)
    (wrapper,) = kerasprune.prune_wrappers(pruned)
    assert np.asarray(wrapper.masks[0]).tolist() == [1.0] * 4


def test_a_layer_whose_only_unscored_group_is_the_models_first_is_named_too(scratch_registries):
    _register_gate()
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(_Gate(name="gate")(inputs)))
    pruned = kerasprune.prune(model, pattern=Channels(min_channels=0), exclude=["out"])
    assert channel_groups(pruned).count == 1
    with pytest.warns(LayersLeftWholeWarning, match="'gate'"):
        kerasprune.update_masks(pruned, 0.5)


def test_printing_the_groups_lists_every_set_of_layers_and_each_layer_left_whole():
    inputs = keras.Input((4,))
    x = keras.layers.Add()([keras.layers.Dense(3, name="a")(inputs),
                            keras.layers.Dense(3, name="b")(inputs)])
    x = keras.layers.Dense(5, name="hidden")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    assert str(channel_groups(model)).splitlines() == [
        "8 channel groups in 2 sets of coupled layers",
        "  3 groups couple a, b",
        "  5 groups in hidden alone",
        "  left whole: out: it reaches a model output",
    ]


def test_a_target_the_per_layer_caps_keep_from_reaching_is_named():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(32, name="a"),
                              keras.layers.Dense(2, name="out")])
    pruned = kerasprune.prune(model, pattern=Channels("l1", min_channels=64), exclude=["out"])
    with pytest.warns(UserWarning, match=r"not reached: the channels of a: 0.0000 of 0.5000\. "
                                         r"Their patterns protect .*`min_channels`"):
        kerasprune.update_masks(pruned, 0.5)
    assert kept(pruned, "a").all()
