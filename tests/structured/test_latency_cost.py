"""Latency targets for channel pruning, with latency tables given as data: the prediction
(grid and interpolation), the selection that meets it, the ranking by importance per
microsecond, and the calibration by measured ratios."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.structured.channel_groups import ChannelGroups
from kerasprune.structured.latency_cost import (
    Calibration,
    LatencyCost,
    calibrated_selection,
    grid,
)

L = keras.layers


def work_table(scale=None):
    """Microseconds proportional to each layer's multiply-accumulates (bilinear in its
    channel counts, so interpolating on the grid is exact); `scale` by layer name."""
    scale = scale or {}
    asked = []

    def table(requests):
        asked.extend(requests)
        values = []
        for r in requests:
            config, n_in = r.layer["config"], r.input_shape[-1]
            spatial = int(np.prod(r.input_shape[:-1]))
            kernel = int(np.prod(config.get("kernel_size", (1,))))
            out = config.get("filters", config.get("units", n_in))
            depthwise = r.layer["class_name"] == "DepthwiseConv2D"
            work = spatial * kernel * n_in * (1 if depthwise else out)
            values.append(work / 100 * scale.get(config.get("kernel_size", ("dense",))[0], 1))
        return values

    table.asked = asked
    return table


def convnet():
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="a")(inputs)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.Conv2D(24, 1, activation="relu", name="b")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(10, name="logits")(x))


def exact_latency(model):
    """What `work_table` gives the shrunk model's layers, summed."""
    table = work_table()
    cost = LatencyCost(ChannelGroups(kerasprune.prune(
        model, pattern=kerasprune.Channels(target="latency"), exclude=["logits"])), table)
    return cost.dense


def test_the_prediction_is_the_table_interpolated_on_each_layers_grid():
    model = convnet()
    table = work_table()
    cost = LatencyCost(ChannelGroups(kerasprune.prune(
        model, pattern=kerasprune.Channels(target="latency"), exclude=["logits"])), table)
    # a: 3 fixed inputs x 5 output counts; dw: 5; b: 5 x 5; logits: 5 inputs x 10 fixed.
    assert len(table.asked) == 5 + 5 + 25 + 5
    assert cost.dense == pytest.approx(64 * 9 * 3 * 16 / 100 + 64 * 9 * 16 / 100
                                       + 64 * 16 * 24 / 100 + 24 * 10 / 100)
    pruned = np.zeros(ChannelGroups(kerasprune.prune(
        model, pattern=kerasprune.Channels(), exclude=["logits"])).count, dtype=bool)
    pruned[:7] = True  # 7 of a's 16 channels (with dw's), exact between grid points
    assert cost(pruned) == pytest.approx(64 * 9 * 3 * 9 / 100 + 64 * 9 * 9 / 100
                                         + 64 * 9 * 24 / 100 + 24 * 10 / 100)


def test_a_latency_target_is_met_by_the_prediction():
    model = convnet()
    table = work_table()
    pruned = kerasprune.prune(model, pattern=kerasprune.Channels(
        target="latency", latency_table=table), exclude=["logits"])
    kerasprune.update_masks(pruned, 0.5)
    dense, small = exact_latency(model), exact_latency(kerasprune.shrink(pruned))
    assert 0.45 * dense <= small <= 0.5 * dense


def test_global_scope_removes_the_channels_of_least_importance_per_microsecond():
    inputs = keras.Input((8, 8, 3))
    left = L.Conv2D(16, 3, padding="same", name="left")(inputs)
    right = L.Conv2D(16, 1, name="right")(inputs)
    x = L.Concatenate()([left, right])
    model = keras.Model(inputs, L.Dense(4, name="logits")(L.GlobalAveragePooling2D()(x)))
    for layer in (model.get_layer("left"), model.get_layer("right")):  # equal importance
        layer.kernel.assign(np.ones(layer.kernel.shape) / np.prod(layer.kernel.shape[:-1]))

    def kept(scale):
        pattern = kerasprune.Channels(target="latency", latency_table=work_table(scale))
        pruned = kerasprune.prune(model, pattern=pattern, exclude=["logits"], scope="global")
        kerasprune.update_masks(pruned, 0.4)
        small = kerasprune.shrink(pruned)
        return small.get_layer("left").filters, small.get_layer("right").filters

    # 3x3 "left" costs 9x per channel in plain work; priced 100x dearer, it loses more.
    left_dear, right_dear = kept({3: 100.0}), kept({1: 100.0})
    assert left_dear[0] < left_dear[1] and right_dear[1] < right_dear[0]


