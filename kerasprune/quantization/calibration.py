"""`calibrate`: set a quantization-aware model's activation ranges from sample inputs.

Training sets the ranges too (from its first batches), so calibrating is optional; it
gives a copy made by `quantize_model` the ranges of the float model it came from before
the first step, so that evaluating it, exporting it or fine-tuning it starts from there.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.core.validation import check_int, check_samples
from kerasprune.quantization import modes
from kerasprune.quantization.quantize_model import quantize_wrappers


def calibrate(model: keras.Model, x, *, batch_size: int = 32) -> None:
    """Run `model` in inference on `x`, batch by batch, with every activation range
    observing: each range becomes the mean of the batches' ranges (then later training
    moves it by its moving average).

    Args:
        model: a model from `kerasprune.quantization.quantize_model`.
        x: input samples: an array with a batch axis, or a list of arrays (one per
            model input); a few hundred samples are enough.
        batch_size: samples per forward pass.

    Example:

    >>> import numpy as np, keras
    >>> from kerasprune.quantization import calibrate, quantize_model, uncalibrated_ranges
    >>> qat = quantize_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    >>> len(uncalibrated_ranges(qat))
    2
    >>> calibrate(qat, np.random.default_rng(0).normal(size=(64, 4)).astype("float32"))
    >>> uncalibrated_ranges(qat)
    []
    """
    if not quantize_wrappers(model):
        raise ValueError(
            f"Model '{getattr(model, 'name', model)}' has no QuantizeWrapper layers: make it "
            "with kerasprune.quantization.quantize_model(model) first.")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    arrays = _arrays(x)
    check_samples(model, arrays if len(arrays) > 1 else arrays[0], "x")  # before any range moves
    with modes.calibration():
        for start in range(0, len(arrays[0]), batch_size):
            batch = [a[start:start + batch_size] for a in arrays]
            model(batch[0] if len(batch) == 1 else batch, training=False)


def uncalibrated_ranges(model: keras.Model) -> list[str]:
    """`layer/range` of every activation range of `model` that never observed a batch
    (neither trained nor calibrated); the TFLite export refuses a model with any."""
    return [f"{wrapper.name}/{quantizer.name}" for wrapper in quantize_wrappers(model)
            for quantizer in wrapper.ranges if float(quantizer.observed) == 0]


def _arrays(x) -> list[np.ndarray]:
    arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    try:
        arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"`x` must be an array of input samples (or a list of them). Received: {error}"
        ) from None
    if any(a.ndim == 0 or len(a) == 0 for a in arrays) or len({len(a) for a in arrays}) != 1:
        raise ValueError(
            "`x` must hold at least one sample, with the same number in every array. "
            f"Received: shapes {[a.shape for a in arrays]}")
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("`x` holds NaN or Inf values: the ranges would be infinite.")
    return arrays
