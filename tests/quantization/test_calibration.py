"""`calibrate`: every range the mean of the batches' ranges, before any training."""

import numpy as np
import pytest

from kerasprune.quantization import calibrate, quantize_model, quantize_wrappers
from kerasprune.quantization import uncalibrated_ranges
from tests.quantization.helpers import cnn, data


def test_each_range_becomes_the_mean_of_its_batches_ranges():
    x, _ = data(64)
    qat = quantize_model(cnn())
    calibrate(qat, x, batch_size=16)
    first = quantize_wrappers(qat)[0].input_range
    lows = [min(x[i:i + 16].min(), 0) for i in range(0, 64, 16)]
    highs = [max(x[i:i + 16].max(), 0) for i in range(0, 64, 16)]
    assert float(first.low) == pytest.approx(np.mean(lows))
    assert float(first.high) == pytest.approx(np.mean(highs), rel=1e-6)
    assert int(first.observed) == 4 and uncalibrated_ranges(qat) == []


def test_bad_calibration_input_is_refused_before_any_range_moves():
    qat = quantize_model(cnn())
    x, _ = data(8)
    for bad, error, message in (
            (x[:0], ValueError, "at least one sample"),
            (np.full_like(x, np.nan), ValueError, "NaN or Inf"),
            ("digits", TypeError, "array of input samples")):
        with pytest.raises(error, match=message):
            calibrate(qat, bad)
    with pytest.raises(ValueError, match=r"Received: batch_size=0"):
        calibrate(qat, x, batch_size=0)
    with pytest.raises(ValueError, match="no QuantizeWrapper"):
        calibrate(cnn(), x)
    assert len(uncalibrated_ranges(qat)) == 5
