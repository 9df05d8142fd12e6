"""`tfmot.experimental`: TFMOT's collaborative optimization (`combine`)."""

from kerasprune.tfmot.experimental import combine

__all__ = ["combine"]
