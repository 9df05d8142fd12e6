"""The one door to TensorFlow, Keras and LiteRT internals used by `tflite_export`.

Each private API the exporter needs is one function here, so an upgrade of TensorFlow,
Keras or ai-edge-litert that moves it breaks this file only.
"""

from __future__ import annotations

from typing import Any


def ops_details(interpreter: Any) -> list[dict]:
    """The ops of an allocated interpreter in execution order (no public API lists them)."""
    return interpreter._get_ops_details()


def keras_input_signature(model) -> list:
    """Input specs Keras recorded on a subclassed model's first call (as `model.export`)."""
    from keras.src.export.export_utils import get_input_signature

    return get_input_signature(model)


def freeze_variables(concrete_function):
    """The concrete function with its variables folded into constants."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    return convert_variables_to_constants_v2(concrete_function)


def flatten_layers(model) -> list:
    """Every layer inside `model`, nested ones included (Keras has no public walk)."""
    return list(model._flatten_layers(include_self=True, recursive=True))


def own_variables(layer) -> list:
    """The variables `layer` created itself (not those of its sublayers)."""
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def named_inputs(model) -> dict | None:
    """`{name: KerasTensor}` of a Functional model (or subclass, as KerasHub's) whose
    inputs are a dict, else None."""
    struct = getattr(model, "_inputs_struct", None)
    return dict(struct) if isinstance(struct, dict) else None



def flatbuffer_model(content: bytes):
    """`(ModelT, schema module)`: a TFLite file as the flatbuffer schema's object tree (op
    options, tensors, buffers), which the interpreter's public API does not expose."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema
    return schema.ModelT.InitFromPackedBuf(content, 0), schema


def packed_model(model) -> bytes:
    """A schema object tree (`ModelT`) written back as a TFLite flatbuffer."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
