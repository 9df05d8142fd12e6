"""Channel analysis: which channels of a Functional graph can be removed, and their constants.

Every channel position of every tensor is mapped to an "atom": one channel created by one
producing layer. Layers that keep channels aligned (Add, BatchNormalization, depthwise
conv, ...) unify the atoms of their inputs and output, so that a set of unified atoms is
one channel that lives or dies everywhere together: a channel group. Each tensor also
carries, per channel, the constant it holds whatever the input (NaN when not constant).
How each layer moves atoms and constants is its `LayerRule`
(`kerasprune.structured.layer_rules`); a layer without a rule is opaque.

A channel group is removable when it is constant in every tensor it reaches, no model
output contains it, and every layer mixing it into other channels can absorb its constant
(the rules state these conditions with `require`, each with the reason it would fail).

`ChannelAnalysis` builds all of this and is never changed afterwards. What to remove is
a `Decision` on it (`decide`: every removable group, keeping one channel of each tensor;
or the groups pruning chose), and the rules' costs and rebuilds read a decision:
`cost(decision)` is a pure function of it.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.structured import (  # noqa: F401 (they register the built-in rules)
    attention_rules,
    channelwise_rules,
    conv_rules,
)
from kerasprune.structured.layer_rules import (
    ChannelSlot,
    LayerRule,
    channels,
    rule_for,
    variables_by_name,
)

WeightView = Callable[[keras.layers.Layer, str], np.ndarray]


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
            "keras.Input(shape) so that its graph of layers can be followed."
        )
    if graph is None:
        raise ValueError(
            f"Model '{model.name}' of type {type(model).__name__} is subclassed: channels "
            "can only be followed (and removed) in Functional or Sequential models, whose "
            "graph of layers is known."
        )
    return graph


def current_weight(layer: keras.layers.Layer, name: str) -> np.ndarray:
    """The default weight view: the variable's current value."""
    return np.asarray(variables_by_name(layer)[name])


def nested_graph(operation):
    """The Functional graph of a model used as a layer, or None for any other operation."""
    if isinstance(operation, keras.Model):
        return _compat.functional_graph(operation)
    return None


class LayerCall:
    """One call of a layer in the graph, as the rules see it (wrappers looked through)."""

    def __init__(self, node):
        layer = node.operation
        self.layer = layer.layer if isinstance(layer, PruneWrapper) else layer
        self.inputs = list(node.input_tensors)
        self.output = node.outputs[0] if len(node.outputs) == 1 else None
        self.rule: LayerRule | None = None  # set by the walk when a rule understands it


class UnionFind:
    """Sets of integers `0..n-1` joined by `union`; `find` gives a set's representative.

    Example:

    >>> sets = UnionFind(4)
    >>> sets.union(1, 3)
    >>> [sets.find(i) for i in range(4)], sets.add(2).tolist(), sets.find(5)
    ([0, 1, 2, 1], [4, 5], 5)
    """

    def __init__(self, count: int = 0):
        self._parent = list(range(count))

    def __len__(self) -> int:
        return len(self._parent)

    def add(self, count: int) -> np.ndarray:
        """`count` new single-element sets; returns their elements."""
        start = len(self._parent)
        self._parent += list(range(start, start + count))
        return np.arange(start, start + count)

    def find(self, x: int) -> int:
        parent = self._parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        """Join the sets of `x` and `y` (`x`'s representative stays)."""
        rx, ry = self.find(int(x)), self.find(int(y))
        if rx != ry:
            self._parent[ry] = rx

    def roots(self) -> np.ndarray:
        """The representative of every element."""
        return np.array([self.find(x) for x in range(len(self._parent))], dtype=np.int64)


