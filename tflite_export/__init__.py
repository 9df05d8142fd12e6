"""Export pruned Keras 3 models to sparse TFLite, inspect them and benchmark them.

Example:
import tflite_export
content = tflite_export.convert(pruned_model)
print(tflite_export.inspect(content))
print(tflite_export.compare({"dense": dense, "pruned": pruned}, x, y))

The names below are imported on first use: inspecting and timing a `.tflite` file needs
only LiteRT, while converting imports Keras and TensorFlow (seconds), so `import
tflite_export` stays cheap for the first two.

`latency_table` times single layers on this machine for latency-targeted channel pruning.

May import: `kerasprune` (its public names), `kerasprune.core.caller`,
`kerasprune.quantization` (a quantization-aware model exports with its trained ranges),
keras, numpy; inside functions also tensorflow, ai_edge_litert, tflite_runtime and
flatbuffers (the converter, the interpreters and the flatbuffer schema, loaded when used).
"""

import importlib

_NAMES = {
    "BenchmarkReport": "benchmarking",
    "Timing": "benchmarking",
    "benchmark": "benchmarking",
    "Comparison": "comparison",
    "ComparisonRow": "comparison",
    "compare": "comparison",
    "convert": "conversion",
    "Inspection": "inspection",
    "LatencyTable": "latency_table",
    "WeightTensor": "inspection",
    "inspect": "inspection",
    "BACKENDS": "interpreter",
    "LoadedInterpreter": "interpreter",
    "load_interpreter": "interpreter",
    "read_model": "interpreter",
    "SparseKernelWarning": "sparse_kernels",
    "SparseInference": "xnnpack_sparse",
    "sparse_inference": "xnnpack_sparse",
    "SparsityWarning": "sparse_kernels",
    "tflite_block_shape": "sparse_kernels",
    "why_not_sparse_kernel": "sparse_kernels",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module 'tflite_export' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tflite_export.{_NAMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted({*globals(), *_NAMES})
