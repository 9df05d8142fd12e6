"""Keras 3 model (pruned or not) -> TFLite flatbuffer, sparse when asked.

The model is traced into one concrete function with its variables frozen into
constants, so the converter sees the masked weights as constants and can
encode them sparse (`tf.lite.Optimize.EXPERIMENTAL_SPARSITY`). Only TFLite
built-in ops are allowed, so any LiteRT interpreter can run the file:

- a mixed-precision model is traced computing in float32 (TFLite has no float16
  arithmetic; `quantize="float16"` stores float16 weights);
- recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional, ConvLSTM) loop over a
  tensor list whose shape TFLite needs static, so such a model converts with a
  batch of 1 (a `WHILE` op of built-in ops); pass `input_signature` for another
  fixed batch. Keras' own `model.export(format="litert")` keeps these as Select
  TF (Flex) ops, which the LiteRT interpreter cannot run;
- a model with named inputs (a dict, as KerasHub's BERT and GPT-2 take) is
  traced on a dict, so the file's inputs carry those names (its signature
  runner takes them as keywords).
"""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Callable, Iterable, Sequence

import keras
import numpy as np

import kerasprune
from kerasprune import quantization
from kerasprune.quantization import modes
from kerasprune.core.caller import user_stacklevel
from tflite_export import _compat, inspection, parity
from tflite_export.interpreter import OPEN_SIZE
from tflite_export.progress import progress_bar
from tflite_export.sparse_kernels import (
    SparsityWarning,
    all_layers,
    check_quantize,
    warn_if_not_sparse,
    warn_if_sparse_kernel_is_wrong,
    wrongly_sparse_weights,
)

# What a conversion's progress bar counts: trace, freeze and convert, then the checks.
_STAGES = 4

# In "dynamic" mode TFLite's converter quantizes only weights of at least this many
# elements; smaller ones stay float32.
DYNAMIC_MIN_ELEMENTS = 1024

