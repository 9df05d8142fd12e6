"""Progress of long work (conversion, timing): Keras' own progress bar, as `fit` shows.

`keras.utils.Progbar` is used whenever Keras is already imported (a conversion always
imports it). Timing a `.tflite` file needs only LiteRT, and importing Keras would import
TensorFlow (seconds) just to draw a bar, so without Keras loaded the same line
(`12/40 ━━━━━━━━━━━━━━━━━━━━ 3s`) is drawn here.

`verbose`: 0 shows nothing, 1 a bar; `"auto"` a bar when stdout is a terminal.
"""

from __future__ import annotations

import numbers
import sys
import time


def progress_bar(target: int, verbose: int | str = "auto", unit_name: str = "step"):
    """A progress bar with Keras' `Progbar` interface (`update`, `add`).

    Example:

    >>> bar = progress_bar(3, verbose=0)
    >>> bar.add(3)
    """
    if isinstance(verbose, str) and verbose == "auto":
        verbose = 1 if getattr(sys.stdout, "isatty", lambda: False)() else 0
    if not isinstance(verbose, numbers.Integral) or verbose not in (0, 1, 2):
        raise ValueError(f"Expected verbose to be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
    if "keras" in sys.modules:
        return sys.modules["keras"].utils.Progbar(target, verbose=verbose, unit_name=unit_name)
    return _Bar(target, verbose)


class _Bar:
    """The line Keras' Progbar draws, without importing Keras (no metrics: none are needed)."""

    def __init__(self, target: int, verbose: int, width: int = 20):
        self.target, self.verbose, self.width = target, verbose, width
        self.seen = 0
        self.start = self.drawn = time.time()

    def add(self, n: int = 1, values=None) -> None:
        self.update(self.seen + n)

    def update(self, current: int, values=None, finalize=None) -> None:
        self.seen = current
        final = current >= self.target
        if not self.verbose or (not final and time.time() - self.drawn < 0.05):
            return
        self.drawn = time.time()
        done = int(self.width * min(current, self.target) / max(self.target, 1))
        bar = "━" * done + " " * (self.width - done)
        line = f"\r{current}/{self.target} {bar} {time.time() - self.start:.0f}s"
        ending = "\n" if final else ""
        sys.stdout.write(line + ending)
        sys.stdout.flush()
