"""`sparsity_report(model)`: how many zeros each weight of a model holds, and what they save.

Besides the zeros, the report counts multiply-accumulates (MACs) per layer: those of the
dense layer and those that remain when every zero weight is skipped, and the model's
theoretical speed-up, dense MACs / remaining MACs (the FLOP measure of Blalock et al.
and of the retraining paper's Table 2). `multiply_accumulates(model)` gives the per-layer
counts alone, for any model (pruned, stripped or shrunk).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core.model_walk import all_layers, model_units, prune_wrappers
from kerasprune.core.registry import (
    fact,
    layer_macs,
    mac_variables,
    named_variables,
    prunable_weight_names,
)
from kerasprune.core.validation import check_model, check_shape


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
class MacRow:
    """One layer's multiply-accumulates for one example: dense, and with zero weights skipped."""

    layer: str
    dense: int
    remaining: int


@dataclass(frozen=True)
class SparsityReport:
    """Per-weight rows plus totals; `print(report)` shows a table.

    `total` is the sparsity over the rows (the prunable weights); `model_sparsity` is the
    fraction of zeros among all the model's weights (biases and normalization included).
    `macs_not_counted` names the layers with prunable weights whose MACs kerasprune cannot
    count (`"name (Class)"`): the MAC totals and `speedup` leave them out.
    """

    rows: list[SparsityRow] = field(default_factory=list)
    model_zeros: int = 0
    model_size: int = 0
    macs: list[MacRow] | None = None
    macs_not_counted: list[str] = field(default_factory=list)

    @property
    def dense_macs(self) -> int | None:
        """Multiply-accumulates of one example through the dense model (None: not counted)."""
        return None if self.macs is None else sum(r.dense for r in self.macs)

    @property
    def remaining_macs(self) -> int | None:
        """Multiply-accumulates left when every zero weight is skipped."""
        return None if self.macs is None else sum(r.remaining for r in self.macs)

    @property
    def speedup(self) -> float | None:
        """Theoretical speed-up: dense MACs / remaining MACs (None when not counted)."""
        if not self.macs or not self.remaining_macs:
            return None
        return self.dense_macs / self.remaining_macs

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
        return "\n".join(body + [rule, fmt.format(*lines[-1]), "", self._macs_text()])

    def _macs_text(self) -> str:
        if self.macs is None:
            return ("MACs not counted: the model's input shape is unknown; pass "
                    "sparsity_report(model, input_shape=...).")
        width = max([24] + [len(r.layer) for r in self.macs])
        lines = [f"{'layer':<{width}}  {'dense MACs':>14}  {'remaining MACs':>14}"]
        lines += [f"{r.layer:<{width}}  {r.dense:>14,}  {r.remaining:>14,}" for r in self.macs]
        speedup = "n/a" if self.speedup is None else f"{self.speedup:.2f}x"
        lines.append(f"{'total':<{width}}  {self.dense_macs:>14,}  {self.remaining_macs:>14,}  "
                     f"theoretical speed-up {speedup}")
        if self.macs_not_counted:
            lines.append(f"MACs not counted for {', '.join(self.macs_not_counted)}: no MAC "
                         "count is known for their type, so the totals and speed-up cover "
                         "the other layers only.")
        return "\n".join(lines)


