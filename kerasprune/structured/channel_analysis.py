"""Channel analysis: which channels of a Functional graph can be removed, and their constants.

Every channel position of every tensor is mapped to an "atom": one channel created by one
producing layer. Layers that keep channels aligned (Add, BatchNormalization, depthwise
conv, ...) unify the atoms of their inputs and output, so that a set of unified atoms is
one channel that lives or dies everywhere together. Each tensor also carries, per
channel, the constant it holds whatever the input (NaN when not constant). How each layer
moves atoms and constants is its `LayerRule` (`kerasprune.structured.layer_rules`).

A channel (a set of unified atoms) is removable when it is constant in every tensor it
reaches, no model output contains it, and every layer mixing it into other channels can
absorb its constant (the rules state these conditions with `require`).
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.structured.layer_rules import LayerRule, channels, rule_for


def graph_of(model: keras.Model):
    """The Functional graph of `model` (a Sequential model keeps one inside).

    Raises:
        ValueError: naming the model when it has no graph of layers (subclassed models,
            Sequential models without an input shape).
    """
    graph = _compat.functional_graph(model)
    if graph is None and isinstance(model, keras.Sequential):
        raise ValueError(
            f"Sequential model '{model.name}' has no known input shape: start it with "
            "keras.Input(shape) so that shrink can follow its graph."
        )
    if graph is None:
        raise ValueError(
            f"Model '{model.name}' of type {type(model).__name__} is subclassed: shrink can "
            "only rebuild Functional or Sequential models, whose graph of layers is known."
        )
    return graph


class ChannelAnalysis:
    """The atoms and constants of every tensor of a Functional graph, and the decision.

    Args:
        graph: a Functional graph (see `graph_of`) whose layers are called once each.

    Attributes:
        removed: boolean per atom, True where the atom's channel is removed.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                           keras.layers.Dense(2)])
    >>> kernel, bias = model.layers[0].get_weights()
    >>> kernel[:, 1] = 0.0
    >>> model.layers[0].set_weights([kernel, bias])
    >>> analysis = ChannelAnalysis(graph_of(model))
    >>> analysis.keep(model.layers[0].output).tolist()
    [True, False, True]
    """

    def __init__(self, graph):
        self._atoms: dict[int, np.ndarray] = {}  # id(tensor) -> atom id per channel
        self._values: dict[int, np.ndarray] = {}  # id(tensor) -> constant or NaN per channel
        self._parent: list[int] = []
        self._constraints: list[tuple[np.ndarray, np.ndarray]] = []
        self._rules: dict[int, LayerRule] = {}  # id(node) -> the rule that handled it
        seen: set[int] = set()
        for tensor in graph.inputs:
            self.fresh(tensor, np.full(channels(tensor), np.nan))
        for node in _compat.graph_nodes(graph):
            layer = node.operation
            if id(layer) in seen:
                raise ValueError(
                    f"Layer '{layer.name}' is called more than once in model '{graph.name}': "
                    "shrink cannot remove channels of a shared layer."
                )
            seen.add(id(layer))
            self._visit(node)
        for tensor in graph.outputs:
            self.pin(tensor)
        self.removed = self._decide()

    # --- what rules use -------------------------------------------------------
    def atoms(self, tensor) -> np.ndarray:
        """The atom of each channel of `tensor`."""
        return self._atoms[id(tensor)]

    def values(self, tensor) -> np.ndarray:
        """The constant of each channel of `tensor`, NaN where not constant."""
        return self._values[id(tensor)]

    def fresh(self, tensor, values: np.ndarray) -> None:
        """Give `tensor` new atoms (a layer that creates its channels)."""
        start = len(self._parent)
        self._parent += list(range(start, start + values.size))
        self.assign(tensor, np.arange(start, start + values.size), values)

    def assign(self, tensor, atoms: np.ndarray, values: np.ndarray) -> None:
        """Set the atoms and constants of `tensor`; a channel must be constant to go."""
        self._atoms[id(tensor)] = atoms
        self._values[id(tensor)] = values.astype(np.float64)
        self.require(atoms, ~np.isnan(values))

    def unify(self, a: np.ndarray, b: np.ndarray) -> None:
        """Make atoms `a[i]` and `b[i]` one channel, for every i."""
        for x, y in zip(a, b):
            rx, ry = self._find(int(x)), self._find(int(y))
            if rx != ry:
                self._parent[ry] = rx

    def require(self, atoms: np.ndarray, ok: np.ndarray) -> None:
        """Atom `atoms[i]` may be removed only if `ok[i]`."""
        self._constraints.append((atoms, ok))

    def pin(self, tensor) -> None:
        """Keep every channel of `tensor` (a model output, an opaque layer's input)."""
        atoms = self.atoms(tensor)
        self.require(atoms, np.zeros(atoms.size, dtype=bool))

    def keep(self, tensor) -> np.ndarray:
        """Boolean per channel of `tensor`: True where the channel stays."""
        return ~self.removed[self.atoms(tensor)]

    def rule_at(self, node) -> LayerRule | None:
        """The rule that handled `node`, or None if its layer was opaque."""
        return self._rules.get(id(node))

    # --- the walk and the decision ------------------------------------------------
    def _find(self, atom: int) -> int:
        parent = self._parent
        while parent[atom] != atom:
            parent[atom] = parent[parent[atom]]
            atom = parent[atom]
        return atom

    def _visit(self, node) -> None:
        ins, outs = node.input_tensors, node.outputs
        if len(outs) == 1 and len(ins) >= 1 and all(id(t) in self._atoms for t in ins):
            rule = rule_for(node.operation, ins)
            if rule is not None:
                rule.propagate(self, node)
                self._rules[id(node)] = rule
                return
        for tensor in ins:
            if id(tensor) in self._atoms:
                self.pin(tensor)
        for tensor in outs:
            self.fresh(tensor, np.full(channels(tensor), np.nan))

    def _decide(self) -> np.ndarray:
        roots = np.array([self._find(a) for a in range(len(self._parent))], dtype=np.int64)
        removable = np.ones(len(self._parent), dtype=bool)
        for atoms, ok in self._constraints:
            np.logical_and.at(removable, roots[atoms], ok)
        # Never empty a tensor: keep its first channel if all of them could go.
        for atoms in self._atoms.values():
            if atoms.size and removable[roots[atoms]].all():
                removable[roots[atoms[0]]] = False
        return removable[roots]
