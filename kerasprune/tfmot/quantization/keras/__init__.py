"""`tfmot.quantization.keras`: whole-model quantization-aware training with TFMOT's names."""

from kerasprune.tfmot.quantization.keras.quantize import (
    Default8BitQuantizeScheme,
    QuantizeScheme,
    quantize_annotate_layer,
    quantize_annotate_model,
    quantize_apply,
    quantize_model,
    quantize_scope,
)

__all__ = [
    "Default8BitQuantizeScheme",
    "QuantizeScheme",
    "quantize_annotate_layer",
    "quantize_annotate_model",
    "quantize_apply",
    "quantize_model",
    "quantize_scope",
]
