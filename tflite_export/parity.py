"""Does a TFLite file compute what its Keras model computes? One small, deterministic check.

`convert` runs it on every file it writes, so that a converter or LiteRT bug giving wrong
outputs (NaN, or values off) is an error naming the options to change, not a silent wrong
file. It feeds one or two synthetic samples: fast, and enough to catch a wrong kernel.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from kerasprune.core.caller import user_stacklevel
from tflite_export import inspection
from tflite_export.interpreter import (OPEN_SIZE, invoke_once, load_interpreter,
                                       native_stderr_silenced)

# Largest |TFLite - Keras| accepted, as a fraction of the largest |Keras output| (at least
# 1), per `quantize`. An "int8" file quantizes activations to the ranges of the user's
# data, which synthetic samples may leave: only finiteness is checked then.
TOLERANCE = {None: 1e-3, "float16": 2e-2, "dynamic": 0.2, "int8": None}

# XNNPACK and the built-in kernels running one file may round differently (dynamic-range
# kernels quantize activations per batch or per row), but no further apart than
# `convert` accepts from Keras for any mode; beyond that one computes wrong.
RUNTIMES_TOLERANCE = TOLERANCE["dynamic"]


# An "int8" file is compared with its model on this many of its calibration samples; an
# output off by more than this fraction of its range there (max - min of the model's
# outputs) is far beyond int8 rounding (1/255 of the range per tensor): a warning.
INT8_SAMPLES = 8
INT8_TOLERANCE = 0.25


def sample_inputs(specs: Sequence) -> list[np.ndarray]:
    """Deterministic samples for `tf.TensorSpec`s: two (or the fixed batch) of normal
    floats; integer and boolean inputs (token ids, masks) hold ones, valid for any
    vocabulary of two tokens or more."""
    rng = np.random.default_rng(0)
    arrays = []
    for spec in specs:
        dims = list(spec.shape)
        shape = [(2 if i == 0 else OPEN_SIZE) if d is None else int(d)
                 for i, d in enumerate(dims)]
        dtype = np.dtype(spec.dtype.as_numpy_dtype)
        arrays.append(rng.normal(size=shape).astype(dtype) if dtype.kind == "f"
                      else np.ones(shape, dtype))
    return arrays


def check_file_computes(content: bytes, inputs: list[np.ndarray], expected: list[np.ndarray],
                        *, quantize: str | None, sparse: bool) -> None:
    """Raise a ValueError when the file's outputs on `inputs` hold NaN/Inf where the Keras
    model's (`expected`) are finite, or differ from them beyond `TOLERANCE[quantize]`."""
    from tflite_export.sparse_kernels import SparseKernelWarning  # imports Keras

    tolerance = TOLERANCE[quantize]
    problem = output_mismatch(_outputs(content, inputs, xnnpack=True), expected, tolerance)
    if problem is None:
        return
    if output_mismatch(_outputs(content, inputs, xnnpack=False), expected, tolerance) is None:
        warnings.warn(
            f"With XNNPACK, LiteRT's default delegate, the TFLite file does not compute the "
            f"model's outputs (sparse={sparse}, quantize={quantize!r}): {problem}; with the "
            "built-in kernels it does. Run it with experimental_op_resolver_type="
            "OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, or convert with sparse=False.",
            SparseKernelWarning,
            stacklevel=user_stacklevel(),
        )
        return
    options = f"sparse={sparse}, quantize={quantize!r}"
    if sparse:
        stored = sorted({t.layer or t.name for t in inspection.inspect(content).sparse_tensors})
        advice = ("The weights stored sparse are the likely cause"
                  + (f" ({', '.join(stored)})" if stored else "")
                  + ": convert with sparse=False (kerasprune export --dense)")
    elif quantize is not None:
        advice = f"Convert without quantize={quantize!r}, or with another mode"
    else:
        advice = ("This is a converter or LiteRT bug: export the model another way "
                  "(model.export(path, format='tf_saved_model'))")
    raise ValueError(
        f"The TFLite file does not compute the model's outputs ({options}): {problem} on "
        f"{len(inputs[0])} synthetic sample(s). {advice}.")


def warn_if_int8_off(content: bytes, inputs: list[np.ndarray], expected: list[np.ndarray],
                     *, names: Sequence[str] | None = None) -> None:
    """Warn, naming each output, when an "int8" file's outputs on `inputs` (samples it was
    calibrated on) are off from the Keras model's (`expected`) by more than
    `INT8_TOLERANCE` of the output's range."""
    outputs = _outputs(content, inputs, xnnpack=True)
    if len(outputs) != len(expected):
        return
    off = []
    for k, (got, want) in enumerate(zip(outputs, expected)):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        if got.shape != want.shape or not np.isfinite(want).all():
            continue
        span = float(want.max() - want.min()) if want.size else 0.0
        diff = float(np.max(np.abs(got - want), initial=0.0))
        if diff > INT8_TOLERANCE * span and diff > 1e-6:
            name = names[k] if names is not None and len(names) == len(outputs) else None
            which = f"output {k + 1} of {len(outputs)}" + (f" ({name!r})" if name else "")
            off.append(f"{which}: off by up to {diff:.3g}, {diff / span:.0%} of its range "
                       f"{span:.3g}" if span else f"{which}: off by up to {diff:.3g}, its "
                       "range being 0")
    if off:
        warnings.warn(
            f'The quantize="int8" file does not compute the model\'s outputs on the first '
            f"{len(inputs[0])} samples of representative_data it was calibrated on: "
            f"{'; '.join(off)} (int8 rounds to 1/255 of the range; accepted: "
            f"{INT8_TOLERANCE:.0%}). Check that representative_data holds real inputs "
            'like those the model will see, or convert with quantize="dynamic".',
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _outputs(content: bytes, inputs: list[np.ndarray], xnnpack: bool) -> list[np.ndarray]:
    # convert's own check: the interpreter's native log lines are not the user's business
    with native_stderr_silenced():
        return invoke_once(load_interpreter(content, xnnpack=xnnpack).interpreter, inputs)


def output_mismatch(outputs: list[np.ndarray], expected: list[np.ndarray],
                    tolerance: float | None, reference: str = "the Keras model's") -> str | None:
    """What is wrong with `outputs` (in the model's order) against `expected` (the
    `reference`'s), in words, or None."""
    expected = [np.asarray(e, dtype=np.float32) for e in expected]
    outputs = [np.asarray(o, dtype=np.float32) for o in outputs]
    if all(np.isfinite(e).all() for e in expected):
        bad = sum(int(o.size - np.isfinite(o).sum()) for o in outputs)
        if bad:
            return f"{bad} NaN/Inf output value(s) where {reference} are finite"
    if tolerance is None or len(outputs) != len(expected):
        return None
    for k, (got, want) in enumerate(zip(outputs, expected)):
        if got.shape != want.shape:
            continue
        scale = max(1.0, float(np.nanmax(np.abs(want), initial=0.0)))
        diff = float(np.nanmax(np.abs(got - want), initial=0.0))
        if diff > tolerance * scale:
            which = f"output {k + 1} of {len(outputs)} " if len(outputs) > 1 else ""
            return (f"{which}outputs off by up to {diff:.3g} from {reference} (accepted: "
                    f"{tolerance:g} x {scale:.3g})")
    return None
