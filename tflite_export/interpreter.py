"""Loading a TFLite model into a LiteRT interpreter, with a fallback chain.

Implementations are tried in order: `ai-edge-litert` (the maintained one),
`tflite-runtime` (its deprecated predecessor), then `tf.lite` (deprecated in
TensorFlow 2.21 but always there when TensorFlow is). An implementation that is
not installed, or that is installed but cannot build an interpreter (e.g.
tflite-runtime 2.14 compiled against NumPy 1.x under NumPy 2), is skipped and
the reason is kept in `LoadedInterpreter.notes`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import numbers
import os
import re
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

BACKENDS: tuple[str, ...] = ("ai_edge_litert", "tflite_runtime", "tensorflow")

_BACKEND_MODULES = {
    "ai_edge_litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow",
}

_TFLITE_IDENTIFIER = b"TFL3"
# The names a traced function gives its positional arguments and its flat outputs.
_POSITIONAL_NAME = re.compile(r"(?:args|output)_(\d+)")
# A dimension other than the batch that a file leaves open (-1 in its shape_signature) is
# stored with size 1, at which a convolution's output is empty and LiteRT fails to
# prepare: the interpreter is built with such dimensions at this size instead.
OPEN_SIZE = 4


@dataclasses.dataclass
class LoadedInterpreter:
    """An allocated interpreter and how it was obtained.

    Attributes:
        interpreter: the `Interpreter` object, tensors already allocated.
        backend: which implementation built it (one of `BACKENDS`).
        resolver: `"xnnpack"` (default delegates on) or `"builtin"`
            (`BUILTIN_WITHOUT_DEFAULT_DELEGATES`).
        notes: why earlier backends or the XNNPACK delegate were skipped.
    """

    interpreter: Any
    backend: str
    resolver: str
    notes: list[str]


def read_model(model: bytes | str | os.PathLike) -> bytes:
    """Returns the bytes of a TFLite flatbuffer given as bytes or a path.

    Raises `FileNotFoundError` for a missing file and `ValueError` when the
    content is not a TFLite flatbuffer.

    Example:
    content = read_model("model.tflite")
    """
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise FileNotFoundError(
                f"No TFLite file at model={os.fspath(model)!r}."
            )
        with open(model, "rb") as f:
            content = f.read()
        source = f"the file {os.fspath(model)!r}"
    elif isinstance(model, (bytes, bytearray, memoryview)):
        content = bytes(model)
        source = "the bytes given"
    else:
        raise TypeError(
            "Expected TFLite bytes or a path to a .tflite file. "
            f"Received: model of type {type(model).__name__}"
        )
    if len(content) < 8 or content[4:8] != _TFLITE_IDENTIFIER:
        raise ValueError(
            f"{source.capitalize()} is not a TFLite flatbuffer (no 'TFL3' "
            f"identifier at bytes 4-8; got {content[4:8]!r}, "
            f"{len(content)} bytes in total)."
        )
    return content


def _interpreter_api(backend: str) -> tuple[Any, Any]:
    """Returns (Interpreter class, OpResolverType enum) of a backend."""
    module = importlib.import_module(_BACKEND_MODULES[backend])
    if backend == "tensorflow":
        return module.lite.Interpreter, module.lite.experimental.OpResolverType
    return module.Interpreter, module.OpResolverType


def _build(api, content: bytes, num_threads: int, resolver: str):
    interpreter_cls, resolver_type = api
    kind = (
        resolver_type.AUTO
        if resolver == "xnnpack"
        else resolver_type.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    with warnings.catch_warnings():
        # tf.lite.Interpreter warns it is deprecated: we know, it is the last resort.
        warnings.simplefilter("ignore", UserWarning)
        interpreter = interpreter_cls(
            model_content=content,
            num_threads=num_threads,
            experimental_op_resolver_type=kind,
        )
    _open_dims_at_a_usable_size(interpreter)
    interpreter.allocate_tensors()
    if resolver == "xnnpack":
        _invoke_on_zeros(interpreter)  # XNNPACK may refuse a node only at the first invoke
    return interpreter


def _open_dims_at_a_usable_size(interpreter) -> None:
    for detail in interpreter.get_input_details():
        signature = [int(d) for d in detail.get("shape_signature", detail["shape"])]
        if any(d < 0 for d in signature[1:]):
            shape = [int(n) if i == 0 or d >= 0 else OPEN_SIZE
                     for i, (d, n) in enumerate(zip(signature, detail["shape"]))]
            interpreter.resize_tensor_input(detail["index"], shape)


def _invoke_on_zeros(interpreter) -> None:
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()


def _build_with_fallback(api, content: bytes, num_threads: int, xnnpack: bool):
    """(interpreter, resolver used, why XNNPACK was refused or None)."""
    refusal = None
    if xnnpack:
        try:
            return _build(api, content, num_threads, "xnnpack"), "xnnpack", None
        except Exception as e:  # the delegate fails in Prepare: RuntimeError/ValueError
            refusal = _first_line(e)
    return _build(api, content, num_threads, "builtin"), "builtin", refusal


def _check_backends(backends: Sequence[str]) -> None:
    unknown = [b for b in backends if b not in BACKENDS]
    if not backends or unknown or isinstance(backends, str):
        raise ValueError(
            f"Expected a non-empty sequence of backends from {BACKENDS}. "
            f"Received: backends={backends!r}"
        )


def load_interpreter(
    model: bytes | str | os.PathLike,
    *,
    num_threads: int = 1,
    xnnpack: bool = True,
    backends: Sequence[str] = BACKENDS,
) -> LoadedInterpreter:
    """Builds and allocates an interpreter, falling back along `backends`.

    With `xnnpack=True` the default delegates (XNNPACK) are on; if XNNPACK
    refuses the model (int8 sparse FULLY_CONNECTED fails to prepare), the same
    backend is retried with built-in kernels and a note says so.

    Args:
        model: TFLite bytes or path to a .tflite file.
        num_threads: interpreter threads (>= 1).
        xnnpack: try the default XNNPACK delegate first.
        backends: implementations to try, in order; a subset of `BACKENDS`.
            Passing `("tensorflow",)` forces the last resort.

    Example:
    loaded = load_interpreter("model.tflite", xnnpack=False)
    loaded.backend, loaded.resolver
    ('ai_edge_litert', 'builtin')
    """
    content = read_model(model)
    if not is_count(num_threads) or num_threads < 1:
        raise ValueError(
            f"Expected num_threads to be an int >= 1. Received: num_threads={num_threads!r}"
        )
    num_threads = int(num_threads)
    _check_backends(backends)
    notes: list[str] = []
    for backend in backends:
        try:
            api = _interpreter_api(backend)
        except ImportError as e:
            notes.append(f"{backend}: not installed ({e}); skipped.")
            continue
        try:
            interpreter, resolver, refusal = _build_with_fallback(api, content, num_threads, xnnpack)
        except Exception as e:  # backends raise ValueError, RuntimeError, SystemError...
            notes.append(
                f"{backend}: cannot build an interpreter "
                f"({type(e).__name__}: {_first_line(e)}); skipped."
            )
            continue
        if refusal is not None:
            notes.append(
                f"{backend}: XNNPACK refused the model ({refusal}); ran with built-in kernels."
            )
        return LoadedInterpreter(interpreter, backend, resolver, notes)
    raise RuntimeError(
        "No LiteRT interpreter could run this model. " + " ".join(notes)
    )


def is_count(value: Any) -> bool:
    """True for Python or numpy integers (0-d integer arrays too), False for bools and
    floats."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


