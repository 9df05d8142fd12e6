"""Quiet start-up for the example scripts: no TensorFlow/absl log lines before the output.

TensorFlow's native libraries print a few lines to stderr while they load (oneDNN, CUDA
probing, "All log messages before absl::InitializeLog() ..."), which `TF_CPP_MIN_LOG_LEVEL`
no longer silences. `import_quietly()` imports TensorFlow and Keras with the process's
stderr pointed at /dev/null, then restores it; Python errors raised by the import still
show, since they are printed after stderr is back.
"""

from __future__ import annotations

import logging
import os

from tflite_export.interpreter import native_stderr_silenced


def import_quietly() -> None:
    """Import TensorFlow and Keras without their start-up log lines.

    Example:

    >>> import_quietly()
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
