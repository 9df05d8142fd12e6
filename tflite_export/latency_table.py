"""`LatencyTable`: how long single layers take on this machine's LiteRT interpreter, cached.

Latency-targeted channel pruning (`kerasprune.Channels(target="latency")`) predicts a
model's latency as the sum of its layers' (NetAdapt, HALP): each layer alone, with some of
its channels, is converted to a one-op TFLite file and timed with the benchmark module's
two protocols (interleaved and blocked, alternating over every file measured together),
on the interpreter and thread count a deployment uses. Each entry is measured once and
kept in a JSON file keyed by the machine (CPU, LiteRT version, threads) and the layer's
configuration, input shape and channels, so a table fills up once per machine.

A layer is converted once at its first channel counts; its other counts are made from
that file by resizing the tensors of its one CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED op (the same op and options the converter wrote, new random weights);
any other layer is converted at each count. An entry is the mean of the two protocols'
10th percentiles (on a shared machine a longer invoke is preempted more often, which moves
its median and not its low percentiles) less the cost of invoking a one-op file of nothing
(so that the entries of a model's layers add up like its ops do).

The table also times whole models against each other (`model_ratio`: the larger of the two
protocols' ratios, each the median of three alternating rounds) and keeps, per model, the points `kerasprune.structured.latency_cost.Calibration` measured: how
the latency a model really has relates to the sum of its layers' predicted by the table.
"""

from __future__ import annotations

import json
import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from tflite_export import _compat
from tflite_export.benchmarking import (
    check_block,
    check_counts,
    set_single_sample,
    time_blocked,
    time_interleaved,
)
from tflite_export.interpreter import is_count, load_interpreter
from tflite_export.progress import progress_bar

_RESIZABLE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_INVOKE = "invoke"  # the entry of a file that computes next to nothing
_CHUNK = 32  # files timed together (alternating), at most
#: The percentile of invoke times an entry takes: the least disturbed by other processes.
PERCENTILE = 10
#: Alternating rounds of a whole-model comparison (their median is kept).
ROUNDS = 3