def test_a_table_that_does_not_answer_each_request_is_refused():
    pattern = kerasprune.Channels(target="latency", latency_table=lambda requests: [1.0])
    pruned = kerasprune.prune(convnet(), pattern=pattern, exclude=["logits"])
    with pytest.raises(ValueError, match="one finite number >= 0 of microseconds per request"):
        kerasprune.update_masks(pruned, 0.5)
    with pytest.raises(TypeError, match="`latency_table` must be a callable"):
        kerasprune.Channels(target="latency", latency_table=3)


def test_the_calibration_maps_the_asked_ratio_through_the_measured_points():
    class Points:  # a table's stored points, as data
        def __init__(self, points):
            self.points = points

        def calibration(self, key):
            return self.points

        def add_calibration(self, key, predicted, measured):
            self.points.append((predicted, measured))

        def model_ratio(self, reference, candidate):
            return candidate ** 1.5  # the "measured" latency: a known law of the prediction

    calibration = Calibration("m", None, Points([(0.5, 0.4), (0.8, 0.7)]))
    assert calibration.predicted_goal(0.4) == pytest.approx(0.5)
    assert calibration.predicted_goal(0.2) == pytest.approx(0.25)
    assert calibration.predicted_goal(0.85) == pytest.approx(0.9)

    table = Points([])
    calibration = Calibration("m", None, table)
    cost = lambda chosen: float(chosen)  # noqa: E731  (a "decision" is its predicted ratio)
    cost.dense = 1.0
    chosen = calibrated_selection(lambda ratio: ratio, cost, calibration, 0.3,
                                  lambda chosen: (None, chosen))
    assert abs(chosen ** 1.5 - 0.3) <= 0.02 and 1 <= len(table.points) <= 3
    measured = len(table.points)
    again = calibrated_selection(lambda ratio: ratio, cost, calibration, 0.3,
                                 lambda chosen: (None, chosen))
    assert len(table.points) == measured and abs(again ** 1.5 - 0.3) <= 0.03  # kept points


def test_grid_spans_the_fewest_to_all_channels():
    assert grid(1, 4).tolist() == [1, 2, 3, 4]
    assert grid(10, 10).tolist() == [10]


class MeasuredTable:
    """A table whose per-layer prices are `work_table(scale)` and whose whole-model
    "measurement" is the models' plain work (`exact_latency`): a table that misprices
    layers, and the truth the calibration measures."""

    def __init__(self, scale):
        self.prices, self.points, self.ratios = work_table(scale), {}, []

    def __call__(self, requests):
        return self.prices(requests)

    def calibration(self, key):
        return self.points.get(key, [])

    def add_calibration(self, key, predicted, measured):
        self.points.setdefault(key, []).append((predicted, measured))

    def model_ratio(self, reference, candidate):
        self.ratios.append(exact_latency(candidate) / exact_latency(reference))
        return self.ratios[-1]


def test_a_mispriced_table_loses_to_the_importance_ranking_measured_at_the_same_latency():
    """The table prices the 1x1 conv 30x dearer than it is: ranked per microsecond, its
    more important channels go first and save little. Both rankings are calibrated to the
    measured latency; the one that removes less importance is kept."""
    inputs = keras.Input((8, 8, 3))
    left = L.Conv2D(16, 3, padding="same", name="left")(inputs)
    right = L.Conv2D(16, 1, name="right")(inputs)
    x = L.Concatenate()([left, right])
    model = keras.Model(inputs, L.Dense(4, name="logits")(L.GlobalAveragePooling2D()(x)))
    model.get_layer("left").kernel.assign(np.full((3, 3, 3, 16), 0.5))  # mean |w|: 0.5
    model.get_layer("right").kernel.assign(np.full((1, 1, 3, 16), 1.0))  # mean |w|: 1.0
    table = MeasuredTable({1: 30.0})
    pattern = kerasprune.Channels(target="latency", latency_table=table)
    pruned = kerasprune.prune(model, pattern=pattern, exclude=["logits"], scope="global")
    kerasprune.update_masks(pruned, 0.4)
    small = kerasprune.shrink(pruned)
    assert small.get_layer("right").filters == 16 and small.get_layer("left").filters < 16
    assert exact_latency(small) / exact_latency(model) <= 0.6 + 0.02
    assert {key.split(" ", 1)[1] for key in table.points} == {"per microsecond", "importance"}