def convert(
    model: keras.Model,
    *,
    sparse: bool = True,
    quantize: str | None = None,
    representative_data: np.ndarray | Sequence[np.ndarray] | Callable[[], Iterable] | None = None,
    input_signature: Sequence | None = None,
    verbose: int | str = "auto",
) -> bytes:
    """Converts a Keras 3 model (TensorFlow backend) to a TFLite flatbuffer.

    kerasprune wrappers are stripped first (`kerasprune.strip`), so a model in
    the middle of pruning converts as its masked plain version.

    Args:
        model: a built Sequential, Functional or subclassed `keras.Model`.
        sparse: encode weights with >= 30% zeros sparse
            (`EXPERIMENTAL_SPARSITY`). Warns with `SparsityWarning` when no
            weight ends up on TFLite's sparse kernel, saying why.
        quantize: None (float32), "float16", "dynamic" (int8 weights, float
            activations; the converter leaves weights under 1,024 elements float32, with
            a warning naming their layers) or "int8" (int8 weights and activations, float
            inputs/outputs; needs `representative_data`, except for a model made
            by `kerasprune.quantization.quantize_model`, which exports as "int8"
            with the activation ranges it trained, or as "dynamic").
        representative_data: samples for int8 calibration (the first 200 are used): an
            array with a batch axis (or a list of arrays, one per input, or a dict of
            them by input name), or a callable
            returning an iterable of input lists as the TFLite converter wants.
            Not for a quantization-aware model (its ranges come from training).
        input_signature: list of `tf.TensorSpec` (or a dict of them by input
            name), only needed for a subclassed model Keras cannot infer input
            shapes for, or to fix the batch size. Models with recurrent layers
            convert with batch 1 unless given.
        verbose: 1 shows Keras' progress bar over the conversion's four stages (trace,
            freeze the weights, convert, check), 0 nothing; `"auto"` shows it when
            stdout is a terminal.

    Returns:
        The TFLite flatbuffer as bytes.

    Weights LiteRT reads wrong when stored sparse (inside a recurrent layer's loop,
    float16 in blocks) make the whole file dense, with a `SparsityWarning` naming them.
    The file is run once on one or two synthetic samples against the model; an "int8"
    file also on the first 8 samples of `representative_data` (arrays), with a warning
    naming each output off by more than 25% of its range there.

    Raises:
        ValueError: naming the recurrent layers, for quantize="int8" of a model that
            has some (TensorFlow's int8 calibration crashes the process on their loop);
            naming the layer and weight, when a weight holds NaN or Inf
            (the file would compute NaN); naming the options to change, when the file's
            outputs are NaN where the model's are finite or off beyond a tolerance set by
            `quantize`.

    Example:
    import kerasprune, tflite_export
    pruned = kerasprune.prune(model, block_shape=(4, 1))
    # ... train with kerasprune.PruningCallback ...
    content = tflite_export.convert(pruned)
    open("model.tflite", "wb").write(content)
    """
    _check_arguments(model, sparse, quantize, representative_data)
    check_finite_weights(model)
    trained_ranges = bool(quantization.quantize_wrappers(model))
    progress = progress_bar(_STAGES, verbose, unit_name="stage")

    # Before strip: a stripped subclassed copy has not been called on data yet.
    signature = _input_signature(model, input_signature)
    if quantize == "int8" and not trained_ranges and not callable(representative_data):
        check_representative_data(_representative_arrays(representative_data, signature),
                                  _flat(signature))
    if kerasprune.prune_wrappers(model):
        model = kerasprune.strip(model)
    if input_signature is None and _has_recurrent_layer(model):
        # A recurrent layer's loop: TFLite lowers its tensor list only with a static batch.
        signature = keras.tree.map_structure(lambda spec: _with_batch(spec, 1), signature)
    tracing = (modes.for_converter(activation_ranges=quantize == "int8") if trained_ranges
               else contextlib.nullcontext())
    with tracing:
        converter = _converter(model, signature, progress)
        content = _convert(converter, model, sparse, quantize, representative_data, signature)
        wrong = wrongly_sparse_weights(content) if sparse else []
        if wrong:
            _warn_stored_dense(model, wrong)
            sparse = False
            content = _convert(converter, model, sparse, quantize, representative_data,
                               signature)
    progress.update(3)
    with _open_dims_named(signature):
        if quantize == "int8":
            _check_int8(content)
        if quantize == "dynamic":
            _warn_small_weights_float(content)
        known_wrong = sparse and warn_if_sparse_kernel_is_wrong(content, quantize)
        if sparse:
            warn_if_not_sparse(model, content, quantize)
        if not known_wrong:
            _check_outputs(model, content, signature, quantize, sparse)
            if quantize == "int8":
                _check_int8_on_calibration(model, content, representative_data, signature)
    progress.update(_STAGES)
    return content


def _warn_stored_dense(model: keras.Model, wrong: list[str]) -> None:
    warnings.warn(
        f"Sparsity was asked for but model '{model.name}' is stored dense (as sparse=False): "
        f"LiteRT computes these weights wrong when they are stored sparse: "
        f"{', '.join(wrong)}. The file computes the model's outputs and is as large as a "
        "dense one. Pass sparse=False (kerasprune export --dense) to convert without this "
        "warning.",
        SparsityWarning,
        stacklevel=user_stacklevel(),
    )


