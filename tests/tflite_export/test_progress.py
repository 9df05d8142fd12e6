"""Progress of long work: Keras' progress bar over a conversion and a benchmark."""

import keras
import numpy as np
import pytest

import tflite_export
from tflite_export import progress

X = np.random.default_rng(0).random((4, 8), dtype=np.float32)


def model():
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])


def test_convert_shows_its_four_stages_on_keras_progress_bar(capsys):
    tflite_export.convert(model(), sparse=False, verbose=1)
    out = capsys.readouterr().out
    assert "4/4" in out and "stage" in out  # Keras' Progbar: "4/4 ━━━ 0s 12ms/stage"
    tflite_export.convert(model(), sparse=False, verbose=0)
    tflite_export.convert(model(), sparse=False)  # "auto": no terminal here, no bar
    assert capsys.readouterr().out == ""


def test_benchmark_and_compare_count_every_timed_invoke(capsys):
    content = tflite_export.convert(model(), sparse=False, verbose=0)
    tflite_export.benchmark(content, X, runs=7, warmup=1, block=3, verbose=1)
    assert "28/28" in capsys.readouterr().out  # 2 settings x 2 protocols x 7 runs
    tflite_export.compare({"a": content, "b": content}, X, runs=12, warmup=0, verbose=1)
    assert "48/48" in capsys.readouterr().out


def test_without_keras_the_same_line_is_drawn(capsys, monkeypatch):
    monkeypatch.delitem(__import__("sys").modules, "keras")
    bar = progress.progress_bar(3, verbose=1)
    assert not isinstance(bar, keras.utils.Progbar)
    bar.add(1)
    bar.add(2)
    assert capsys.readouterr().out.endswith("3/3 ━━━━━━━━━━━━━━━━━━━━ 0s\n")


def test_verbose_is_checked():
    with pytest.raises(ValueError, match="verbose"):
        progress.progress_bar(3, verbose="loud")
