"""`sparsity_report(model)`: how many zeros each weight of a model holds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import keras

from kerasprune.core.model_walk import all_layers, prune_wrappers
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.registry import prunable_weight_names


@dataclass(frozen=True)
class SparsityRow:
    """One weight tensor: its layer, name, shape, nonzero count and sparsity."""

    layer: str
    weight: str
    shape: tuple[int, ...]
    nonzeros: int
    sparsity: float

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class SparsityReport:
    """Per-weight rows plus totals; `print(report)` shows a table.

    `total` is the sparsity over the rows (the prunable weights); `model_sparsity` is the
    fraction of zeros among all the model's weights (biases and normalization included).
    """

    rows: list[SparsityRow] = field(default_factory=list)
    model_zeros: int = 0
    model_size: int = 0

    @property
    def total(self) -> float:
        size = sum(r.size for r in self.rows)
        return 1.0 - sum(r.nonzeros for r in self.rows) / size if size else 0.0

    @property
    def model_sparsity(self) -> float:
        return self.model_zeros / self.model_size if self.model_size else 0.0

    def as_dict(self) -> dict[str, float]:
        """`{"layer/weight": sparsity}` for every row."""
        return {f"{r.layer}/{r.weight}": r.sparsity for r in self.rows}

    def __str__(self) -> str:
        header = ("layer", "weight", "shape", "nonzeros", "sparsity")
        lines = [
            (r.layer, r.weight, "x".join(map(str, r.shape)), f"{r.nonzeros:,}", f"{r.sparsity:.2%}")
            for r in self.rows
        ]
        nonzeros = sum(r.nonzeros for r in self.rows)
        lines.append(("total", "", f"{sum(r.size for r in self.rows):,}", f"{nonzeros:,}",
                      f"{self.total:.2%}"))
        widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
        fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
        rule = "  ".join("-" * w for w in widths)
        body = [fmt.format(*header), rule] + [fmt.format(*line) for line in lines[:-1]]
        return "\n".join(body + [rule, fmt.format(*lines[-1])])


def sparsity_report(model: keras.Model) -> SparsityReport:
    """Report the sparsity of every prunable weight of `model`.

    For a pruning-ready model the rows are the wrapped weights; for a plain (e.g.
    stripped) model they are the weights kerasprune would prune.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))
    >>> _ = kerasprune.update_masks(model, 0.5)
    >>> kerasprune.sparsity_report(model).total
    0.5
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    rows = [_row(layer, weight) for layer, weight in _prunable_weights(model)]
    masks = {id(m) for w in prune_wrappers(model) for m in w.masks}
    values = [np.asarray(v) for v in model.weights if id(v) not in masks]
    return SparsityReport(
        rows=rows,
        model_zeros=int(sum(v.size - np.count_nonzero(v) for v in values)),
        model_size=int(sum(v.size for v in values)),
    )


def _prunable_weights(model):
    wrappers = [w for w in prune_wrappers(model) if w.follows is None]
    if wrappers:
        return [(w.layer, v) for w in wrappers for v in w.pruned_weights]
    pairs = []
    for layer in all_layers(model):
        if isinstance(layer, keras.Model) or isinstance(layer, PruneWrapper):
            continue
        names = prunable_weight_names(layer)
        if names:
            pairs += [(layer, v) for v in layer.weights if v.name in names]
    return pairs


def _row(layer, weight) -> SparsityRow:
    value = np.asarray(weight)
    nonzeros = int(np.count_nonzero(value))
    return SparsityRow(
        layer=layer.name,
        weight=weight.name,
        shape=tuple(int(d) for d in value.shape),
        nonzeros=nonzeros,
        sparsity=1.0 - nonzeros / value.size if value.size else 0.0,
    )


_MAC_LAYERS = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)


@dataclass(frozen=True)
class MacCount:
    """Multiply-accumulates of one example's forward pass through the kernels.

    `dense` counts every kernel weight, `nonzero` only the nonzero ones; `speedup` is
    their ratio, the theoretical speed-up of seed 003's Table 2.
    """

    dense: int
    nonzero: int

    @property
    def speedup(self) -> float:
        return self.dense / self.nonzero if self.nonzero else float("inf")


def count_macs(model: keras.Model) -> MacCount:
    """Dense and nonzero multiply-accumulates of the Dense and convolution kernels.

    Each kernel weight is used once per output position (pixel, or time step of a
    sequence), as in ShrinkBench and the seed 003 code: a kernel costs its size (or its
    nonzero count) times the layer's output positions. Transposed convolutions use
    their input positions. Biases, activations, pooling, normalization, `EinsumDense`
    and `Embedding` lookups are not counted. The model must be built on a
    `keras.Input` (a Sequential or Functional model), so output shapes are known.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(4, 3), keras.layers.Flatten(), keras.layers.Dense(2)]))
    >>> macs = count_macs(model)
    >>> macs.dense  # 36 * 6 * 6 + 144 * 2
    1584
    >>> _ = kerasprune.update_masks(model, 0.5)
    >>> macs = count_macs(model)
    >>> macs.nonzero, round(macs.speedup, 2)
    (792, 2.0)
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model={model!r}")
    dense = nonzero = 0
    for layer, outer in _mac_layers(model):
        positions = _positions(layer, outer)
        for name in prunable_weight_names(layer) or ():
            value = np.asarray(getattr(layer, name))
            dense += value.size * positions
            nonzero += int(np.count_nonzero(value)) * positions
    return MacCount(dense=int(dense), nonzero=int(nonzero))


def _mac_layers(model):
    """`(layer, the layer whose output is the layer's)` for every Dense/conv layer."""
    layers = all_layers(model)
    inner = {id(w.layer): w for w in layers if isinstance(w, PruneWrapper)}
    for layer in layers:
        if isinstance(layer, _MAC_LAYERS):
            yield layer, inner.get(id(layer), layer)


def _positions(layer, outer) -> int:
    transposed = isinstance(layer, _MAC_LAYERS[-3:])
    try:
        shape = (outer.input if transposed else outer.output).shape
    except (AttributeError, ValueError):
        shape = None
    channels_first = getattr(layer, "data_format", None) == "channels_first"
    spatial = None if shape is None else (shape[2:] if channels_first else shape[1:-1])
    if spatial is None or any(d is None for d in spatial):
        raise ValueError(
            f"count_macs needs the output positions of layer '{layer.name}', which are not "
            f"known (shape: {shape}). Build the model as a Sequential or Functional model on "
            "a keras.Input with fixed spatial sizes."
        )
    return int(np.prod(spatial, dtype=np.int64))
