"""`tfmot.quantization`: TFMOT's quantization-aware training names, on
`kerasprune.quantization` (`tfmot.quantization.keras`)."""

from kerasprune.tfmot.quantization import keras

__all__ = ["keras"]