def _warn_small_weights_float(content: bytes) -> None:
    """Name the weights a "dynamic" file keeps float32 for being too small to quantize."""
    small = [t for t in inspection.inspect(content).tensors
             if t.dtype == "float32" and np.prod(t.shape) < DYNAMIC_MIN_ELEMENTS]
    if not small:
        return
    names = ", ".join(f"'{t.layer or t.name}' ({int(np.prod(t.shape))} elements)"
                      for t in small)
    warnings.warn(
        f'quantize="dynamic" left {len(small)} weight(s) float32: {names}. The converter '
        f"quantizes to int8 only weights of >= {DYNAMIC_MIN_ELEMENTS:,} elements in "
        "dynamic-range mode; the file is correct, these layers are just not int8.",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _check_outputs(model: keras.Model, content: bytes, signature: list,
                   quantize: str | None, sparse: bool) -> None:
    """The file against the model on synthetic samples (`parity.check_file_computes`)."""
    inputs = parity.sample_inputs(_flat(signature))
    args = keras.tree.pack_sequence_as(signature, inputs)
    try:
        with _float32_compute(model):
            expected = model(args[0] if len(args) == 1 else list(args), training=False)
    except Exception:  # the model's own checks refuse synthetic samples: nothing to compare
        return
    expected = [np.asarray(e) for e in keras.tree.flatten(expected)]
    parity.check_file_computes(content, inputs, expected, quantize=quantize, sparse=sparse)


def _check_int8_on_calibration(model: keras.Model, content: bytes, representative_data,
                               signature: list) -> None:
    """The int8 file against the model on a few of the samples it was calibrated on
    (`parity.warn_if_int8_off`); nothing to compare for a callable or trained ranges."""
    if representative_data is None or callable(representative_data):
        return
    specs = _flat(signature)
    arrays = [np.asarray(a, dtype=_numpy_dtype(spec))
              for a, spec in zip(_representative_arrays(representative_data, signature), specs)]
    fixed = specs[0].shape[0] if specs[0].shape.rank else None
    count = int(fixed) if fixed is not None else min(len(arrays[0]), parity.INT8_SAMPLES)
    if len(arrays[0]) < count:
        return
    inputs = [a[:count] for a in arrays]
    args = keras.tree.pack_sequence_as(signature, inputs)
    try:
        with _float32_compute(model):
            expected = model(args[0] if len(args) == 1 else list(args), training=False)
    except Exception:  # noqa: BLE001 - the model's own checks: nothing to compare
        return
    parity.warn_if_int8_off(content, inputs, [np.asarray(e) for e in keras.tree.flatten(expected)],
                            names=_output_names(model))


def _output_names(model: keras.Model) -> list[str] | None:
    names = getattr(model, "output_names", None)
    return list(names) if isinstance(names, (list, tuple)) else None


@contextlib.contextmanager
def _open_dims_named(signature: list):
    """An interpreter that cannot be built for a file whose inputs leave dims other than
    the batch open: an error naming them and how to fix them."""
    try:
        yield
    except RuntimeError as error:
        open_dims = [tuple(spec.shape) for spec in _flat(signature)
                     if None in tuple(spec.shape)[1:]]
        if not open_dims:
            raise
        raise ValueError(
            f"The model's input shape(s) {', '.join(map(str, open_dims))} leave dims other "
            "than the batch unknown (None): the file keeps them dynamic, and LiteRT could "
            f"not run it with each at size {OPEN_SIZE} to check it ({error}). Fix them: "
            "convert with input_signature=[tf.TensorSpec((None, 224, 224, 3), tf.float32)] "
            "(your sizes), or, for `kerasprune export` (which takes no shapes), save the "
            "model built on a keras.Input of fixed size.") from None


def _check_arguments(model, sparse, quantize, representative_data) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected model to be a keras.Model. Received: model of type {type(model).__name__}"
        )
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "TFLite conversion needs the TensorFlow backend of Keras 3. "
            f"Received: a model on the {keras.backend.backend()!r} backend; "
            "set KERAS_BACKEND=tensorflow before importing keras."
        )
    if not isinstance(sparse, (bool, np.bool_)):
        raise TypeError(f"Expected sparse to be True or False. Received: sparse={sparse!r}")
    check_quantize(quantize)
    if not model.built:
        raise ValueError(
            f"The model {model.name!r} is not built: call it on data (or build it) first."
        )
    check_quantize_fits(model, quantize)
    if quantization.quantize_wrappers(model):
        _check_quantization_aware(model, quantize, representative_data)
        return
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            'quantize="int8" needs representative_data (a few hundred input '
            "samples to calibrate activation ranges). Received: representative_data=None"
        )
    if quantize != "int8" and representative_data is not None:
        raise ValueError(
            'representative_data calibrates quantize="int8" only; with '
            f"quantize={quantize!r} it would be ignored. Pass quantize=\"int8\" or drop "
            "representative_data."
        )


