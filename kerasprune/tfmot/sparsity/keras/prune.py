"""`prune_low_magnitude`, `strip_pruning`, `prune_scope` with TFMOT's API and semantics.

A Sequential or Functional model is rebuilt around the same layer objects, as TFMOT's
`clone_model` does: every layer TFMOT would wrap (those without weights included) is
wrapped in `PruneLowMagnitude`, layers already wrapped and layers a `pruning_policy` skips
are reused as they are, nested Sequential and Functional models are rebuilt the same way,
and the result is not compiled. Beyond TFMOT: a subclassed model (built) is copied with its
prunable layers wrapped, and a layer with weights nobody knows how to prune is left dense
with an `UnprunableLayerWarning` instead of an error.
"""

from __future__ import annotations

import warnings

import keras

from kerasprune import _compat
from kerasprune.core import model_walk
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.wrapping import UnprunableLayerWarning, strip
from kerasprune.tfmot.sparsity.keras import pruning_schedule as schedules
from kerasprune.tfmot.sparsity.keras.prune_registry import PruneRegistry
from kerasprune.tfmot.sparsity.keras.pruning_impl import shortfall_warning
from kerasprune.tfmot.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
    collect_prunable_layers,
)

# TFMOT's words; a subclassed model is a keras.layers.Layer too (kerasprune prunes it).
_DEFAULTS = dict(pruning_schedule=None, block_size=(1, 1), block_pooling_type="AVG",
                 sparsity_m_by_n=None)
_WHAT_CAN_BE_PRUNED = (
    "`prune_low_magnitude` can only prune an object of the following types: "
    "keras.models.Sequential, keras functional model, keras.layers.Layer, list of "
    "keras.layers.Layer. You passed an object of type: {input}."
)


def prune_low_magnitude(to_prune, pruning_schedule=None, block_size=(1, 1),
                        block_pooling_type="AVG", pruning_policy=None, sparsity_m_by_n=None,
                        **kwargs):
    """Wrap a model, a layer or a list of layers for pruning during training (TFMOT's API).

    A Sequential or Functional model comes back as a new model of the same layers, each
    wrapped in `PruneLowMagnitude` (wrappers already there are kept, with a warning naming
    the settings of this call they ignore), uncompiled; the layers' weights stay shared
    with the original model, as in TFMOT. A layer returns its wrapper; a list, a list of
    wrappers.

    Args:
        to_prune: a `keras.Model`, a `keras.layers.Layer` or a list of layers.
        pruning_schedule: a `PruningSchedule` (default `ConstantSparsity(0.5, 0)`).
        block_size: `(height, width)` blocks of 2-D weights.
        block_pooling_type: `"AVG"` or `"MAX"`.
        pruning_policy: a `PruningPolicy` choosing which layers of a model to wrap.
        sparsity_m_by_n: `(m, n)`: `m` zeros in every `n` consecutive input weights, set
            once at step 1; `pruning_schedule` and `block_size` are then not used (a
            warning says so when they are given).
        **kwargs: passed to the wrapper when `to_prune` is a layer.

    Example:

    >>> import keras
    >>> import kerasprune.tfmot as tfmot
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="fc"),
    ...                           keras.layers.Flatten(name="flat")])
    >>> pruned = tfmot.sparsity.keras.prune_low_magnitude(model)
    >>> [layer.name for layer in pruned.layers]
    ['prune_low_magnitude_fc', 'prune_low_magnitude_flat']
    >>> pruned.layers[0].layer is model.layers[0]
    True
    """
    params = dict(pruning_schedule=pruning_schedule, block_size=block_size,
                  block_pooling_type=block_pooling_type, sparsity_m_by_n=sparsity_m_by_n)
    if kwargs and isinstance(to_prune, (list, keras.Model)):
        warnings.warn(
            f"prune_low_magnitude passes keyword arguments to the wrapper of a single layer "
            f"only (as TFMOT does); for a {type(to_prune).__name__} they are ignored: "
            f"{sorted(kwargs)}. Check their spelling against prune_low_magnitude's "
            "arguments (pruning_schedule, block_size, block_pooling_type, pruning_policy, "
            "sparsity_m_by_n).", stacklevel=user_stacklevel())
    unused = [name for name in ("pruning_schedule", "block_size")
              if sparsity_m_by_n is not None and _given(name, params[name])]
    if unused:
        warnings.warn(
            f"prune_low_magnitude: {unused} not used with sparsity_m_by_n: the m-by-n masks "
            "are set once, at step 1, as in TFMOT. Received: "
            + ", ".join(f"{name}={params[name]!r}" for name in unused),
            stacklevel=user_stacklevel())
    if pruning_policy is not None:
        _check_policy(pruning_policy)
    if isinstance(to_prune, list):
        kept: list = []
        wrapped = [_wrap_listed(layer, params, kept) for layer in to_prune]
        _warn_kept(kept)
        return wrapped
    if isinstance(to_prune, keras.Model):
        if pruning_policy is not None:
            pruning_policy.ensure_model_supports_pruning(to_prune)
        return _prune_model(to_prune, params, pruning_policy)
    if isinstance(to_prune, keras.layers.Layer):
        return PruneLowMagnitude(to_prune, **params, **kwargs)
    raise ValueError(_WHAT_CAN_BE_PRUNED.format(input=type(to_prune).__name__))


