"""Where a warning about the user's call points: the first frame outside kerasprune and the
libraries it runs inside (its TFLite converter, Keras, TensorFlow)."""

from __future__ import annotations

import importlib.util
import inspect
import os


def _directory(package: str) -> str | None:
    spec = importlib.util.find_spec(package)  # locates without importing
    return os.path.dirname(spec.origin) + os.sep if spec and spec.origin else None


_LIBRARIES = tuple(filter(None, map(_directory, ("kerasprune", "tflite_export", "keras",
                                                  "tensorflow"))))


def user_stacklevel() -> int:
    """The `stacklevel` for `warnings.warn` that names the user's line, however deep in
    kerasprune the warning is raised (a fixed level breaks whenever a call is added) and
    whether the user called kerasprune or Keras called it (a callback inside `fit`).

    Example:

    >>> user_stacklevel() >= 1
    True
    """
    frame, level = inspect.currentframe().f_back, 1  # level 1: the caller of `warn`
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARIES):
        frame, level = frame.f_back, level + 1
    return level
