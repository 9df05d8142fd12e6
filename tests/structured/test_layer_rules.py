"""How single layers move channels in the channel analysis (each layer's `LayerRule`)."""

import re

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.structured.channel_analysis import ChannelAnalysis, decide, graph_of
from kerasprune.structured.layer_rules import (
    activate,
    apply_known,
    channels,
    is_pointwise,
    positions,
    rule_for,
)
from tests.helpers import subclassed_dense


def test_a_conv_with_one_filter_on_one_channel_makes_a_new_channel():
    # groups == filters == channels == 1 is an ordinary conv, not a depthwise one.
    inputs = keras.Input((6, 6, 3))
    a = keras.layers.Conv2D(1, 1, name="a")(inputs)
    b = keras.layers.Conv2D(1, 3, name="b")(a)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(b))

    analysis = ChannelAnalysis(graph_of(model))

    assert analysis.roots[analysis.atoms(a)[0]] != analysis.roots[analysis.atoms(b)[0]]


def test_graph_of_names_a_model_without_a_graph_and_how_to_give_it_one():
    sequential = keras.Sequential([keras.layers.Dense(2)], name="seq")
    message = ("Sequential model 'seq' has no known input shape: start it with "
               "keras.Input(shape) so that its graph of layers can be followed.")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        graph_of(sequential)

    message = ("Model 'tower' of type SubclassedDense is subclassed: channels can only be "
               "followed (and removed) in Functional or Sequential models, whose graph of "
               "layers is known.")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        graph_of(subclassed_dense("tower"))


def _dense_chain(*layers):
    inputs = keras.Input((4,))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


def test_rule_for_leaves_channels_first_layers_and_grouped_convs_opaque():
    from kerasprune.structured.conv_rules import DepthwiseRule, MixerRule

    x = keras.Input((8, 8, 4))
    assert rule_for(keras.layers.Conv2D(4, 3, data_format="channels_first"), [x]) is None
    assert type(rule_for(keras.layers.Conv2D(4, 3), [x])) is MixerRule
    assert rule_for(keras.layers.Conv2D(4, 3, groups=2), [x]) is None
    assert type(rule_for(keras.layers.Conv2D(4, 3, groups=4), [x])) is DepthwiseRule
    assert rule_for(keras.layers.Add(), [x]) is None  # a rule for merging inputs
    assert rule_for(keras.layers.Add(), [x, x]) is not None
    assert rule_for(keras.layers.Dense(2), [x, x]) is None  # a single-input rule


def test_zero_padding_decides_whether_a_conv_folds_a_constant_channel():
    from kerasprune.structured.conv_rules import folds_constants

    assert folds_constants(keras.layers.Dense(3))
    assert folds_constants(keras.layers.Conv2D(3, 3, padding="valid"))
    assert folds_constants(keras.layers.Conv2D(3, 1, padding="same"))
    assert folds_constants(keras.layers.Conv2D(3, (1, 1), padding="same"))
    assert not folds_constants(keras.layers.Conv2D(3, (1, 3), padding="same"))
    assert not folds_constants(keras.layers.Conv1D(3, 2, padding="causal"))


def test_activate_applies_pointwise_activations_and_forgets_other_ones():
    values = np.array([0.0, np.nan, -2.0])
    assert activate(keras.layers.Flatten(), values) is values  # no activation attribute
    relu = activate(keras.layers.Dense(3, activation="relu"), values)
    assert np.array_equal(relu, [0.0, np.nan, 0.0], equal_nan=True)
    sigmoid = activate(keras.layers.Dense(3, activation="sigmoid"), values)
    assert sigmoid.dtype == np.float64 and sigmoid[0] == 0.5 and np.isnan(sigmoid[1])
    softmax = activate(keras.layers.Dense(3, activation="softmax"), values)
    assert np.isnan(softmax).all()  # mixes the channels: no constant survives it

    def custom(x):
        return x * 2

    assert np.isnan(activate(keras.layers.Dense(3, activation=custom), values)).all()
    assert is_pointwise(keras.activations.gelu) and not is_pointwise(custom)


def test_apply_known_keeps_unknown_channels_unknown_and_computes_in_float32():
    result = apply_known(lambda x: x + 1, np.array([1.0, np.nan, 2.0]))
    assert result.dtype == np.float64 and result.shape == (3,)
    assert np.array_equal(result, [2.0, np.nan, 3.0], equal_nan=True)
    seen = []
    apply_known(lambda x: seen.append(x) or x, np.array([np.nan, 0.1]))
    assert seen[0].dtype == np.float32 and seen[0].shape == (1, 2)
    assert seen[0].tolist() == [[0.0, np.float32(0.1)]]


def test_channels_counts_the_last_axis_and_zero_when_unknown_or_scalar():
    assert channels(keras.Input((5, 3))) == 3
    assert channels(keras.Input((5, None))) == 0
    assert channels(keras.KerasTensor(())) == 0
    assert positions(keras.Input((5, 7, 3))) == 35 and positions(keras.Input((None, 3))) == 1


