"""Walking and copying models of every kind: Sequential, Functional and subclassed.

`copy_model(model, replace)` returns a new model in which every layer is a fresh copy
with the same weights, except where `replace(layer, twin)` returns a substitute. Sequential
and Functional models (nested ones included, shared layers kept shared) go through
`keras.models.clone_model`; subclassed models (KerasHub backbones and tasks among them, and
those inside a graph) are rebuilt from their config, and their layer attributes (and
graph, for a Functional subclass) are swapped in place on the copy, which records where
its substitutes sit so that it saves and loads with them (`substitution`). The input
model is never modified.

The layers `replace` is offered are the model's units (`model_units`): the layers of each
graph, or a subclassed model's sublayers, with nested models opened. A composite layer
(attention, RNN, a custom block) is one unit.
"""

from __future__ import annotations

import tempfile
from typing import Callable

import keras

from kerasprune import _compat
from kerasprune.core import substitution
from kerasprune.core.prune_wrapper import PruneWrapper

# replace(original layer, its twin in a subclassed model's copy or None) -> substitute | None
Replace = Callable[[keras.layers.Layer, "keras.layers.Layer | None"], "keras.layers.Layer | None"]


def prune_wrappers(model: keras.layers.Layer) -> list:
    """All `PruneWrapper` layers inside `model`, nested models included, each once.

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="hidden"),
    ...                           keras.layers.Dense(2, name="out")])
    >>> [w.layer.name for w in prune_wrappers(kerasprune.prune(model))]
    ['hidden', 'out']
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"`model` must be a keras.Model (or a layer). Received: model={model!r} of type "
            f"{type(model).__name__}")
    return [layer for layer in all_layers(model) if isinstance(layer, PruneWrapper)]


def all_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Every layer below `model` (recursively, without the model itself), each once."""
    seen: dict[int, keras.layers.Layer] = {}
    for layer in _compat.flatten_layers(model):
        seen.setdefault(id(layer), layer)
    return list(seen.values())


