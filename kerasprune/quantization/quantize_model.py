"""`quantize_model`: a quantization-aware copy of a model, its sparsity kept.

Every layer of a Sequential or Functional model is wrapped in a `QuantizeWrapper`; the
layers that read a model input also quantize that input, so the TFLite file's input scale
comes from training. A pruning-ready model keeps its `PruneWrapper`s inside (masks, pattern,
scope and resume state: the pruning callbacks keep working on the copy, and masks stay
exact). A plain model keeps the zeros its kernels hold: they become masks (written by
`kerasprune.core.mask_update`, from a selector that keeps every zero), as TFMOT's
pruning-preserving quantization-aware training keeps them.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.mask_update import update
from kerasprune.core.model_walk import (
    all_layers,
    copy_weights,
    fresh_copy,
    is_graph_model,
    model_units,
    prune_wrappers,
)
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.selectors import Selector
from kerasprune.core.validation import check_model, is_bool
from kerasprune.core.wrapping import prune
from kerasprune.quantization import layer_roles
from kerasprune.quantization.activation_range import DEFAULT_EMA_DECAY, check_ema_decay
from kerasprune.quantization.quantize_wrapper import QuantizeWrapper


def quantize_model(
    model: keras.Model,
    *,
    preserve_sparsity: bool = True,
    ema_decay: float = DEFAULT_EMA_DECAY,
) -> keras.Model:
    """Return a quantization-aware copy of `model` (the input model is untouched).

    Its forward pass computes with int8 fake-quantized kernels (per output channel,
    symmetric: a zero stays exactly zero) and activations (per tensor, over ranges set by
    `calibrate` or by the first training batches, then moving averages), with
    straight-through gradients. Train it with `fit` as usual (the pruning callbacks too:
    prune and quantize in one `fit`), then export it with
    `tflite_export.convert(model, quantize="int8")`, which takes its ranges.

    Args:
        model: a built Sequential or Functional model, pruning-ready or plain, made of
            the layer types `kerasprune.quantization.layer_roles` lists.
        preserve_sparsity: for a model without `PruneWrapper`s: keep the zeros of every
            kernel as masks (True), or let training fill them (False). A pruning-ready
            model always keeps its masks.
        ema_decay: the decay of the activation ranges' moving averages, in [0, 1).

    Returns:
        The copy, with the same weights (and masks), uncompiled.

    Example:

    >>> import keras, kerasprune
    >>> from kerasprune.quantization import quantize_model, quantize_wrappers
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="d")])
    >>> qat = quantize_model(kerasprune.prune(model))
    >>> [type(w.layer).__name__ for w in quantize_wrappers(qat)]
    ['PruneWrapper']
    """
    model = check_model(model)
    ema_decay = check_ema_decay(ema_decay)
    if not is_bool(preserve_sparsity):
        raise TypeError(
            "`preserve_sparsity` must be True or False. "
            f"Received: preserve_sparsity={preserve_sparsity!r}")
    _check_structure(model)
    if preserve_sparsity and not prune_wrappers(model):
        model = zeros_as_masks(model)
    readers = _model_input_readers(model)
    copies = []

    def clone(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return fresh_copy(layer)
        copy = fresh_copy(layer)
        if isinstance(layer, PruneWrapper):  # built now: its resume state comes with it
            copy.build_from_config(layer.get_build_config())
        copies.append((layer, copy))
        return QuantizeWrapper(copy, quantize_inputs=id(layer) in readers, ema_decay=ema_decay)

    quantized = keras.models.clone_model(model, clone_function=clone)
    for old, copy in copies:
        copy_weights(old, copy)
    return quantized


def quantize_wrappers(model: keras.layers.Layer) -> list[QuantizeWrapper]:
    """All `QuantizeWrapper` layers inside `model`."""
    return [layer for layer in all_layers(model) if isinstance(layer, QuantizeWrapper)]


class ZerosKept(Selector):
    """Masks that keep every weight that is not exactly zero (and prune every zero)."""

    def select(self, model, wrappers, sparsity, final):
        for wrapper in wrappers:
            yield wrapper, [(np.asarray(w) != 0).astype(np.asarray(m).dtype)
                            for w, m in zip(wrapper.pruned_weights, wrapper.masks)]


def zeros_as_masks(model: keras.Model) -> keras.Model:
    """`model` itself when no kernel holds a zero; else a pruning-ready copy whose masks
    are the zeros of the kernels that hold some.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    >>> _ = model.layers[0].kernel.assign(np.eye(4, 2, dtype="float32"))
    >>> [round(w.sparsity, 2) for w in kerasprune.prune_wrappers(zeros_as_masks(model))]
    [0.75]
    """
    names = {layer.name for layer in model_units(model)
             if layer_roles.channel_axes(layer) is not None and layer.built
             and np.any(np.asarray(layer.kernel) == 0)}
    if not names:
        return model
    pruned = prune(model, layers=lambda layer: layer.name in names, min_density=0.0)
    update(pruned, ZerosKept())
    return pruned


def _check_structure(model: keras.Model) -> None:
    """Refuse what `quantize_model` cannot copy: subclassed or nested models, graph
    operations that are not layers, layer types without a role, a quantized model."""
    if quantize_wrappers(model):
        raise ValueError(
            f"Model '{model.name}' is already quantization-aware (it holds QuantizeWrapper "
            "layers).")
    nested = [l.name for l in _compat.direct_sublayers(model) if isinstance(l, keras.Model)]
    if not is_graph_model(model) or nested:
        raise ValueError(
            "quantize_model needs a Sequential or Functional model without nested models, "
            "whose graph says where each activation range goes. Received: model "
            f"'{model.name}' of type {type(model).__name__}"
            + (f" with nested models {nested}" if nested else ""))
    half = [l.name for l in model_units(model)
            if _inner(l).dtype_policy.compute_dtype in ("float16", "bfloat16")]
    if half:
        raise ValueError(
            f"Model '{model.name}' computes in float16 or bfloat16 in layers {half} (a "
            "mixed-precision policy): quantize_model simulates int8 arithmetic on float32 "
            "values. Build the model under keras.mixed_precision.set_global_policy("
            "'float32') (copy the weights over) and quantize that.")
    graph = _compat.functional_graph(model)
    operations = [n.operation for n in (_compat.graph_nodes(graph) if graph else [])
                  if not isinstance(n.operation, keras.layers.Layer)]
    unknown = [f"{l.name} ({type(_inner(l)).__name__})" for l in model_units(model)
               if not layer_roles.is_known(_inner(l))]
    if operations or unknown:
        _raise_unknown(model, unknown, operations)
    several = [layer.name for layer in model_units(model)
               if id(layer) in _model_input_readers(model)
               and len(_compat.inbound_producers(layer)) > 1]
    if several:
        raise ValueError(
            f"Model '{model.name}' has layers that read a model input together with other "
            f"tensors: {several}. The layer reading a model input quantizes it with one "
            "range: give each input a layer of its own first (e.g. a Dense or "
            "keras.layers.Identity per input) before merging them.")


def _raise_unknown(model: keras.Model, unknown: list, operations: list) -> None:
    raise ValueError(
        f"Model '{model.name}' holds what kerasprune.quantization cannot quantize: "
        f"{unknown + [f'{op.name} (a keras.ops call)' for op in operations]}. Known layer "
        f"types: {layer_roles.known_types()} (use layers, e.g. keras.layers.Add, rather "
        "than keras.ops calls between them).")


def _inner(layer):
    return layer.layer if isinstance(layer, PruneWrapper) else layer


def _model_input_readers(model: keras.Model) -> set[int]:
    """`id`s of the layers called on a model input (they quantize it)."""
    if isinstance(model, keras.Sequential):
        units = model_units(model)
        return {id(units[0])} if units else set()
    return {id(layer) for layer in model_units(model)
            if any(isinstance(p, keras.layers.InputLayer)
                   for p in _compat.inbound_producers(layer))}
