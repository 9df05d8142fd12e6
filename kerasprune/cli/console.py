"""What a command prints, and what it keeps quiet: one context for a whole command run.

TensorFlow's native libraries print start-up lines to file descriptor 2 while they load
(oneDNN, CUDA probing, "All log messages before absl::InitializeLog() ...", twice: two
libraries), and `TF_CPP_MIN_LOG_LEVEL` no longer silences them. So, unless `-v` is given,
descriptor 2 points at /dev/null for the whole command while Python's `sys.stderr` keeps
writing to the real stderr: errors, warnings and progress bars still show, native log
lines do not. Warnings print as one line each (`warning: ...`), each once; `-v` shows
them in full, with the native logs.

With `--json` everything a command prints on the way (progress bars, Keras' fit output)
goes to stderr, so that stdout holds the JSON document alone.

Verbosity: 0 (`-q`) results only; 1 (default) progress bars and one-line warnings;
2 (`-v`) native logs and full warnings too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import sys
import warnings
from typing import Iterator, TextIO

QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning,
                  ImportWarning, ResourceWarning)


@dataclasses.dataclass
class Console:
    """Where a command's result goes, and what it said on the way.

    Attributes:
        verbosity: 0 (`-q`), 1 (default) or 2 (`-v`).
        as_json: print the result as JSON.
        stdout: the stream of the result (the real stdout, even while progress is sent
            to stderr).
        warnings: every warning shown, one line each, in order (also in the JSON).
    """

    verbosity: int
    as_json: bool
    stdout: TextIO
    warnings: list = dataclasses.field(default_factory=list)

    @property
    def progress(self) -> int:
        """`verbose` for Keras' progress bars: 1 shows them, 0 does not."""
        return 1 if self.verbosity >= 1 else 0

    def result(self, text: str, facts: dict) -> None:
        """Print the result: `text`, or `facts` (with the warnings) as one JSON document."""
        if self.as_json:
            document = {**facts, "warnings": list(self.warnings)}
            print(json.dumps(_finite(document), indent=2, default=str), file=self.stdout)
        else:
            print(text, file=self.stdout)


@contextlib.contextmanager
def session(verbosity: int, as_json: bool) -> Iterator[Console]:
    """The context of one command run; yields its `Console`."""
    if verbosity < 2:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    console = Console(verbosity, as_json, sys.stdout)
    with contextlib.ExitStack() as stack:
        if verbosity < 2:
            stack.enter_context(_native_stderr_silenced())
        stack.enter_context(_warnings_shown(console))
        stack.enter_context(_python_logs(verbosity))
        if as_json:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        yield console


def _finite(value):
    """JSON has no NaN: a float that is not finite becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Descriptor 2 to /dev/null; `sys.stderr` (if it wrote there) to a copy of the old one."""
    try:
        sys.stderr.flush()
        python_uses_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, ValueError, io.UnsupportedOperation):
        python_uses_fd2 = False  # a captured or replaced stderr: leave it alone
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    python_stderr = sys.stderr
    if python_uses_fd2:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1,
                               encoding=python_stderr.encoding, errors="backslashreplace")
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        if python_uses_fd2:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def _warnings_shown(console: Console) -> Iterator[None]:
    with warnings.catch_warnings():
        if console.verbosity < 2:
            for category in QUIET_WARNINGS:
                warnings.simplefilter("ignore", category)
        warnings.showwarning = _shown(console, warnings.showwarning)
        yield


def _shown(console: Console, full):
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if text in console.warnings:
            return
        console.warnings.append(text)
        if console.verbosity >= 2:
            full(message, category, filename, lineno, file, line)
        else:
            print(f"warning: {text}", file=sys.stderr)

    return show


@contextlib.contextmanager
def _python_logs(verbosity: int) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("absl", "tensorflow", "h5py")]
    levels = [logger.level for logger in loggers]
    if verbosity < 2:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
