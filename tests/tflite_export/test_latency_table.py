"""`LatencyTable`: single layers timed on LiteRT's interpreter (one real, tiny measurement),
kept on disk by machine and layer, resized from one conversion; whole models compared;
the table travels with the `Channels` pattern's config. No timing is asserted."""

import json

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from kerasprune.structured.latency_cost import LatencyRequest
from kerasprune.structured.layer_rules import resized
from tflite_export.latency_table import LatencyTable, _converted, _resized, machine_key

L = keras.layers


def request(layer, shape, n_in, **changes) -> LatencyRequest:
    inputs = keras.Input(shape)
    layer(inputs)
    return LatencyRequest(*resized(layer, [inputs], n_in, changes))


def test_a_tiny_measurement_is_cached_by_machine_and_layer(tmp_path):
    path = tmp_path / "latency.json"
    asked = [request(L.Conv2D(8, 3, padding="same"), (6, 6, 4), 4, filters=8),
             request(L.Conv2D(8, 3, padding="same"), (6, 6, 4), 3, filters=5)]
    table = LatencyTable(path, runs=3, warmup=1, verbose=0)
    first = table(asked)
    assert len(first) == 2 and all(np.isfinite(v) and v >= 0 for v in first)
    assert table.measured == 3  # the two layers and one empty invoke
    stored = json.loads(path.read_text())[machine_key(1, True)]
    assert len(stored["layers"]) == 3
    again = LatencyTable(path, runs=3, warmup=1, verbose=0)
    assert again(asked) == first and again.measured == 0


def test_other_channel_counts_are_the_converted_op_resized():
    first = request(L.DepthwiseConv2D(3, padding="same", activation="relu"), (6, 6, 8), 8)
    other = request(L.DepthwiseConv2D(3, padding="same", activation="relu"), (6, 6, 8), 5)
    made, converted = _resized(_converted(first), first, other), _converted(other)
    details = [tflite_export.inspect(c) for c in (made, converted)]
    assert details[0].ops == details[1].ops == ("DEPTHWISE_CONV_2D",)
    assert [t.shape for t in details[0].tensors] == [t.shape for t in details[1].tensors]
    loaded = [tflite_export.load_interpreter(c).interpreter for c in (made, converted)]
    assert [list(i.get_output_details()[0]["shape"]) for i in loaded] == [[1, 6, 6, 5]] * 2
    grouped = request(L.Conv2D(8, 3, groups=2), (6, 6, 8), 8, filters=8)
    assert _resized(_converted(grouped), grouped, request(
        L.Conv2D(8, 3, groups=2), (6, 6, 8), 4, filters=4)) is None  # converted instead


def test_whole_models_are_compared_and_calibration_points_kept(tmp_path):
    table = LatencyTable(tmp_path / "latency.json", runs=3, warmup=1, verbose=0)
    wide, narrow = (keras.Sequential([keras.Input((6, 6, 4)), L.Conv2D(n, 3)]) for n in (16, 4))
    assert table.model_ratio(wide, narrow) > 0
    table.add_calibration("model", 0.5, 0.4)
    assert LatencyTable(tmp_path / "latency.json").calibration("model") == [(0.5, 0.4)]


def test_the_table_travels_with_the_pattern(tmp_path):
    table = LatencyTable(tmp_path / "t.json", runs=7, verbose=0)
    pattern = kerasprune.Channels(target="latency", latency_table=table)
    config = pattern.get_config()
    assert config["latency_table"]["path"] == str(tmp_path / "t.json")
    again = kerasprune.Channels.from_config(config).latency_model()
    assert isinstance(again, LatencyTable) and again.runs == 7 and again.path == table.path
    assert "latency_table" not in kerasprune.Channels().get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"num_threads": 0}, "num_threads"), ({"runs": 0}, "runs"), ({"xnnpack": 1}, "xnnpack")])
def test_bad_settings_are_refused(kwargs, match, tmp_path):
    with pytest.raises((TypeError, ValueError), match=match):
        LatencyTable(tmp_path / "t.json", **kwargs)


@pytest.mark.parametrize("text", ['{"my": "notes"}', '{"a": {"layers": [1]}}', "[1, 2]"])
def test_a_json_file_that_is_not_a_table_is_refused_and_left_as_it_is(text, tmp_path):
    path = tmp_path / "notes.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"latency table.*notes\.json.*holds something else"):
        LatencyTable(path)
    assert path.read_text() == text