def default_path() -> Path:
    """`$XDG_CACHE_HOME/kerasprune/latency.json` (`~/.cache/...` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kerasprune" / "latency.json"


def machine_key(num_threads: int, xnnpack: bool) -> str:
    """What a latency depends on besides the layer: CPU, LiteRT, threads, delegate."""
    try:
        litert = metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        litert = "none"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found.group(1).strip() if found else platform.processor()
    except OSError:
        cpu = platform.processor()
    return (f"{platform.machine()} {cpu or 'cpu'}; ai-edge-litert {litert}; "
            f"{num_threads} thread(s); {'XNNPACK' if xnnpack else 'built-in kernels'}")


class LatencyTable:
    """Single-layer LiteRT latencies of this machine, measured when first asked, cached.

    Called with a list of `kerasprune.structured.latency_cost.LatencyRequest` (a
    serialized Keras layer and its input shape), it returns one latency in microseconds
    per request, measuring the ones the cache does not hold.

    Args:
        path: the JSON cache file (default `default_path()`); None for the default.
        num_threads: interpreter threads, as the deployment will use.
        xnnpack: time with the default XNNPACK delegate (True) or built-in kernels.
        runs: timed invokes per file and protocol.
        warmup: untimed invokes before timing (and before every block).
        verbose: Keras' progress bar while measuring: 1, 0, or `"auto"` (a terminal).

    Example:
    table = LatencyTable()                  # ~/.cache/kerasprune/latency.json
    pattern = kerasprune.Channels("l1", target="latency", latency_table=table)
    """

    def __init__(self, path: str | os.PathLike | None = None, *, num_threads: int = 1,
                 xnnpack: bool = True, runs: int = 30, warmup: int = 5,
                 verbose: int | str = "auto"):
        if not is_count(num_threads) or num_threads < 1:
            raise ValueError(
                f"Expected num_threads to be an int >= 1. Received: num_threads={num_threads!r}")
        if not isinstance(xnnpack, (bool, np.bool_)):
            raise TypeError(f"Expected xnnpack to be True or False. Received: {xnnpack!r}")
        check_counts(runs, warmup)
        check_block(runs)
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError("Expected path to be None or the path of a latency table (a str or "
                            f"os.PathLike). Received: path={path!r} of type {type(path).__name__}")
        self.path = None if path is None else Path(path)
        self.num_threads, self.xnnpack = int(num_threads), bool(xnnpack)
        self.runs, self.warmup, self.verbose = int(runs), int(warmup), verbose
        self.machine = machine_key(self.num_threads, xnnpack)
        stored = self._load()
        self.entries: dict[str, list[float]] = dict(stored.get("layers", {}))
        self.calibrations: dict[str, list] = dict(stored.get("models", {}))
        self.measured = 0  # files timed by this object (the cache held the others)
        self._reference = (None, b"")

    # -- serialization -------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"path": None if self.path is None else str(self.path),
                "num_threads": self.num_threads, "xnnpack": self.xnnpack,
                "runs": self.runs, "warmup": self.warmup}

    @classmethod
    def from_config(cls, config: dict) -> "LatencyTable":
        return cls(**config)

    # -- lookup ----------------------------------------------------------------------------
    def __call__(self, requests: Sequence) -> list[float]:
        """Microseconds per request (each layer alone, less the cost of an invoke)."""
        keys = [request_key(r) for r in requests]
        missing = {k: r for k, r in zip(keys, requests) if k not in self.entries}
        if _INVOKE not in self.entries or missing:
            self._measure(missing)
        overhead = float(np.mean(self.entries[_INVOKE]))
        return [max(float(np.mean(self.entries[k])) - overhead, 0.0) for k in keys]

    def _measure(self, missing: dict) -> None:
        files = _files(missing)
        if _INVOKE not in self.entries:
            files[_INVOKE] = _invoke_file()
        progress = progress_bar(len(files), self.verbose, unit_name="layer")
        names = list(files)
        for start in range(0, len(names), _CHUNK):
            chunk = names[start:start + _CHUNK]
            for name, times in zip(chunk, self._time([files[n] for n in chunk])):
                self.entries[name] = times
            progress.update(min(start + _CHUNK, len(names)))
        self.measured += len(files)
        self._save()

    # -- whole models ------------------------------------------------------------------------
    def model_ratio(self, reference, candidate) -> float:
        """Latency of `candidate` over `reference` (Keras models, converted dense), timed
        together in both protocols, `ROUNDS` alternating rounds: the larger of the two
        protocols' ratios, so that a target met is met in both (interleaving, where the
        other model evicts the caches, favours the smaller model less than blocks do)."""
        from tflite_export.conversion import convert

        if self._reference[0] is not reference:  # the same reference: converted once
            self._reference = (reference, convert(reference, sparse=False, verbose=0))
        contents = [self._reference[1], convert(candidate, sparse=False, verbose=0)]
        saved, rounds = self.runs, []
        self.runs = max(self.runs, 50)  # whole models: more invokes against the load
        try:
            for _ in range(ROUNDS):
                (ref_i, ref_b), (new_i, new_b) = self._time(contents)
                rounds.append((new_i / ref_i, new_b / ref_b))
        finally:
            self.runs = saved
        self.measured += 2
        return float(np.max(np.median(np.array(rounds), axis=0)))

    def calibration(self, key: str) -> list[tuple[float, float]]:
        """The (predicted, measured) latency ratios kept for model `key`."""
        return [tuple(p) for p in self.calibrations.get(key, [])]

    def add_calibration(self, key: str, predicted: float, measured: float) -> None:
        """Keep a (predicted, measured) latency ratio of model `key`, on disk too."""
        self.calibrations.setdefault(key, []).append([float(predicted), float(measured)])
        self._save()

    def _time(self, contents: list[bytes]) -> list[list[float]]:
        """[interleaved, blocked] `PERCENTILE`-th percentile microseconds of each file,
        timed together."""
        loaded = [load_interpreter(c, num_threads=self.num_threads, xnnpack=self.xnnpack)
                  for c in contents]
        interpreters = [item.interpreter for item in loaded]
        for interpreter in interpreters:
            shape = interpreter.get_input_details()[0]["shape"]
            set_single_sample(interpreter, np.zeros(shape, np.float32))
        interleaved = time_interleaved(interpreters, runs=self.runs, warmup=self.warmup)
        blocked = time_blocked(interpreters, runs=self.runs, warmup=self.warmup,
                               block=max(1, self.runs // 2))
        return [[float(np.percentile(i, PERCENTILE)) * 1e6,
                 float(np.percentile(b, PERCENTILE)) * 1e6]
                for i, b in zip(interleaved, blocked)]

    # -- the cache file ----------------------------------------------------------------------
    def _file(self) -> Path:
        return self.path or default_path()

    def _load(self) -> dict:
        """This machine's entries (a path that is not a table is refused: `_read_tables`)."""
        return _read_tables(self._file()).get(self.machine, {})

    def _save(self) -> None:
        path = self._file()
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read_tables(path)  # read again: another process may have added entries
        stored = data.get(self.machine, {})
        models = {**stored.get("models", {}), **self.calibrations}
        data[self.machine] = {"layers": {**stored.get("layers", {}), **self.entries},
                              "models": models}
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=0, sort_keys=True))
        os.replace(tmp, path)


_TABLE_KEYS = {"layers", "models"}


