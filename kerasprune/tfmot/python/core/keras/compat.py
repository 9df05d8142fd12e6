"""TFMOT's `compat` module: `keras` is Keras 3 here (TFMOT's is tf_keras, Keras 2)."""

from __future__ import annotations

import keras


def assign(ref, value, name=None):
    """`ref.assign(value)`, as TFMOT's TF1/TF2 helper."""
    return ref.assign(value)


def initialize_variables(testcase) -> None:
    """Nothing to do: variables are initialized when created (TFMOT's TF1 graph helper)."""


def is_v1_apis() -> bool:
    """False: Keras 3 runs on TensorFlow 2."""
    return False


__all__ = ["assign", "initialize_variables", "is_v1_apis", "keras"]
