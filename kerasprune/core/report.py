"""`sparsity_report(model)`: how many zeros each weight of a model holds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import keras

from kerasprune.core.model_walk import model_units, prune_wrappers
from kerasprune.core.registry import named_variables, prunable_weight_names
from kerasprune.core.validation import check_model


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
    check_model(model)
    rows = [_row(layer, name, weight) for layer, name, weight in _prunable_weights(model)]
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
