"""Where a warning about the user's call points: the first frame outside kerasprune."""

from __future__ import annotations

import inspect
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parents[1])


def user_stacklevel() -> int:
    """The `stacklevel` for `warnings.warn` that names the user's line, however deep in
    kerasprune the warning is raised (a fixed level breaks whenever a call is added).

    Example:

    >>> user_stacklevel() >= 1
    True
    """
    frame, level = inspect.currentframe().f_back, 1  # level 1: the caller of `warn`
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level