class ChannelAnalysis:
    """The atoms and constants of every tensor of a Functional graph, and what may go.

    Args:
        graph: a Functional graph (see `graph_of`) whose layers are called once each.
            `PruneWrapper` layers are looked through.
        weights: `(layer, name) -> array`, the weight values the rules see; by default
            the current values (a what-if analysis passes other ones).

    Attributes:
        roots: per atom, the representative atom of its channel group.
        removable: per atom (read at its root), True where its group may be removed.
        slots: the `ChannelSlot`s of every understood layer, in graph order.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                           keras.layers.Dense(2)])
    >>> kernel, bias = model.layers[0].get_weights()
    >>> kernel[:, 1] = 0.0
    >>> model.layers[0].set_weights([kernel, bias])
    >>> analysis = ChannelAnalysis(graph_of(model))
    >>> decide(analysis).keep(model.layers[0].output).tolist()
    [True, False, True]
    """

    def __init__(self, graph, *, weights: WeightView = current_weight):
        self._atoms: dict[int, np.ndarray] = {}  # id(tensor) -> atom id per channel
        self._values: dict[int, np.ndarray] = {}  # id(tensor) -> constant or NaN per channel
        self._sets = UnionFind()
        self._constraints: list[tuple[np.ndarray, np.ndarray, str]] = []
        self._internal: dict[int, np.ndarray] = {}  # id(layer) -> atoms living inside it
        self._weights = weights
        self._where = "a model input"  # where the channels being assigned come from
        self.calls: dict[int, LayerCall] = {}  # id(node) -> the call, its rule if any
        self._node_of: dict[int, object] = {}  # id(layer) -> its node
        self.slots: list[ChannelSlot] = []
        for tensor in graph.inputs:
            self.fresh(tensor, np.full(channels(tensor), np.nan))
        self._walk(graph)
        for tensor in graph.outputs:
            self.pin(tensor, "it reaches a model output")
        self.roots = self._sets.roots()
        self.removable, self._blocked_by = self._removable_roots()

    # --- what rules use -------------------------------------------------------
    def atoms(self, tensor) -> np.ndarray:
        """The atom of each channel of `tensor`."""
        return self._atoms[id(tensor)]

    def values(self, tensor) -> np.ndarray:
        """The constant of each channel of `tensor`, NaN where not constant."""
        return self._values[id(tensor)]

    def weight(self, layer, name: str) -> np.ndarray:
        """The value of `layer`'s weight `name` ("kernel", "query/kernel") as seen here."""
        return np.asarray(self._weights(layer, name), dtype=np.float64)

    def fresh(self, tensor, values: np.ndarray) -> None:
        """Give `tensor` new atoms (a layer that creates its channels)."""
        self.assign(tensor, self.new_atoms(values.size), values)

    def new_atoms(self, count: int) -> np.ndarray:
        """`count` new atoms (for a tensor, or channels inside a layer such as heads)."""
        return self._sets.add(count)

    def assign(self, tensor, atoms: np.ndarray, values: np.ndarray) -> None:
        """Set the atoms and constants of `tensor`; a channel must be constant to go."""
        self._atoms[id(tensor)] = atoms
        self._values[id(tensor)] = values.astype(np.float64)
        self.require(atoms, ~np.isnan(values), f"it is not constant after {self._where}")

    def unify(self, a: np.ndarray, b: np.ndarray) -> None:
        """Make atoms `a[i]` and `b[i]` one channel, for every i."""
        for x, y in zip(a, b):
            self._sets.union(x, y)

    def require(self, atoms: np.ndarray, ok: np.ndarray, reason: str) -> None:
        """Atom `atoms[i]` may be removed only if `ok[i]`; `reason` says why not."""
        self._constraints.append((atoms, ok, reason))

    def pin(self, tensor, reason: str) -> None:
        """Keep every channel of `tensor`; `reason` says why."""
        atoms = self.atoms(tensor)
        self.require(atoms, np.zeros(atoms.size, dtype=bool), reason)

    def set_internal(self, layer, atoms: np.ndarray) -> None:
        """Remember the atoms living inside `layer` (attention heads) for its rule."""
        self._internal[id(layer)] = atoms

    def internal(self, layer) -> np.ndarray:
        """The atoms `set_internal` remembered for `layer`."""
        return self._internal[id(layer)]

    # --- what the decision and the callers use ----------------------------------------
    def call_at(self, node) -> LayerCall | None:
        """The `LayerCall` of `node` (its `rule` is None if the layer was opaque)."""
        return self.calls.get(id(node))

    def call_of(self, layer) -> LayerCall | None:
        """The `LayerCall` of `layer` (unwrapped), or None if the walk did not reach it
        (called inside a subclassed model or layer)."""
        node = self._node_of.get(id(layer))
        return None if node is None else self.calls[id(node)]

    def blocked_by(self, root: int) -> str:
        """Why the channel group of `root` cannot be removed ("" if it can)."""
        index = self._blocked_by[root]
        return "" if index < 0 else self._constraints[index][2]

    def evaluate(self, layer, values: list[np.ndarray]) -> np.ndarray:
        """`layer`'s output when its input tensors hold `values` (one constant per
        channel), its other arguments as in the graph."""
        node = self._node_of[id(layer)]
        arrays = {id(t): np.nan_to_num(v).astype(np.float32)
                  for t, v in zip(node.input_tensors, values)}
        return np.asarray(_compat.call_on_values(node, arrays), dtype=np.float64)

    def _walk(self, graph, seen: set[int] | None = None) -> None:
        seen = set() if seen is None else seen
        for node in _compat.graph_nodes(graph):
            operation = node.operation
            if id(operation) in seen:
                raise ValueError(
                    f"Layer '{operation.name}' is called more than once in model "
                    f"'{graph.name}': channels of a shared layer cannot be removed."
                )
            seen.add(id(operation))
            inner = nested_graph(operation)
            if inner is not None and len(node.input_tensors) == len(inner.inputs):
                self._walk_nested(node, inner, seen)
            else:
                self._visit(node)

    def _walk_nested(self, node, inner, seen: set[int]) -> None:
        """A model used as a layer: its own graph, on the outer tensors' channels."""
        for outer, tensor in zip(node.input_tensors, inner.inputs):
            self._atoms[id(tensor)] = self.atoms(outer)
            self._values[id(tensor)] = self.values(outer)
        self._walk(inner, seen)
        for outer, tensor in zip(node.outputs, inner.outputs):
            self._atoms[id(outer)] = self.atoms(tensor)
            self._values[id(outer)] = self.values(tensor)

    def _visit(self, node) -> None:
        call = LayerCall(node)
        self.calls[id(node)] = call
        self._node_of[id(call.layer)] = node
        self._where = f"'{call.layer.name}' ({type(call.layer).__name__})"
        known = all(id(t) in self._atoms for t in call.inputs)
        if call.output is not None and call.inputs and known:
            call.rule = rule_for(call.layer, call.inputs)
            if call.rule is not None:
                call.rule.propagate(self, call.layer, call.inputs, call.output)
                self.slots += call.rule.slots(self, call.layer, call.inputs, call.output)
                return
        for tensor in call.inputs:
            if id(tensor) in self._atoms:
                self.pin(tensor, f"it enters {self._where}, which structured pruning does "
                         "not understand")
        self._where = f"{self._where}, whose outputs are not followed"
        for tensor in node.outputs:
            self.fresh(tensor, np.full(channels(tensor), np.nan))

    def _removable_roots(self) -> tuple[np.ndarray, np.ndarray]:
        roots = self.roots
        removable = np.ones(len(self._sets), dtype=bool)
        blocked_by = np.full(len(self._sets), -1, dtype=np.int64)
        for index, (atoms, ok, _) in enumerate(self._constraints):
            bad = np.unique(roots[atoms[~ok]])
            bad = bad[blocked_by[bad] < 0]
            blocked_by[bad] = index
            removable[bad] = False
        return removable, blocked_by

    def tensor_atoms(self) -> list[np.ndarray]:
        """The atoms of every tensor and of every layer's inner channels (heads)."""
        return [*self._atoms.values(), *self._internal.values()]


