"""How single layers move channels in the channel analysis (each layer's `LayerRule`)."""

import keras

from kerasprune.structured.channel_analysis import ChannelAnalysis, graph_of


def test_a_conv_with_one_filter_on_one_channel_makes_a_new_channel():
    # groups == filters == channels == 1 is an ordinary conv, not a depthwise one.
    inputs = keras.Input((6, 6, 3))
    a = keras.layers.Conv2D(1, 1, name="a")(inputs)
    b = keras.layers.Conv2D(1, 3, name="b")(a)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(b))

    analysis = ChannelAnalysis(graph_of(model))

    assert analysis.roots[analysis.atoms(a)[0]] != analysis.roots[analysis.atoms(b)[0]]