def _check_quantization_aware(model, quantize, representative_data) -> None:
    """A quantization-aware model exports its int8 weights, as "int8" with its own ranges
    (all of them set) or as "dynamic" (float activations)."""
    if quantize not in ("int8", "dynamic") or representative_data is not None:
        raise ValueError(
            f"Model '{model.name}' is quantization-aware: it exports as quantize=\"int8\" "
            "(with the activation ranges it trained, no representative_data) or "
            "quantize=\"dynamic\" (its int8 weights, float activations). Received: "
            f"quantize={quantize!r}, representative_data="
            f"{'None' if representative_data is None else 'given'}")
    missing = quantization.uncalibrated_ranges(model)
    if missing and quantize == "int8":
        raise ValueError(
            f"Model '{model.name}' has activation ranges that never saw data: {missing}. "
            "Train it, or call kerasprune.quantization.calibrate(model, x), before export.")


def check_finite_weights(model: keras.Model) -> None:
    """Refuse weights holding NaN or Inf, naming the layer that owns the first one."""
    owners = {}
    for layer in _compat.flatten_layers(model):  # outer layers first: the deepest wins
        for variable in _compat.own_variables(layer):
            owners[id(variable)] = layer
    for variable in model.weights:
        values = np.asarray(variable)
        if not np.issubdtype(values.dtype, np.floating):
            continue
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            layer = owners.get(id(variable), model)
            raise ValueError(
                f"Layer '{layer.name}' has {bad} NaN/Inf values in its weight "
                f"'{variable.name}': the TFLite file would compute NaN. Training probably "
                "diverged: convert an earlier checkpoint, or retrain with a lower learning "
                "rate."
            )


def _flat(signature) -> list:
    """The specs of a signature, a dict's in sorted name order (TFLite's input order)."""
    return keras.tree.flatten(signature)


def _input_signature(model: keras.Model, given: Sequence | dict | None) -> list:
    """The arguments the serving function is traced on: one spec per input, or one dict
    of specs for a model with named inputs."""
    import tensorflow as tf

    if given is not None:
        return _checked_signature(model, given)
    named = _compat.named_inputs(model)
    if named is not None:
        return [{name: tf.TensorSpec((None,) + tuple(t.shape[1:]), t.dtype, name=name)
                 for name, t in named.items()}]
    inputs = getattr(model, "inputs", None)
    if inputs:
        return [tf.TensorSpec((None,) + tuple(t.shape[1:]), t.dtype) for t in inputs]
    # Subclassed model: Keras records input shapes on first call (what model.export uses).
    try:
        specs = _compat.keras_input_signature(model)
    except (ImportError, ValueError) as e:
        raise ValueError(
            f"Cannot infer the input shapes of model {model.name!r} ({e}). "
            "Pass input_signature=[tf.TensorSpec(shape, dtype), ...]."
        ) from e
    return [tf.TensorSpec(s.shape, s.dtype) for s in specs]


def _checked_signature(model: keras.Model, given: Sequence | dict) -> list:
    """`given` as the serving function's arguments, refused unless it is TensorSpecs that
    fit the model's inputs (the trace would fail deep inside TensorFlow)."""
    import tensorflow as tf

    specs = [given] if isinstance(given, dict) else (
        list(given) if isinstance(given, (list, tuple)) else None)
    if specs is None or not specs or not all(
            isinstance(spec, tf.TensorSpec) for spec in keras.tree.flatten(specs)):
        raise TypeError(
            "Expected input_signature to be a list of tf.TensorSpec (one per model input) "
            f"or a dict of them by input name. Received: input_signature={given!r}")
    inputs = getattr(model, "inputs", None) if not isinstance(given, dict) else None
    if not inputs:
        return specs
    expected = [tuple(t.shape[1:]) for t in inputs]
    received = [tuple(spec.shape)[1:] if spec.shape.rank else None for spec in specs]
    if len(specs) != len(inputs) or any(
            got is None or len(got) != len(want) or any(
                w is not None and g is not None and w != g for w, g in zip(want, got))
            for want, got in zip(expected, received)):
        raise ValueError(
            f"Expected input_signature to fit the inputs of model {model.name!r}: "
            f"{len(inputs)} spec(s) of shapes {[(None, *e) for e in expected]}. Received: "
            f"{[tuple(spec.shape) for spec in specs]}")
    return specs


def _convert(converter, model, sparse, quantize, representative_data, signature) -> bytes:
    _configure(converter, sparse, quantize, representative_data, signature)
    with warnings.catch_warnings():
        # TF's own int8 noise; our float inputs are quantized by a QUANTIZE op.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        try:
            content = converter.convert()
        except Exception as error:  # the converter raises its own ConverterError
            raise conversion_failure(error, model) from None
    return content


