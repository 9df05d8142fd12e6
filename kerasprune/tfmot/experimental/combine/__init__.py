"""`tfmot.experimental.combine`: the pruning-preserving quantization scheme."""

from kerasprune.tfmot.quantization.keras.quantize import Default8BitQuantizeScheme


class Default8BitPrunePreserveQuantizeScheme(Default8BitQuantizeScheme):
    """TFMOT's PQAT scheme: int8 quantization-aware training that keeps every zero of a
    pruned (stripped) model, here as masks applied after every optimizer step."""

    preserves_sparsity = True


__all__ = ["Default8BitPrunePreserveQuantizeScheme"]
