"""One spec per layer type: what is prunable, and one count of multiply-accumulates that the
report, the channel costs and the FLOPs targets all read."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core import registry
from kerasprune.core.report import multiply_accumulates
from kerasprune.structured.channel_groups import ChannelGroups


def _conv_net():
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, name="dw")(x)
    x = keras.layers.SeparableConv2D(6, 3, name="sep")(x)
    x = keras.layers.Conv2DTranspose(4, 3, strides=2, name="up")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))


def _attention_net():
    inputs = keras.Input((5, 8))
    x = keras.layers.MultiHeadAttention(2, 4, value_dim=3, name="mha")(inputs, inputs)
    x = keras.layers.Dense(6, name="ffn")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(x))


@pytest.mark.parametrize("build", [_conv_net, _attention_net])
def test_the_report_and_the_channel_costs_count_the_same_macs(build):
    model = build()
    report = kerasprune.sparsity_report(model)
    groups = ChannelGroups(model)
    macs, _ = groups.cost(np.zeros(groups.count, dtype=bool))
    assert macs == report.dense_macs > 0


def test_attention_scores_are_counted_once_per_head_and_pair_of_positions():
    rows = {r.layer: r.dense for r in multiply_accumulates(_attention_net())}
    # 5 queries x 5 values x 2 heads x (key 4 + value 3): the products without weights
    assert rows["mha"] == 5 * 5 * 2 * (4 + 3)
    assert rows["query"] == 5 * 8 * 2 * 4 and rows["attention_output"] == 5 * 2 * 3 * 8


def test_a_layer_type_is_taught_its_macs_once_for_the_report_and_the_channel_cost():
    class Scale(keras.layers.Dense):
        """A Dense subclass: it inherits Dense's spec (prunable kernel, MACs, channel rule)."""

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(Scale(3, name="s")(inputs)))
    rows = {r.layer: r.dense for r in multiply_accumulates(model)}
    assert rows["s"] == 12
    groups = ChannelGroups(model)
    assert groups.cost(np.zeros(groups.count, dtype=bool))[0] == 12 + 6


def test_kerasprune_and_tfmot_defaults_sit_side_by_side():
    separable = keras.layers.SeparableConv2D(4, 3)
    separable.build((None, 8, 8, 3))
    assert registry.prunable_weight_names(separable) == ("depthwise_kernel", "pointwise_kernel")
    assert registry.prunable_weight_names(separable, convention="tfmot") == ("pointwise_kernel",)
    dense = keras.layers.Dense(2)
    assert registry.prunable_weight_names(dense, convention="tfmot") == ("kernel",)


def test_a_spec_fact_comes_from_the_nearest_class_that_states_it(scratch_registries):
    class Wide(keras.layers.Dense):
        pass

    kerasprune.register_prunable(Wide, ["kernel", "bias"])
    assert registry.fact(Wide(2), "prunable") == ("kernel", "bias")
    assert registry.fact(Wide(2), "positions") is registry.each_position  # from Dense
    assert registry.fact(keras.layers.Dense(2), "prunable") == ("kernel",)