def sparsity_report(
    model: keras.Model,
    *,
    input_shape: tuple | None = None,
    baseline: keras.Model | None = None,
) -> SparsityReport:
    """Report the sparsity of every prunable weight of `model` and the MACs it saves.

    For a pruning-ready model the rows are the wrapped weights; for a plain (e.g.
    stripped) model they are the weights kerasprune would prune. The MAC counts
    (`macs`, `dense_macs`, `remaining_macs`, `speedup`) come from `multiply_accumulates`;
    they are None when the input shape is unknown and `input_shape` is not given.

    Args:
        model: a built Keras model.
        input_shape: one example's input shape (without the batch axis), needed for the
            MAC counts when the model's inputs have unknown dimensions.
        baseline: the model `model` was made from, e.g. the pruned model before
            `kerasprune.shrink`: each layer's dense MACs are then the baseline's (matched
            by layer name), so `speedup` is the baseline's MACs over this model's.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))
    >>> _ = kerasprune.update_masks(model, 0.5)
    >>> report = kerasprune.sparsity_report(model)
    >>> report.total, report.dense_macs, report.remaining_macs, report.speedup
    (0.5, 32, 16, 2.0)
    """
    check_model(model)
    if baseline is not None:
        check_model(baseline, "baseline")
    if input_shape is None and not _input_fully_known(model):
        macs = None
    else:
        macs = multiply_accumulates(model, input_shape=input_shape)
        if baseline is not None:
            macs = _against(macs, multiply_accumulates(baseline, input_shape=input_shape))
    prunable = _prunable_weights(model)
    rows = [_row(layer, name, weight) for layer, name, weight in prunable]
    masks = {id(m) for w in prune_wrappers(model) for m in w.masks}
    values = [np.asarray(v) for v in model.weights if id(v) not in masks]
    return SparsityReport(
        rows=rows,
        model_zeros=int(sum(v.size - np.count_nonzero(v) for v in values)),
        model_size=int(sum(v.size for v in values)),
        macs=macs,
        macs_not_counted=[] if macs is None else _not_counted(model, prunable),
    )


def _not_counted(model, prunable) -> list[str]:
    """`"name (Class)"` of each layer holding a prunable weight that no layer's MAC count
    covers, unless its spec says its weights take no MACs (an embedding)."""
    layers = all_layers(model)
    counted = {id(v) for layer in layers if _counted(layer) for v in mac_variables(layer)}
    owners = {id(v): layer for layer in layers for v in _compat.own_variables(layer)}
    names = []
    for layer, _, weight in prunable:
        owner = owners.get(id(weight), layer)
        label = f"{layer.name} ({type(layer).__name__})"
        if id(weight) not in counted and fact(owner, "mac_weights") != () and label not in names:
            names.append(label)
    return names


def _prunable_weights(model):
    wrappers = [w for w in prune_wrappers(model) if w.follows is None]
    if wrappers:
        return [(w.layer, n, v) for w in wrappers for n, v in zip(w.weight_names, w.pruned_weights)]
    triples = []
    for layer in model_units(model):
        variables = named_variables(layer)
        triples += [(layer, n, variables[n]) for n in prunable_weight_names(layer) or ()
                    if n in variables]
    return triples


def _row(layer, name: str, weight) -> SparsityRow:
    value = np.asarray(weight)
    nonzeros = int(np.count_nonzero(value))
    return SparsityRow(
        layer=layer.name,
        weight=name,
        shape=tuple(int(d) for d in value.shape),
        nonzeros=nonzeros,
        sparsity=1.0 - nonzeros / value.size if value.size else 0.0,
    )


# -- multiply-accumulates ---------------------------------------------------------------

