"""quantization: int8 quantization-aware training that keeps a pruned model's sparsity.

Owns `QuantizeWrapper` (a layer run with fake-quantized int8 kernels, per output channel
and symmetric, and int8 activations over ranges tracked with moving averages, with
straight-through gradients; a `PruneWrapper` inside keeps its masks exact), the tracked
range `ActivationRange`, the int8 arithmetic itself (`fake_quant`), the roles of layer
types (`layer_roles`), `quantize_model` (a quantization-aware copy of a model, masks kept
or made from its zeros), `calibrate`, and the switches the TFLite exporter traces under
(`modes`).
May import: `kerasprune.core`, `kerasprune._compat`, keras, numpy.
"""

from kerasprune.quantization.activation_range import ActivationRange
from kerasprune.quantization.calibration import calibrate, uncalibrated_ranges
from kerasprune.quantization.quantize_model import quantize_model, quantize_wrappers
from kerasprune.quantization.quantize_wrapper import QuantizeWrapper

__all__ = [
    "ActivationRange",
    "QuantizeWrapper",
    "calibrate",
    "quantize_model",
    "quantize_wrappers",
    "uncalibrated_ranges",
]