class Decision:
    """Which channels of an analysis are removed, as the rules' costs and rebuilds read it.

    Reads like the analysis (`atoms`, `values`, `weight`, `internal`, ...) plus `keep`.

    Args:
        analysis: the `ChannelAnalysis`.
        removed: boolean per atom, True where the atom's channel is removed.
    """

    def __init__(self, analysis: ChannelAnalysis, removed: np.ndarray):
        self.analysis = analysis
        self.removed = removed

    def __getattr__(self, name):
        return getattr(self.analysis, name)

    def keep(self, tensor_or_atoms) -> np.ndarray:
        """Boolean per channel of a tensor (or per atom of an array): True where kept."""
        atoms = tensor_or_atoms if isinstance(tensor_or_atoms, np.ndarray) else self.atoms(
            tensor_or_atoms)
        return ~self.removed[atoms]


def decide(analysis: ChannelAnalysis) -> Decision:
    """Remove every removable channel group, but keep one channel of every tensor (and of
    every layer's inner channels) that would lose them all: `shrink`'s decision."""
    removable = analysis.removable.copy()
    for atoms in analysis.tensor_atoms():
        if atoms.size and removable[analysis.roots[atoms]].all():
            removable[analysis.roots[atoms[0]]] = False
    return Decision(analysis, removable[analysis.roots])


def cost(decision: Decision) -> tuple[int, int]:
    """`(multiply-accumulates, parameters)` of the understood layers under `decision`."""
    macs = params = 0
    for call in decision.analysis.calls.values():
        if call.rule is not None:
            m, p = call.rule.cost(decision, call.layer, call.inputs, call.output)
            macs, params = macs + int(m), params + int(p)
    return macs, params