def multiply_accumulates(model: keras.Model, *, input_shape: tuple | None = None) -> list[MacRow]:
    """Multiply-accumulates of one example through each layer with weights that multiply.

    One forward pass (batch of 1, zeros, inference mode) records where every Dense,
    EinsumDense, convolution (plain, depthwise, separable, transposed), SimpleRNN/LSTM/
    GRU, ConvLSTM and MultiHeadAttention layer is called; a layer's MACs are the positions it is
    applied at (output pixels, time steps, tokens) times its kernel size, plus its products
    without weights (attention scores), summed over its calls: the count of its
    `kerasprune.core.registry.LayerSpec`, which structured pruning's costs read too.
    `remaining` counts the nonzero weights only: what a sparse kernel would compute.
    Biases, normalization and activations are not counted.

    Args:
        model: a built Keras model (Sequential, Functional or subclassed).
        input_shape: one example's input shape without the batch axis; by default the
            model's own (it must have no unknown dimension besides the batch).

    Returns:
        One `MacRow(layer, dense, remaining)` per called layer, in the model's order.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> [(r.dense, r.remaining) for r in multiply_accumulates(model)]  # 16 positions x 36
    [(576, 576), (128, 128)]
    """
    check_model(model)
    example = _example_input(model, input_shape)
    layers = [layer for layer in all_layers(model) if _counted(layer)]
    calls = {id(layer): [] for layer in layers}

    def observe(layer, inputs, outputs):
        shapes = [tuple(t.shape[1:]) for t in inputs]
        calls[id(layer)].append((shapes, tuple(keras.tree.flatten(outputs)[0].shape[1:])))

    with _compat.observing_calls(layers, observe):
        model(example, training=False)
    rows = []
    for layer in layers:
        weights = [np.asarray(w) for w in mac_variables(layer)]
        size = sum(w.size for w in weights)
        nonzero = sum(int(np.count_nonzero(w)) for w in weights)
        dense = sum(layer_macs(layer, i, o, size) for i, o in calls[id(layer)])
        if dense:
            remaining = sum(layer_macs(layer, i, o, nonzero) for i, o in calls[id(layer)])
            rows.append(MacRow(layer=layer.name, dense=dense, remaining=remaining))
    return rows


def _against(rows: list[MacRow], baseline_rows: list[MacRow]) -> list[MacRow]:
    """`rows` with each layer's dense count taken from the baseline (removed layers: 0 left)."""
    dense = {r.layer: r.dense for r in baseline_rows}
    names = {r.layer for r in rows}
    result = [MacRow(r.layer, dense.get(r.layer, r.dense), r.remaining) for r in rows]
    return result + [MacRow(r.layer, r.dense, 0) for r in baseline_rows if r.layer not in names]


def _counted(layer) -> bool:
    """Whether the spec of `layer` counts multiply-accumulates for it."""
    return bool(mac_variables(layer)) or fact(layer, "extra_macs") is not None


def _input_fully_known(model) -> bool:
    inputs = _compat.model_inputs(model)
    return inputs is not None and all(
        d is not None for t in keras.tree.flatten(inputs) for d in t.shape[1:]
    )


def _check_input_shape(model, input_shape) -> None:
    """One example's shape: positive ints, fitting the model's input where it is known."""
    input_shape = check_shape("input_shape", input_shape,
                              "(28, 28, 1): one example, without the batch axis")
    inputs = keras.tree.flatten(getattr(model, "inputs", None) or [])
    if len(inputs) > 1:
        raise ValueError(
            f"`input_shape` describes one input, and model '{model.name}' has {len(inputs)}: "
            "leave `input_shape` out (their shapes are known). "
            f"Received: input_shape={tuple(input_shape)!r}")
    known = tuple(inputs[0].shape[1:]) if inputs else None
    if known is not None and (len(known) != len(input_shape) or any(
            k is not None and k != d for k, d in zip(known, input_shape))):
        raise ValueError(
            f"`input_shape` must fit the input of model '{model.name}', of shape {known}. "
            f"Received: input_shape={tuple(input_shape)!r}")


def _example_input(model, input_shape):
    """A batch of one zero example, in the structure the model is called with."""
    if input_shape is not None:
        _check_input_shape(model, input_shape)
        return np.zeros((1, *input_shape), dtype="float32")
    if not _input_fully_known(model):
        raise ValueError(
            f"The input shape of model '{model.name}' is not fully known: pass "
            "`input_shape` (one example's shape, without the batch axis)."
        )
    return keras.tree.map_structure(
        lambda t: np.zeros((1, *t.shape[1:]), dtype=keras.backend.standardize_dtype(t.dtype)),
        _compat.model_inputs(model),
    )