def _check_policy(policy) -> None:
    """A `PruningPolicy` (or an object with its two methods)."""
    if not all(callable(getattr(policy, name, None))
               for name in ("allow_pruning", "ensure_model_supports_pruning")):
        raise TypeError(
            "`pruning_policy` must be a PruningPolicy, such as "
            "tfmot.sparsity.keras.PruneForLatencyOnXNNPack(), or None. "
            f"Received: pruning_policy={policy!r} of type {type(policy).__name__}")


def _wrap_listed(layer, params, kept: list):
    if isinstance(layer, PruneLowMagnitude):
        kept.extend(_ignored_settings(layer, params))
        return layer
    if isinstance(layer, keras.layers.InputLayer):
        return model_walk.fresh_copy(layer)
    return PruneLowMagnitude(layer, **params)


def _ignored_settings(wrapper: PruneLowMagnitude, params: dict) -> list[str]:
    """`'layer' (name=value)` for each setting asked of an existing wrapper that differs
    from the one it keeps."""
    differ = []
    for name, asked in params.items():
        if not _given(name, asked):
            continue
        has = getattr(wrapper, name)
        if name == "pruning_schedule":
            same = schedules.serialize(schedules.deserialize(asked)) == schedules.serialize(has)
        else:
            same = (tuple(asked) if isinstance(asked, list) else asked) == has
        if not same:
            differ.append(f"{name}={asked!r}")
    return [f"'{wrapper.layer.name}' ({', '.join(differ)})"] if differ else []


def _given(name: str, value) -> bool:
    """Whether `value` of the argument `name` is other than its default."""
    if isinstance(value, (list, tuple)):
        value = tuple(value)
    return value is not None and not (value is _DEFAULTS[name] or value == _DEFAULTS[name])


def _warn_kept(kept: list) -> None:
    kept = list(dict.fromkeys(kept))
    if kept:
        warnings.warn(
            "prune_low_magnitude keeps the wrappers already there, as TFMOT does, so these "
            f"settings are ignored for their layers: {'; '.join(kept)}. Strip the model "
            "(strip_pruning) first to prune it with new settings.",
            stacklevel=user_stacklevel())


def _prune_model(model: keras.Model, params: dict, policy) -> keras.Model:
    unknown: list[str] = []
    kept: list[str] = []
    pruned = _wrapped_model(model, params, policy, (unknown, kept))
    _warn_kept(kept)
    if unknown:
        warnings.warn(
            f"These layers have weights but are left dense: {unknown}. Give them a "
            "`get_prunable_weights()` method (tfmot.sparsity.keras.PrunableLayer) returning "
            "the variables to prune.",
            UnprunableLayerWarning,
            stacklevel=user_stacklevel(),
        )
    return pruned


def _wrapped_model(model: keras.Model, params: dict, policy, notes) -> keras.Model:
    """`model` rebuilt around its layers, wrapped; `notes` is `(unknown, kept)`: the
    names of unknown layers with weights, and of kept wrappers whose settings differ
    (`_ignored_settings`), are appended to them."""
    if not model_walk.is_graph_model(model):
        return _copy_subclassed(model, params, policy, notes)
    return _rebuild(model, lambda layer: _wrapped(layer, params, policy, notes))


def _rebuild(model: keras.Model, substitute) -> keras.Model:
    """A new, uncompiled Sequential or Functional model calling `substitute(layer)` where
    `model` calls `layer` (once per layer, however often it is called)."""
    done: dict[int, object] = {}

    def once(layer):
        if id(layer) not in done:
            done[id(layer)] = substitute(layer)
        return done[id(layer)]

    if isinstance(model, keras.Sequential):
        return _rebuild_sequential(model, once)
    return _rebuild_functional(model, once)


