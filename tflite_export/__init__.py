"""Export pruned Keras 3 models to sparse TFLite, inspect them and benchmark them.

Example:
import tflite_export
content = tflite_export.convert(pruned_model)
print(tflite_export.inspect(content))
print(tflite_export.compare({"dense": dense, "pruned": pruned}, x, y))

May import: `kerasprune` (its public names), `kerasprune.core.caller`, keras, numpy; inside
functions also tensorflow, ai_edge_litert and tflite_runtime (the converter and the
interpreters, loaded when used).
"""

from tflite_export.benchmarking import BenchmarkReport, Timing, benchmark
from tflite_export.comparison import Comparison, ComparisonRow, compare
from tflite_export.conversion import convert
from tflite_export.inspection import Inspection, WeightTensor, inspect
from tflite_export.interpreter import BACKENDS, LoadedInterpreter, load_interpreter, read_model
from tflite_export.sparse_kernels import SparsityWarning, tflite_block_shape, why_not_sparse_kernel

__all__ = [
    "BACKENDS",
    "BenchmarkReport",
    "Comparison",
    "ComparisonRow",
    "Inspection",
    "LoadedInterpreter",
    "SparsityWarning",
    "Timing",
    "WeightTensor",
    "benchmark",
    "compare",
    "convert",
    "inspect",
    "load_interpreter",
    "read_model",
    "tflite_block_shape",
    "why_not_sparse_kernel",
]