def check_quantize_fits(model: keras.Model, quantize: str | None) -> None:
    """Refuse quantize="int8" for a model with recurrent layers: TensorFlow's int8
    calibrator crashes the Python process (a segmentation fault) on their loop."""
    recurrent = _recurrent_layers(model)
    if quantize == "int8" and recurrent:
        raise ValueError(
            f'quantize="int8" cannot convert the recurrent layer(s) {", ".join(recurrent)} of '
            f"model {model.name!r}: TensorFlow's int8 calibration crashes the process on "
            'their loop. Use quantize="dynamic" (int8 weights, float activations) or '
            '"float16".')


def _recurrent_layers(model: keras.Model) -> list[str]:
    return [layer.name for layer in _compat.flatten_layers(model)
            if isinstance(layer, keras.layers.RNN)]


def _has_recurrent_layer(model: keras.Model) -> bool:
    return bool(_recurrent_layers(model))


def _with_batch(spec, batch: int):
    import tensorflow as tf

    return tf.TensorSpec((batch,) + tuple(spec.shape[1:]), spec.dtype, spec.name)


@contextlib.contextmanager
def _float32_compute(model: keras.Model):
    """Layers of a mixed-precision model compute in float32 while it is traced."""
    changed = []
    for layer in _compat.flatten_layers(model):
        policy = layer.dtype_policy
        if policy.compute_dtype in ("float16", "bfloat16") and policy.variable_dtype == "float32":
            changed.append((layer, policy))
            layer.dtype_policy = "float32"
    try:
        yield
    finally:
        for layer, policy in changed:
            layer.dtype_policy = policy


def _converter(model: keras.Model, signature: list, progress):
    import tensorflow as tf

    def serve(*args):
        return model(args[0] if len(args) == 1 else list(args), training=False)

    with _float32_compute(model):
        function = tf.function(serve).get_concrete_function(*signature)
    progress.update(1)
    # Weights frozen into constants: the converter then sees (and encodes) the
    # zeros, where resource variables would stay dense VAR_HANDLE reads.
    frozen = _compat.freeze_variables(function)
    progress.update(2)
    return tf.lite.TFLiteConverter.from_concrete_functions([frozen], model)


def _configure(converter, sparse, quantize, representative_data, signature) -> None:
    import tensorflow as tf

    optimizations = []
    if quantize is not None:
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8" and representative_data is not None:
        converter.representative_dataset = _representative(representative_data, signature)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # Without samples (a quantization-aware model), the ranges are its FakeQuant ops'.


def _representative(data, signature) -> Callable[[], Iterable]:
    """One sample at a time; several inputs as a dict by the file's input names, since
    the calibrator feeds a list in the order of its tensor indices, not the model's."""
    if callable(data):
        return data
    specs = _flat(signature)
    arrays = [np.asarray(a, dtype=_numpy_dtype(spec))
              for a, spec in zip(_representative_arrays(data, signature), specs)]
    names = _input_names(signature)

    def samples():
        for i in range(min(len(arrays[0]), 200)):
            batch = [a[i : i + 1] for a in arrays]
            yield batch if len(batch) == 1 else dict(zip(names, batch))

    return samples


def _input_names(signature) -> list[str]:
    """The converted file's input names, in `_flat(signature)`'s order: a dict's keys, or
    the traced function's positional names (a spec's own name when it has one)."""
    if len(signature) == 1 and isinstance(signature[0], dict):
        return sorted(signature[0])
    return [getattr(spec, "name", None) or f"args_{i}" for i, spec in enumerate(signature)]


def _representative_arrays(data, signature) -> list:
    """`data` as one array per input in `_flat(signature)`'s order; a dict of arrays by
    input name for a model with named inputs."""
    if isinstance(data, dict):
        names = _input_names(signature)
        if sorted(data) != sorted(names):
            raise ValueError(
                f"Expected representative_data as a dict to have the model's input names "
                f"{names}. Received: keys {sorted(data)}")
        return [data[name] for name in names]
    return list(data) if isinstance(data, (list, tuple)) else [data]