def _read_tables(path: Path) -> dict:
    """`{machine key: {"layers": {...}, "models": {...}}}` from a cache file ({} when there
    is none). Any other file is refused, so that it is never overwritten (measuring
    would replace the user's file, or fail to save after minutes)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = None
    if not _is_table(data):
        raise ValueError(
            "Expected path to be a latency table (a JSON file LatencyTable wrote: "
            '{machine: {"layers": {...}, "models": {...}}}) or a new file. Received: '
            f"path={str(path)!r}, which "
            + ("is a folder" if path.is_dir() else "holds something else")
            + " (it is left as it is); give another path, or delete the file to measure "
            "again.")
    return data


def _is_table(data) -> bool:
    return isinstance(data, dict) and all(
        isinstance(machine, dict) and set(machine) <= _TABLE_KEYS
        and all(isinstance(part, dict) for part in machine.values())
        for machine in data.values())


def request_key(request) -> str:
    """The cache key of a request: the layer's class and config, and its input shape."""
    layer = request.layer
    return json.dumps({"class": layer.get("class_name"), "config": layer.get("config"),
                       "input": [int(d) for d in request.input_shape]}, sort_keys=True)


def _files(requests: dict) -> dict[str, bytes]:
    """One TFLite file per request: a layer converted once, its other sizes resized."""
    files, templates = {}, {}
    for key, request in requests.items():
        family = _family(request)
        if family not in templates:
            templates[family] = (_converted(request), request)
            files[key] = templates[family][0]
            continue
        template, first = templates[family]
        files[key] = _resized(template, first, request) or _converted(request)
    return files


def _family(request) -> str:
    """The requests one conversion serves: the same layer but its channel counts."""
    config = {k: v for k, v in request.layer.get("config", {}).items()
              if k not in ("filters", "units", "groups")}
    return json.dumps({"class": request.layer.get("class_name"), "config": config,
                       "input": [int(d) for d in request.input_shape[:-1]]}, sort_keys=True)


def _converted(request) -> bytes:
    import keras

    from tflite_export.conversion import convert

    layer = keras.layers.deserialize(request.layer)
    model = keras.Sequential([keras.Input(tuple(int(d) for d in request.input_shape)), layer])
    return convert(model, sparse=False, verbose=0)


def _invoke_file() -> bytes:
    """A one-op file of next to no work: what an invoke costs by itself."""
    import keras

    from tflite_export.conversion import convert

    return convert(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]), sparse=False,
                   verbose=0)


def _resized(template: bytes, first, request) -> bytes | None:
    """`template` (one op, converted for `first`) with the channel counts of `request`,
    or None when its op is not one this knows how to resize."""
    model, schema = _compat.flatbuffer_model(template)
    graph = model.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    if len(graph.operators) != 1:
        return None
    op = graph.operators[0]
    code = model.operatorCodes[op.opcodeIndex]
    kind = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
    n_in = int(request.input_shape[-1])
    n_out = _outputs(request, n_in)
    tensors = graph.tensors
    x, w, out = (tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if kind not in _RESIZABLE or n_out is None or tensors[op.inputs[0]].type != 0:
        return None
    if kind == "CONV_2D" and int(w.shape[3]) != int(x.shape[-1]):
        return None  # grouped
    if kind == "FULLY_CONNECTED" and len(x.shape) != 2:
        return None
    if kind == "DEPTHWISE_CONV_2D" and int(w.shape[3]) != int(x.shape[-1]):
        return None  # a depth multiplier
    shapes = {"CONV_2D": [n_out, *w.shape[1:3], n_in], "DEPTHWISE_CONV_2D": [1, *w.shape[1:3],
              n_in], "FULLY_CONNECTED": [n_out, n_in]}
    _reshape(x, n_in)
    _reshape(out, n_out)
    _fill(model, w, shapes[kind])
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        _fill(model, tensors[op.inputs[2]], [n_out])
    return _compat.packed_model(model)


def _outputs(request, n_in: int) -> int | None:
    config = request.layer.get("config", {})
    if request.layer.get("class_name") in ("DepthwiseConv2D", "DepthwiseConv1D"):
        return n_in
    value = config.get("filters", config.get("units"))
    return int(value) if value is not None else None


def _reshape(tensor, channels: int) -> None:
    tensor.shape = np.array([*tensor.shape[:-1], channels], dtype=np.int32)
    if tensor.shapeSignature is not None and len(tensor.shapeSignature):
        tensor.shapeSignature = np.array([*tensor.shapeSignature[:-1], channels], np.int32)


def _fill(model, tensor, shape: list[int]) -> None:
    """Give a constant tensor a new shape and random float32 values."""
    tensor.shape = np.array(shape, dtype=np.int32)
    tensor.shapeSignature = None
    values = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    model.buffers[tensor.buffer].data = np.frombuffer(values.tobytes(), dtype=np.uint8)
