"""The `kerasprune` command, reachable from the package too (`python -m kerasprune.cli`).

The command itself lives in the top-level package `kerasprune_cli`, outside `kerasprune`:
importing `kerasprune` imports Keras and TensorFlow (it registers its layers with Keras),
which takes seconds, and `kerasprune --help` must not wait for that. May import
`kerasprune_cli` only.
"""

from kerasprune_cli import main

__all__ = ["main"]
