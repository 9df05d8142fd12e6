"""Channel groups: the channels of a model that structured pruning must remove together.

The groups are those of `ChannelAnalysis` (channels joined by Add/Multiply/...,
Concatenate slices, depthwise convs, BatchNormalization, activations, pooling, padding,
Flatten/Reshape into a Dense, attention heads), found by a what-if analysis: every weight
a `PruneWrapper` masks is set to zero, every other weight to a generic non-zero value,
and a group is *safe* when `shrink` could then remove it exactly. Only safe groups are
pruned; a pruned layer none of whose channels is in a safe group is left whole, and the
report says why (its channels reach a model output, an opaque layer, a zero-padded
convolution with a non-zero constant, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from kerasprune.core.model_walk import prune_wrappers
from kerasprune.structured.channel_analysis import (
    ChannelAnalysis,
    Decision,
    UnionFind,
    cost,
    graph_of,
    variables_by_name,
)
from kerasprune.structured.layer_rules import ChannelSlot, why_no_rule


@dataclass
class Member:
    """A pruned layer's channel slot and the group of each of its channels (-1: none)."""

    slot: ChannelSlot
    wrapper: keras.layers.Layer | None
    groups: np.ndarray


class ChannelGroups:
    """The safe channel groups of a model and how they couple its pruned layers.

    Args:
        model: a Functional or Sequential model; its `PruneWrapper` layers (not the
            normalization followers) are the pruned layers. A model without wrappers is
            read as if every layer with channel weights were pruned.

    Attributes:
        members: the `Member`s (pruned layers' channel slots), in graph order.
        count: the number of safe groups.
        component: per group, the index of its set of coupled layers.
        left_whole: `{layer name: reason}` for pruned layers with no safe group.

    Example:

    >>> inputs = keras.Input((8, 8, 3))
    >>> a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    >>> b = keras.layers.Conv2D(4, 1, name="b")(inputs)
    >>> x = keras.layers.Add()([a, b])
    >>> model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="out")(x))
    >>> groups = ChannelGroups(model)
    >>> groups.count, groups.left_whole
    (4, {'out': 'it reaches a model output'})
    """

    def __init__(self, model: keras.Model):
        graph = graph_of(model)
        wrappers = [w for w in prune_wrappers(model) if w.follows is None]
        masked = _masked_names(graph, prune_wrappers(model))
        self.analysis = ChannelAnalysis(graph, weights=_what_if(masked))
        by_layer = {id(w.layer): w for w in wrappers}
        roots, safe = self.analysis.roots, self.analysis.removable
        chosen = [s for s in self.analysis.slots if id(s.layer) in by_layer or (
            not wrappers and s.scored)]
        member_roots = np.concatenate([roots[s.atoms] for s in chosen] or [np.zeros(0, int)])
        safe_roots = np.unique(member_roots[safe[member_roots]])
        self._group_of_root = np.full(len(roots), -1, dtype=np.int64)
        self._group_of_root[safe_roots] = np.arange(safe_roots.size)
        self.count = int(safe_roots.size)
        self.members = [Member(s, by_layer.get(id(s.layer)), self._group_of_root[roots[s.atoms]])
                        for s in chosen]
        self.component = self._components()
        self.left_whole = self._left_whole(wrappers, chosen)

    def removal(self, pruned: np.ndarray) -> np.ndarray:
        """Per atom of the analysis: True where its group is in `pruned` (bool per group)."""
        groups = self._group_of_root[self.analysis.roots]
        return np.where(groups >= 0, pruned[np.maximum(groups, 0)], False)

    def cost(self, pruned: np.ndarray) -> tuple[int, int]:
        """`(multiply-accumulates, parameters)` of the understood layers without `pruned`."""
        return cost(Decision(self.analysis, self.removal(pruned)))

    def _components(self) -> np.ndarray:
        """Groups sharing a member (a layer's channel slot) are coupled; connected groups
        form one set. A layer's separate slots (an encoder's heads and its feed-forward
        units) are separate sets: each reaches the target on its own in layer scope."""
        sets = UnionFind(self.count)
        for member in self.members:
            groups = np.unique(member.groups[member.groups >= 0]).tolist()
            for g in groups[1:]:
                sets.union(groups[0], g)
        return np.unique(sets.roots(), return_inverse=True)[1]

    def _left_whole(self, wrappers, chosen) -> dict[str, str]:
        slotted = {id(s.layer) for s in chosen}
        reasons = {w.layer.name: self._not_followed(w.layer)
                   for w in wrappers if id(w.layer) not in slotted}
        partly_safe = {id(m.slot.layer) for m in self.members if (m.groups >= 0).any()}
        for member in self.members:
            layer = member.slot.layer
            if id(layer) not in partly_safe and member.groups.size:
                root = self.analysis.roots[member.slot.atoms[0]]
                reasons.setdefault(layer.name, self.analysis.blocked_by(root))
        return reasons

    def _not_followed(self, layer) -> str:
        """Why no rule gave a pruned layer channel slots."""
        call = self.analysis.call_of(layer)
        if call is None:
            return (f"structured pruning does not follow {type(layer).__name__} layers called "
                    "inside a subclassed model or layer")
        if call.rule is None and call.output is not None:
            return why_no_rule(call.layer, call.inputs)
        return f"structured pruning finds no channels to remove in this {type(layer).__name__}"

    def __str__(self) -> str:
        lines = [f"{self.count} channel groups in {len(set(self.component.tolist()))} "
                 "sets of coupled layers"]
        names: dict[int, set[str]] = {}
        for member in self.members:
            for g in np.unique(member.groups[member.groups >= 0]):
                names.setdefault(int(self.component[g]), set()).add(member.slot.layer.name)
        for c, layer_names in sorted(names.items()):
            size = int((self.component == c).sum())
            if len(layer_names) > 1:
                lines.append(f"  {size} groups couple {', '.join(sorted(layer_names))}")
            else:
                lines.append(f"  {size} groups in {next(iter(layer_names))} alone")
        for name, reason in self.left_whole.items():
            lines.append(f"  left whole: {name}: {reason}")
        return "\n".join(lines)