def run(
    interpreter: Any, x: np.ndarray | Sequence[np.ndarray], batch_size: int = 256
) -> np.ndarray:
    """Runs an interpreter over `x` in batches, returns its (first) output.

    `x` is one array (or a list, one per model input) with a batch axis first. A file
    converted with a fixed batch (recurrent layers convert with batch 1) runs in
    batches of that size. `run_outputs` returns every output.

    Example:
    y = run(load_interpreter(content).interpreter, x_test)
    """
    return run_outputs(interpreter, x, batch_size)[0]


def run_outputs(
    interpreter: Any, x: np.ndarray | Sequence[np.ndarray], batch_size: int = 256
) -> list[np.ndarray]:
    """Every output of the interpreter over `x` (in the model's output order), as `run`.

    Example:
    logits, boxes = run_outputs(load_interpreter(content).interpreter, x_test)
    """
    inputs = list(x) if isinstance(x, (list, tuple)) else [x]
    input_details = model_input_details(interpreter)
    check_inputs(input_details, inputs)
    n = len(inputs[0])
    fixed = int(input_details[0].get("shape_signature", [-1])[0])
    batch_size = fixed if fixed > 0 else batch_size
    output_details = model_output_details(interpreter)  # indices stay through resizes
    batches = []
    for start in range(0, n, batch_size):
        chunk = [a[start : start + batch_size] for a in inputs]
        real = len(chunk[0])
        if fixed > 0 and real < fixed:  # the last batch, padded to the file's batch
            chunk = [np.concatenate([a, np.zeros((fixed - real,) + a.shape[1:], a.dtype)])
                     for a in chunk]
        _set_inputs(interpreter, input_details, chunk)
        interpreter.invoke()
        batches.append([interpreter.get_tensor(out["index"])[:real].copy()
                        for out in output_details])
    return [np.concatenate(parts) for parts in zip(*batches)]


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Descriptor 2 (where LiteRT's native code logs, such as "Created TensorFlow Lite
    XNNPACK delegate for CPU") to /dev/null for a while; Python errors still raise."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def invoke_once(interpreter: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every output of one invoke on `inputs` (one array per model input, one batch).

    Example:
    outputs = invoke_once(load_interpreter(content).interpreter, [x[:1]])
    """
    details = model_input_details(interpreter)
    check_inputs(details, list(inputs))
    _set_inputs(interpreter, details, list(inputs))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]).copy() for d in model_output_details(interpreter)]


def model_input_details(interpreter: Any) -> list[dict]:
    """`get_input_details()` in the model's input order (`get_input_details` lists them by
    tensor index: a file's three inputs can come as args_2, args_0, args_1). The order is
    the file's signature's: positional names (`convert`'s files) by number, other names
    sorted (a dict's order; Keras' own export names a list's inputs by layer name, so its
    files take them in that sorted order)."""
    return _in_signature_order(interpreter, interpreter.get_input_details(), "inputs")


def model_output_details(interpreter: Any) -> list[dict]:
    """`get_output_details()` in the model's output order (see `model_input_details`)."""
    return _in_signature_order(interpreter, interpreter.get_output_details(), "outputs")


def _in_signature_order(interpreter: Any, details: list[dict], kind: str) -> list[dict]:
    """`details` in the order of the file's only signature: positional names (args_0,
    output_0, ...) by number, other names (a dict's keys) sorted, as `keras.tree.flatten`
    orders a dict. A file without exactly one signature keeps the order given."""
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        return details
    runner = interpreter.get_signature_runner(next(iter(signatures)))
    named = runner.get_input_details() if kind == "inputs" else runner.get_output_details()
    by_index = {int(d["index"]): d for d in details}
    if sorted(by_index) != sorted(int(d["index"]) for d in named.values()):
        return details
    return [by_index[int(named[name]["index"])] for name in sorted(named, key=_name_order)]


def _name_order(name: str) -> tuple:
    match = _POSITIONAL_NAME.fullmatch(name)
    return (0, int(match.group(1)), "") if match else (1, 0, name)


def check_inputs(input_details: list[dict], arrays: list[np.ndarray]) -> None:
    """Refuse arrays that do not match the model's inputs after the batch axis.

    The interpreter would otherwise reshape them silently (a wrong width can still run,
    on the wrong data) or fail deep inside a delegate.
    """
    if len(arrays) != len(input_details):
        raise ValueError(
            f"The TFLite model has {len(input_details)} input(s). "
            f"Received: {len(arrays)} input array(s)"
        )
    for detail, array in zip(input_details, arrays):
        expected = [int(d) for d in detail["shape_signature"]][1:]
        shape = tuple(np.shape(array))
        fits = len(shape) == len(expected) + 1 and all(
            e < 0 or e == a for e, a in zip(expected, shape[1:]))
        if not fits:
            wanted = ", ".join("None" if e < 0 else str(e) for e in expected)
            raise ValueError(
                f"Expected inputs of shape (batch, {wanted}) for the model's input "
                f"'{detail['name']}'. Received: an array of shape {shape}"
            )


def _set_inputs(interpreter: Any, details: list[dict], arrays: list[np.ndarray]) -> None:
    resized = False
    for detail, array in zip(details, arrays):
        if tuple(detail["shape"]) != array.shape:
            interpreter.resize_tensor_input(detail["index"], list(array.shape))
            resized = True
    if resized:
        interpreter.allocate_tensors()
        details = model_input_details(interpreter)
    for detail, array in zip(details, arrays):
        interpreter.set_tensor(detail["index"], np.asarray(array, dtype=detail["dtype"]))