def model_units(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers `copy_model` offers to `replace`: nested models opened, each once.

    Example:

    >>> import keras
    >>> inputs = keras.Input((3, 8))
    >>> mha = keras.layers.MultiHeadAttention(2, 4, name="mha")
    >>> model = keras.Model(inputs, mha(inputs, inputs))
    >>> [layer.name for layer in model_units(model)]
    ['mha']
    """
    units: dict[int, keras.layers.Layer] = {}
    for unit, _ in _walk_units(model):
        units.setdefault(id(unit), unit)
    return list(units.values())


def enclosing_models(model: keras.Model) -> dict[int, list[keras.Model]]:
    """`{id(unit): the nested models below `model` that hold the unit}` for each of
    `model_units(model)` (outermost first; a unit shared by two nested models has both).

    Example:

    >>> import keras
    >>> block = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="d")],
    ...                          name="block")
    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, block(inputs))
    >>> [[m.name for m in ms] for ms in enclosing_models(model).values()]
    [['block']]
    """
    outer: dict[int, list[keras.Model]] = {}
    for unit, path in _walk_units(model):
        known = outer.setdefault(id(unit), [])
        known += [m for m in path if all(m is not k for k in known)]
    return outer


def _walk_units(model: keras.Model, path: tuple = ()):
    """`(unit, the nested models on the way to it)` for each unit, repeats included."""
    for layer in _compat.direct_sublayers(model):
        if isinstance(layer, keras.Model):
            yield from _walk_units(layer, path + (layer,))
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer, path


def is_graph_model(model: keras.Model) -> bool:
    """True for Sequential and Functional models (those `clone_model` can rebuild)."""
    return isinstance(model, keras.Sequential) or _compat.is_functional(model)


def fresh_copy(layer: keras.layers.Layer) -> keras.layers.Layer:
    """A new, unbuilt layer with the same config (weights are copied later)."""
    if type(layer) is keras.layers.Lambda:  # its functions are in memory: no round trip
        return _compat.lambda_copy(layer)
    return layer.__class__.from_config(layer.get_config())


def copy_weights(source: keras.layers.Layer, target: keras.layers.Layer) -> None:
    """Copy weights between a layer and its copy, looking through PruneWrappers.

    Each layer of the two trees passes its state the way a `.keras` file does
    (`copy_saved_state`): its variables and what it computes from them (an adapted
    `Normalization`'s mean and variance), and its assets (a lookup layer's vocabulary).

    A wrapper's masks are copied only into another wrapper. An outer wrapper around a
    pruned layer (quantization-aware training's) and its copy around the plain layer are
    copied part by part: the wrapped layers, then the wrapper's own state.
    """
    if isinstance(source, PruneWrapper) and not isinstance(target, PruneWrapper):
        source = source.layer
    elif isinstance(target, PruneWrapper) and not isinstance(source, PruneWrapper):
        target = target.layer
    if wraps_pruned_layer(source) and not wraps_pruned_layer(target):
        for old, new in zip(_compat.direct_sublayers(source), _compat.direct_sublayers(target)):
            copy_weights(old, new)
        return
    sources, targets = [source, *all_layers(source)], [target, *all_layers(target)]
    if [type(l) for l in sources] != [type(l) for l in targets]:
        raise ValueError(
            f"The copy of layer '{source.name}' holds the layers "
            f"{[type(l).__name__ for l in targets]} instead of "
            f"{[type(l).__name__ for l in sources]}: its class must build the same layers "
            "from its config.")
    for old, new in zip(sources, targets):
        copy_saved_state(old, new)


def copy_saved_state(source: keras.layers.Layer, target: keras.layers.Layer) -> None:
    """Copy the state one layer (not its sublayers) writes to a `.keras` file into its copy,
    through the hooks Keras' saving calls: `save_own_variables`/`load_own_variables` (a
    layer may rebuild state from its variables there) and `save_assets`/`load_assets`."""
    store = {}
    source.save_own_variables(store)
    target.load_own_variables(store)
    if hasattr(source, "save_assets") and hasattr(target, "load_assets"):
        with tempfile.TemporaryDirectory() as folder:
            source.save_assets(folder)
            target.load_assets(folder)


def wraps_pruned_layer(layer: keras.layers.Layer) -> bool:
    """True for a wrapper other than `PruneWrapper` whose wrapped layer is a PruneWrapper."""
    return (isinstance(layer, keras.layers.Wrapper) and not isinstance(layer, PruneWrapper)
            and isinstance(layer.layer, PruneWrapper))


def copy_model(
    model: keras.Model, replace: Replace, *, substitutes_hold_weights: bool = False
) -> keras.Model:
    """Copy `model`, substituting `replace(layer)` wherever it is not None.

    `replace` receives each original unit and, in a subclassed model, its twin in the
    copy (already built, with the weights); it returns a new layer (unbuilt is fine) or
    None to keep an ordinary copy. Weights are copied afterwards with `copy_weights`,
    except into substitutes that hold their own (`substitutes_hold_weights`, subclassed
    models only: `shrink` gives them fewer channels).
    """
    if is_graph_model(model):
        return _copy_graph_model(model, replace)
    return _copy_subclassed_model(model, replace, substitutes_hold_weights)


def _copy_graph_model(model: keras.Model, replace: Replace) -> keras.Model:
    pairs = []

    def clone_function(layer):
        new = replace(layer, None)
        if new is None and isinstance(layer, keras.Model) and not is_graph_model(layer):
            # A subclassed model inside the graph: its own layers are units too.
            return _copy_subclassed_model(layer, replace, False)
        if new is None:
            new = fresh_copy(_unwrapped(layer))
        pairs.append((layer, new))
        return new

    new_model = keras.models.clone_model(model, clone_function=clone_function, recursive=True)
    for old, new in pairs:
        if isinstance(old, keras.layers.Layer):  # not a keras.ops operation (no weights)
            copy_weights(old, new)
    return new_model


def _unwrapped(layer):
    return layer.layer if isinstance(layer, PruneWrapper) else layer


def _copy_subclassed_model(model: keras.Model, replace: Replace, own_weights: bool) -> keras.Model:
    """Rebuild the model's class from its config (its substitutes put back), copy the
    weights, then swap in what `replace` returns; the copy records every substitute
    that differs from what its class builds, so that it saves and loads with them."""
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' is not built. Call it once on data (or call "
            "`model.build(input_shape)`) before pruning it."
        )
    new_model, natives = _rebuilt(model)
    _copy_tree_weights(model, new_model)
    _replace_in_place(model, new_model, replace, {}, (), natives, own_weights)
    changed = [
        path for path, native in natives.items()
        if not _same_layer(substitution.layer_at(new_model, path), native)
    ]
    return substitution.mark_substituted(new_model, changed)


def _rebuilt(model: keras.Model) -> tuple[keras.Model, dict]:
    """A new instance of the model's class from its config, built, with fresh copies of
    its substitutes in place; and `{path: the layer the class built there}`."""
    cls = substitution.plain_class(model)
    try:
        config = substitution.plain_config(model)
        new_model = substitution.construct(cls, config)
        new_model.build_from_config(model.get_build_config())
        new_model.built = True  # building by a symbolic run leaves the flag unset
        _compat.copy_called_state(model, new_model)
    except Exception as error:  # the user's class decides what its config holds
        raise ValueError(
            f"Could not copy subclassed model '{model.name}' of type {cls.__name__} from "
            f"its config: {error}"
        ) from error
    natives = {}
    for item in substitution.serialized_substitutes(model):
        path = tuple(item["path"])
        natives[path] = substitution.substitute_at(
            new_model, path, substitution.revive(item["layer"]))
    return new_model, natives


def _same_layer(layer, native) -> bool:
    """True when `layer` is what the class builds at its place (names aside)."""
    shapes = [tuple(w.shape) for w in layer.weights]
    if type(layer) is not type(native) or shapes != [tuple(w.shape) for w in native.weights]:
        return False
    config, native_config = layer.get_config(), native.get_config()
    config.pop("name", None)
    native_config.pop("name", None)
    return config == native_config


def _copy_tree_weights(source, target) -> None:
    """Copy weights from `source` into its structural twin `target`, layer by layer."""
    if not source.weights:  # a KerasHub preprocessor: no weights, maybe a vocabulary
        _copy_assets(source, target)
        return
    if isinstance(source, PruneWrapper) or not _compat.direct_sublayers(source):
        copy_weights(source, target)
        return
    source_children = _compat.direct_sublayers(source)
    target_children = _compat.direct_sublayers(target)
    if len(source_children) != len(target_children):
        raise ValueError(
            f"The copy of '{source.name}' has {len(target_children)} sublayers instead of "
            f"{len(source_children)}: its class must build the same layers from its config."
        )
    for s, t in zip(source_children, target_children):
        _copy_tree_weights(s, t)
    copy_saved_state(source, target)


def _copy_assets(source, target) -> None:
    """Copy what weightless layers keep outside their config (a tokenizer's vocabulary),
    through the `save_assets`/`load_assets` methods Keras' saving calls."""
    if hasattr(source, "save_assets") and hasattr(target, "load_assets"):
        with tempfile.TemporaryDirectory() as folder:
            source.save_assets(folder)
            target.load_assets(folder)
    targets = {layer.name: layer for layer in _compat.direct_sublayers(target)}
    for child in _compat.direct_sublayers(source):
        if child.name in targets:
            _copy_assets(child, targets[child.name])


def _replace_in_place(original, copy, replace, done, path, natives, own_weights) -> None:
    """Walk `original` and its twin `copy`; swap the copy's sublayers where asked.

    An unbuilt substitute is built like its twin; each gets the original's weights unless
    `own_weights`. `natives` receives `{path: twin}` for each place substituted.
    """
    pairs = zip(_compat.direct_sublayers(original), _compat.direct_sublayers(copy))
    for position, (old, new) in enumerate(pairs):
        if id(new) in done:
            substitute = done[id(new)]
        else:
            substitute = replace(old, new)
            if substitute is None:
                _replace_in_place(
                    old, new, replace, done, path + (position,), natives, own_weights)
                continue
            if not substitute.built:
                substitute.build_from_config(_unwrapped(new).get_build_config())
            if not own_weights:
                copy_weights(old, substitute)
            done[id(new)] = substitute
            natives.setdefault(path + (position,), new)
        substitution.swap_in(copy, new, substitute)