def _numpy_dtype(spec) -> np.dtype:
    """The numpy dtype a model input takes (float32 for a dict of named inputs)."""
    dtype = getattr(spec, "dtype", None)
    return np.dtype(dtype.as_numpy_dtype) if dtype is not None else np.dtype(np.float32)


def check_representative_data(data, signature: list) -> None:
    """Refuse calibration data that would silently give a float32 file or wrong ranges.

    One array per model input, each with samples along the first axis, at least one
    sample, finite values, and the input's shape after the batch axis.
    """
    arrays = list(data) if isinstance(data, (list, tuple)) else [data]
    if len(arrays) != len(signature):
        raise ValueError(
            f"Expected representative_data to hold one array per model input: the model "
            f"has {len(signature)} input(s). Received: {len(arrays)} array(s)"
        )
    for array, spec in zip(arrays, signature):
        if _numpy_dtype(spec).kind in "iu" and np.asarray(array).dtype.kind in "fc":
            values = np.asarray(array)
            if not np.array_equal(values, np.round(values)):
                raise ValueError(
                    f"Expected representative_data to hold integers for the model's "
                    f"{_numpy_dtype(spec)} input (token ids, indices). Received: "
                    f"{values.dtype} values with fractions, such as {values.flat[0].item()!r}")
        try:
            array = np.asarray(array, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise TypeError(
                "Expected representative_data to be numeric arrays. "
                f"Received: {type(array).__name__} ({error})"
            ) from None
        expected = tuple(spec.shape)[1:]
        fits = array.ndim == len(expected) + 1 and all(
            e is None or e == a for e, a in zip(expected, array.shape[1:]))
        if not fits or len(array) == 0 or not np.isfinite(array).all():
            raise ValueError(
                "Expected representative_data to be samples of shape (n >= 1, "
                f"{', '.join('None' if e is None else str(e) for e in expected)}) with finite "
                f"values, like the model's input. Received: shape {array.shape}"
                + ("" if np.isfinite(array).all() else ", with NaN/Inf values")
            )


def conversion_failure(error: Exception, model: keras.Model) -> ValueError:
    """A short error naming the ops the TFLite converter refused and their layers.

    The converter's own message is hundreds of lines of MLIR; its structured `errors`
    (op name, location) are read instead when present.
    """
    layer_names = {layer.name for layer in all_layers(model)}
    refused = []
    for item in getattr(error, "errors", None) or []:
        op = getattr(getattr(item, "operator", None), "name", "") or "an op"
        calls = [c.name for c in getattr(getattr(item, "location", None), "call", [])]
        layer = _layer_of(calls, layer_names)
        refused.append(f"{op}" + (f" (layer '{layer}')" if layer else ""))
    if not refused:
        first = next((line for line in str(error).splitlines() if line.strip()), "")
        return ValueError(f"TFLite conversion of model '{model.name}' failed: {first[:300]}")
    return ValueError(
        f"TFLite conversion of model '{model.name}' failed: these ops have no TFLite "
        f"built-in kernel: {', '.join(dict.fromkeys(refused))}. tflite_export allows only "
        "built-in ops, so that any LiteRT interpreter runs the file: replace those layers by "
        "ones built from supported ops (Dense, Conv, pooling, elementwise math), or export "
        "the model another way (model.export(path, format='tf_saved_model'))."
    )


def _layer_of(calls: list[str], layer_names: set[str]) -> str | None:
    """The deepest layer named in a converter location such as 'model/dense_1/MatMul@fn'."""
    found = None
    for call in calls:
        for part in call.split("@")[0].split("/"):
            name = part if part in layer_names else re.sub(r"_\d+$", "", part)
            if name in layer_names:
                found = name
    return found


def _check_int8(content: bytes) -> None:
    """Refuse an "int8" file whose weights stayed float32 (calibration saw no usable data)."""
    tensors = inspection.inspect(content).tensors
    if tensors and not any(t.dtype == "int8" for t in tensors):
        raise ValueError(
            'quantize="int8" produced a float32 file: the converter got no usable '
            "calibration samples from representative_data (an empty iterable, or samples "
            "that are not finite). Give it a few hundred real input samples."
        )
