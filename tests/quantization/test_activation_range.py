"""`ActivationRange`: the mean of the first batches, then a moving average; only when
training or calibrating; saved as variables."""

import numpy as np
import pytest
import keras

from kerasprune.quantization import ActivationRange
from kerasprune.quantization.modes import calibration


def batch(low, high):
    return np.array([[low, high, 0.0]], "float32")


def values(q):
    return round(float(q.low), 6), round(float(q.high), 6), int(q.observed)


def test_the_first_batches_average_then_the_moving_average_takes_over():
    q = ActivationRange(ema_decay=0.6)
    q(batch(-1.0, 2.0), training=True)
    assert values(q) == (-1.0, 2.0, 1)
    q(batch(-3.0, 4.0), training=True)                 # d = min(0.6, 1/2): the mean
    assert values(q) == (-2.0, 3.0, 2)
    q(batch(0.0, 8.0), training=True)                  # d = min(0.6, 2/3) = 0.6
    assert values(q) == (-1.2, 5.0, 3)


def test_the_range_always_holds_zero():
    q = ActivationRange()
    q(np.array([[2.0, 5.0]], "float32"), training=True)
    assert values(q)[:2] == (0.0, 5.0)


def test_inference_quantizes_without_moving_the_range():
    q = ActivationRange()
    q(batch(-1.0, 1.0), training=True)
    out = np.asarray(q(np.array([[-5.0, 0.3, 5.0]], "float32")))
    assert values(q) == (-1.0, 1.0, 1)
    step = 2.0 / 255
    assert out[0, 0] == pytest.approx(-1.0, abs=step) and out[0, 2] == pytest.approx(1.0, abs=step)
    assert out[0, 1] != np.float32(0.3)                 # rounded to a level


def test_before_any_batch_values_pass_unchanged():
    x = np.array([[0.123, -4.5]], "float32")
    q = ActivationRange()
    assert np.array_equal(np.asarray(q(x)), x) and values(q) == (0.0, 0.0, 0)


def test_calibration_observes_in_inference():
    q = ActivationRange()
    with calibration():
        q(batch(-2.0, 2.0), training=False)
    assert values(q) == (-2.0, 2.0, 1)


def test_config_round_trip_and_refusals():
    q = ActivationRange(ema_decay=0.9, name="r")
    again = ActivationRange.from_config(q.get_config())
    assert again.ema_decay == 0.9 and again.name == "r" and not again.trainable
    assert keras.saving.get_registered_object("kerasprune>ActivationRange") is ActivationRange
    for bad in (1.0, -0.1, "0.9", True):
        with pytest.raises(ValueError, match=r"ema_decay.*\[0, 1\)\. Received: ema_decay="):
            ActivationRange(ema_decay=bad)