def test_a_layer_that_is_not_understood_pins_its_inputs_and_makes_new_channels():
    dense = keras.layers.Dense(3, name="a", kernel_initializer="zeros")  # removable but for ln
    model = _dense_chain(dense, keras.layers.LayerNormalization(name="ln"),
                         keras.layers.Dense(2, name="out"))
    analysis = ChannelAnalysis(graph_of(model))
    norm_call = next(c for c in analysis.calls.values() if c.layer.name == "ln")
    assert norm_call.rule is None and norm_call.output is not None
    assert len(norm_call.inputs) == 1
    a_atoms = analysis.atoms(dense.output)
    why = [analysis.blocked_by(analysis.roots[atom]) for atom in a_atoms]
    assert why == ["it enters 'ln' (LayerNormalization), which structured pruning does not "
                   "understand"] * 3
    ln_atoms = analysis.atoms(norm_call.output)
    assert np.isnan(analysis.values(norm_call.output)).all()
    assert analysis.blocked_by(analysis.roots[ln_atoms[0]]) == (
        "it is not constant after 'ln' (LayerNormalization), whose outputs are not followed")
    assert not set(analysis.roots[ln_atoms]) & set(analysis.roots[a_atoms])


def test_a_wrapped_layer_is_seen_through_by_the_analysis():
    model = kerasprune.prune(_dense_chain(keras.layers.Dense(3, name="a"),
                                          keras.layers.Dense(2, name="out")))
    analysis = ChannelAnalysis(graph_of(model))
    layers = {type(c.layer).__name__ for c in analysis.calls.values()}
    assert layers == {"Dense"}
    assert all(c.rule is not None for c in analysis.calls.values())


def test_the_decision_keeps_a_tensors_first_channel_when_all_of_it_could_go():
    dense = keras.layers.Dense(3, name="a", kernel_initializer="zeros")
    model = _dense_chain(dense, keras.layers.Dense(2, name="out"))
    analysis = ChannelAnalysis(graph_of(model))
    atoms = analysis.atoms(dense.output)
    assert analysis.removable[analysis.roots[atoms]].tolist() == [True, True, True]
    decision = decide(analysis)
    assert decision.keep(dense.output).tolist() == [True, False, False]
    assert decision.removed.dtype == bool and decision.removed.size == analysis.roots.size
    assert analysis.roots.dtype == np.int64
    assert not hasattr(analysis, "removed")  # deciding leaves the analysis as it was


def test_a_layer_with_several_outputs_is_opaque_and_each_output_gets_channels():
    inputs = keras.Input((6, 4))
    attention = keras.layers.MultiHeadAttention(2, 3, name="mha")
    values, scores = attention(inputs, inputs, return_attention_scores=True)
    model = keras.Model(inputs, [keras.layers.Dense(2)(values), keras.layers.Dense(2)(scores)])
    analysis = ChannelAnalysis(graph_of(model))
    (call,) = [c for c in analysis.calls.values() if c.layer.name == "mha"]
    assert call.output is None and call.rule is None
    assert analysis.blocked_by(analysis.roots[analysis.atoms(inputs)[0]]) == (
        "it is not constant after a model input")
    assert analysis.atoms(values).size == 4 and analysis.atoms(scores).size == 6
    assert analysis.blocked_by(analysis.roots[analysis.atoms(scores)[0]]) == (
        "it is not constant after 'mha' (MultiHeadAttention), whose outputs are not followed")


def test_a_channel_blocked_for_several_reasons_is_named_by_the_first():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.ReLU()(inputs)])
    analysis = ChannelAnalysis(graph_of(model))
    relu_out = model.outputs[1]
    assert (analysis.roots[analysis.atoms(relu_out)] == analysis.roots[
        analysis.atoms(inputs)]).all()  # one channel: the input's, also a model output
    assert [analysis.blocked_by(r) for r in analysis.roots[analysis.atoms(inputs)]] == [
        "it is not constant after a model input"] * 3


def test_a_custom_rule_gets_the_calls_inputs_and_output_in_each_hook(scratch_registries):
    from kerasprune.structured.layer_rules import LayerRule, register_layer_rule

    class Scale(keras.layers.Layer):
        def call(self, x):
            return 2.0 * x

    seen = []

    class ScaleRule(LayerRule):
        single_input = True

        def propagate(self, analysis, layer, inputs, output):
            seen.append(("propagate", inputs, output))
            analysis.assign(output, analysis.atoms(inputs[0]), 2.0 * analysis.values(inputs[0]))

        def slots(self, analysis, layer, inputs, output):
            seen.append(("slots", inputs, output))
            return []

    register_layer_rule(Scale, ScaleRule())
    inputs = keras.Input((3,))
    hidden = Scale()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    ChannelAnalysis(graph_of(model))
    assert [(hook, [id(t) for t in ins], id(out)) for hook, ins, out in seen] == [
        (hook, [id(inputs)], id(hidden)) for hook in ("propagate", "slots")]