def _wrapped(layer, params: dict, policy, notes):
    if isinstance(layer, keras.Model):
        return _wrapped_model(layer, params, policy, notes)
    if isinstance(layer, PruneLowMagnitude):
        notes[1].extend(_ignored_settings(layer, params))
    if _keeps(layer, policy):
        return layer
    if PruneRegistry.supports(layer):
        return PruneLowMagnitude(layer, **params)
    if layer.weights:
        notes[0].append(layer.name)
    return layer


def _keeps(layer, policy) -> bool:
    """True for what is reused as it is: operations, wrappers, what the policy skips."""
    return (not isinstance(layer, keras.layers.Layer)
            or isinstance(layer, (keras.layers.InputLayer, PruneWrapper))
            or (policy is not None and not policy.allow_pruning(layer)))


def _rebuild_sequential(model: keras.Sequential, wrap) -> keras.Sequential:
    layers = [wrap(layer) for layer in model.layers]
    if _compat.functional_graph(model) is not None and model.inputs:
        source = _compat.producer_of(model.inputs[0])
        layers.insert(0, keras.Input(batch_shape=source.batch_shape, dtype=source.dtype,
                                     name=source.name))
    return keras.Sequential(layers, name=model.name, trainable=model.trainable)


def _rebuild_functional(model: keras.Model, wrap) -> keras.Model:
    inputs = keras.tree.map_structure(
        lambda t: keras.Input(batch_shape=t.shape, dtype=t.dtype,
                              name=_compat.producer_of(t).name),
        _compat.model_inputs(model))
    outputs = _compat.run_graph(_compat.functional_graph(model), inputs, operation_fn=wrap)
    return keras.Model(inputs, outputs, name=model.name, trainable=model.trainable)


def _copy_subclassed(model, params, policy, notes) -> keras.Model:
    """A subclassed model cannot be rebuilt around its layers: it is copied (kerasprune's
    `model_walk`) and its copies wrapped."""

    def replace(layer, twin):
        if isinstance(layer, PruneLowMagnitude):
            notes[1].extend(_ignored_settings(layer, params))
        if _keeps(layer, policy) or isinstance(layer, keras.Model) or _inside_wrapper(layer):
            return layer if isinstance(layer, PruneWrapper) else None
        if PruneRegistry.supports(layer):
            return PruneLowMagnitude(twin if twin is not None else layer, **params)
        if layer.weights and not _is_container(layer):
            notes[0].append(layer.name)
        return None

    def _inside_wrapper(layer):
        return any(layer is w.layer for w in model_walk.prune_wrappers(model))

    return model_walk.copy_model(model, replace)


def _is_container(layer) -> bool:
    # A layer whose weights all belong to sublayers is judged through those sublayers.
    return bool(_compat.direct_sublayers(layer)) and not _compat.own_variables(layer)


def strip_pruning(model: keras.Model) -> keras.Model:
    """A copy of `model` without pruning wrappers; pruned weights stay exactly zero.

    Warns, naming them, about trained layers below their schedule's final sparsity that
    the end of `fit` did not already name (weights restored from an earlier step).

    Example:

    >>> import keras
    >>> model = prune_low_magnitude(keras.Sequential([keras.Input((4,)),
    ...                                               keras.layers.Dense(2, name="fc")]))
    >>> [layer.name for layer in strip_pruning(model).layers]
    ['fc']
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a keras.Model. Received: model of type {type(model).__name__}"
        )
    message = shortfall_warning(collect_prunable_layers(model))
    if message:
        warnings.warn(f"strip_pruning: {message}", stacklevel=user_stacklevel())
    if not model_walk.is_graph_model(model):
        return strip(model)
    copies = []

    def plain(layer):
        if isinstance(layer, keras.Model):
            return strip_pruning(layer)
        if not isinstance(layer, keras.layers.Layer) or isinstance(layer,
                                                                   keras.layers.InputLayer):
            return layer
        copy = model_walk.fresh_copy(layer.layer if isinstance(layer, PruneWrapper) else layer)
        copies.append((layer, copy))
        return copy

    stripped = _rebuild(model, plain)
    for layer, copy in copies:
        model_walk.copy_weights(layer, copy)
    return stripped


def prune_scope() -> keras.saving.CustomObjectScope:
    """A scope in which files saved by TFMOT-style code deserialize (`PruneLowMagnitude`).

    kerasprune's classes are registered with Keras, so `.keras` files load without it;
    the scope also maps the bare names used by legacy HDF5 files.

    Example:

    >>> with prune_scope():
    ...     keras.saving.get_registered_object("PruneLowMagnitude") is PruneLowMagnitude
    True
    """
    return keras.saving.custom_object_scope({
        "PruneLowMagnitude": PruneLowMagnitude,
        "ConstantSparsity": schedules.ConstantSparsity,
        "PolynomialDecay": schedules.PolynomialDecay,
    })