def channel_groups(model: keras.Model) -> ChannelGroups:
    """The channel groups structured pruning finds in `model`, and the layers left whole.

    `print(channel_groups(model))` lists the sets of coupled layers (a residual stream's
    convolutions, a depthwise conv and the conv before it, ...) and every pruned layer
    left whole, with the reason.

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="hidden"),
    ...                           keras.layers.Dense(2, name="logits")])
    >>> groups = channel_groups(kerasprune.prune(model, pattern=kerasprune.Channels()))
    >>> groups.count, groups.left_whole
    (8, {'logits': 'it reaches a model output'})
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    return ChannelGroups(model)


def _masked_names(graph, wrappers) -> dict[int, set[str]]:
    """`{id(layer): names of its masked weights}`: the wrappers' own, or for a model
    without wrappers, every channel weight a rule declares."""
    if wrappers:
        return {id(w.layer): set(w.weight_names or ()) for w in wrappers}
    generic = ChannelAnalysis(graph)  # the slots a rule declares do not depend on weights
    masked: dict[int, set[str]] = {}
    for slot in generic.slots:
        if slot.scored:
            masked.setdefault(id(slot.layer), set()).update(slot.axes)
    return masked


def _what_if(masked: dict[int, set[str]]):
    """A weight view: masked weights are 0, all others a generic non-zero value."""
    rng = np.random.default_rng(0)

    def view(layer, name):
        shape = variables_by_name(layer)[name].shape
        if name in masked.get(id(layer), ()):
            return np.zeros(shape)
        return rng.uniform(0.5, 1.5, size=shape)

    return view
