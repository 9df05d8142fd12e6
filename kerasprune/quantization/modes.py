"""How the quantizers run besides training and inference: calibrating, and traced for TFLite.

Both are Python-level switches read when a model is called (or traced), so they hold for
eager calls and for the functions traced inside them.
"""

from __future__ import annotations

import contextlib

_STATE = {"calibrating": False, "converter": False}


@contextlib.contextmanager
def calibration():
    """Within it, every `ActivationRange` called updates its range, also in inference:
    what `kerasprune.quantization.calibrate` runs the model in."""
    with _switched("calibrating"):
        yield


@contextlib.contextmanager
def for_converter():
    """Within it, models are traced as the TFLite converter must see them: each activation
    range a plain FakeQuant op of its stored values, and weights left float (the converter
    quantizes them per output channel by the rule `fake_quantize_weight` trains with).

    Example:

    >>> with for_converter():
    ...     converter_tracing()
    True
    >>> converter_tracing()
    False
    """
    with _switched("converter"):
        yield


def calibrating() -> bool:
    """True inside `calibration()`."""
    return _STATE["calibrating"]


def converter_tracing() -> bool:
    """True inside `for_converter()`."""
    return _STATE["converter"]


@contextlib.contextmanager
def _switched(name: str):
    previous = _STATE[name]
    _STATE[name] = True
    try:
        yield
    finally:
        _STATE[name] = previous
