"""TFMOT's quantization-aware training calls mapped onto `kerasprune.quantization`.

TFMOT annotates the layers to quantize, then `quantize_apply` wraps them with a scheme;
`Default8BitPrunePreserveQuantizeScheme` (`tfmot.experimental.combine`) keeps a pruned
model's zeros. Here a whole Sequential or Functional model is quantized (TFMOT's usual
call): `quantize_annotate_model` marks it, `quantize_apply` is
`kerasprune.quantization.quantize_model`, keeping the zeros with the prune-preserving
scheme (as masks, exact through training) and not with the default one.
"""

from __future__ import annotations

import contextlib

import keras

from kerasprune.core.validation import check_model
from kerasprune.quantization import quantize_model as quantize_aware_copy

_ANNOTATED = "_kerasprune_quantize_annotated"


class QuantizeScheme:
    """Base of the schemes `quantize_apply` takes (TFMOT's `QuantizeScheme`)."""

    #: Keep the zeros of a (stripped) pruned model through training.
    preserves_sparsity = False


class Default8BitQuantizeScheme(QuantizeScheme):
    """TFMOT's default: int8 weights and activations; zeros may fill during training."""


def quantize_annotate_model(to_annotate: keras.Model) -> keras.Model:
    """Mark a whole Sequential or Functional model for `quantize_apply` (TFMOT's API).

    The model itself is returned, marked; quantizing only some layers (TFMOT's
    `quantize_annotate_layer`) is not supported: `kerasprune.quantization` quantizes whole
    models, as TFLite's int8 kernels need every activation's range.
    """
    model = check_model(to_annotate, "to_annotate")
    object.__setattr__(model, _ANNOTATED, True)
    return model


def quantize_annotate_layer(to_annotate, quantize_config=None):
    """Not supported: TFMOT's per-layer annotation. `kerasprune.quantization` quantizes
    whole models (TFLite's int8 kernels need every activation's range)."""
    raise NotImplementedError(
        "quantize_annotate_layer is not supported by kerasprune.tfmot: annotate the whole "
        "model with quantize_annotate_model(model), or call "
        "kerasprune.quantization.quantize_model(model). Received: layer "
        f"'{getattr(to_annotate, 'name', to_annotate)}'")


def quantize_apply(model: keras.Model, scheme: QuantizeScheme | None = None) -> keras.Model:
    """A quantization-aware copy of an annotated model (TFMOT's API).

    Args:
        model: a model returned by `quantize_annotate_model`.
        scheme: `Default8BitQuantizeScheme()` (default) or
            `tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()`, which
            keeps every zero of the model's kernels as a mask.

    Example:

    >>> import keras
    >>> import kerasprune.tfmot as tfmot
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> qat = tfmot.quantization.keras.quantize_apply(
    ...     tfmot.quantization.keras.quantize_annotate_model(model),
    ...     tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
    >>> type(qat.layers[0]).__name__
    'QuantizeWrapper'
    """
    scheme = Default8BitQuantizeScheme() if scheme is None else scheme
    if not isinstance(scheme, QuantizeScheme):
        raise TypeError(
            "`scheme` must be Default8BitQuantizeScheme() or "
            "tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme(). "
            f"Received: scheme={scheme!r}")
    if not getattr(model, _ANNOTATED, False):
        raise ValueError(
            "`quantize_apply` can only be called on a model returned by "
            "`quantize_annotate_model`. Received: model "
            f"'{getattr(model, 'name', model)}'")
    return quantize_aware_copy(model, preserve_sparsity=scheme.preserves_sparsity)


def quantize_model(to_quantize: keras.Model) -> keras.Model:
    """`quantize_apply(quantize_annotate_model(model))` with the default scheme."""
    return quantize_apply(quantize_annotate_model(to_quantize))


@contextlib.contextmanager
def quantize_scope(*args):
    """Not needed (kerasprune's layers are registered with Keras); kept for TFMOT scripts."""
    yield
