"""How the quantizers run besides training and inference: calibrating, and traced for TFLite.

Both are Python-level switches read when a model is called (or traced), so they hold for
eager calls and for the functions traced inside them.
"""

from __future__ import annotations

import contextlib

_STATE = {"calibrating": False, "converter": False, "ranges": True}


@contextlib.contextmanager
def calibration():
    """Within it, every `ActivationRange` called updates its range, also in inference:
    what `kerasprune.quantization.calibrate` runs the model in."""
    with _switched("calibrating"):
        yield


@contextlib.contextmanager
def for_converter(activation_ranges: bool = True):
    """Within it, models are traced as the TFLite converter must see them: weights left
    float (the converter quantizes them per output channel by the rule
    `fake_quantize_weight` trains with), and each activation range a plain FakeQuant op of
    its stored values (full int8), or no op at all with `activation_ranges=False` (int8
    weights with float activations: TFLite's dynamic-range kernels).

    Example:

    >>> with for_converter():
    ...     converter_tracing(), converter_ranges()
    (True, True)
    >>> converter_tracing()
    False
    """
    with _switched("converter"), _switched("ranges", activation_ranges):
        yield


def calibrating() -> bool:
    """True inside `calibration()`."""
    return _STATE["calibrating"]


def converter_tracing() -> bool:
    """True inside `for_converter()`."""
    return _STATE["converter"]


def converter_ranges() -> bool:
    """Whether the activation ranges are traced for the converter (full int8)."""
    return _STATE["ranges"]


@contextlib.contextmanager
def _switched(name: str, value: bool = True):
    previous = _STATE[name]
    _STATE[name] = value
    try:
        yield
    finally:
        _STATE[name] = previous
