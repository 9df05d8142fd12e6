"""Wrapping: `prune(model)` makes a pruning-ready copy of a model; `strip(model)` undoes it."""

from __future__ import annotations

import re
import warnings
from typing import Callable, Iterable, Union

import keras

from kerasprune import _compat
from kerasprune.core import patterns as patterns_lib
from kerasprune.core.model_walk import all_layers, copy_model, fresh_copy, prune_wrappers
from kerasprune.core.prune_wrapper import SCOPES, PruneWrapper
from kerasprune.core.registry import HOW_TO_MAKE_PRUNABLE, is_never_pruned, prunable_weight_names

LayerSelector = Union[None, str, Iterable[str], Callable[[keras.layers.Layer], bool]]


class UnprunableLayerWarning(UserWarning):
    """A layer with weights was left dense because kerasprune does not know how to prune it."""


def prune(
    model: keras.Model,
    *,
    scope: str = "layer",
    layers: LayerSelector = None,
    exclude: LayerSelector = None,
    sparsity_overrides: dict[str, float | str] | None = None,
    block_shape: tuple[int, ...] | None = None,
    pattern: patterns_lib.MaskPattern | None = None,
) -> keras.Model:
    """Return a copy of `model` whose prunable layers are wrapped in `PruneWrapper`.

    The input model is left untouched. Works for Sequential, Functional (nested models
    and shared layers included) and subclassed models. All masks start at ones; train
    the result with `PruningCallback` (GMP) or `IMPCallback`, or prune it at once with
    `update_masks`.

    Args:
        model: a built Keras model.
        scope: `"layer"` (each weight tensor reaches the target) or `"global"` (one
            magnitude threshold across all pruned tensors).
        layers: which layers to prune: layer names, regular expressions (full match),
            or a callable `layer -> bool`. Default: every layer with known prunable weights.
        exclude: layers to leave dense, in the same forms.
        sparsity_overrides: `{layer name: sparsity}` with an absolute final sparsity in
            [0, 1), or a string such as `"0.5x"` for a fraction of the model-wide target.
        block_shape: prune in blocks over the last weight axes, e.g. `(4, 1)`: 4
            consecutive inputs of one Dense unit, the pattern TFLite's sparse
            FULLY_CONNECTED kernel runs fast (use `(16, 1)` for int8 export).
        pattern: any `kerasprune.patterns.MaskPattern` (alternative to `block_shape`).

    Returns:
        A new model with the same weights, ready for pruning.

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="hidden"),
    ...                           keras.layers.Dense(2, name="logits")])
    >>> pruned = kerasprune.prune(model, scope="global", exclude=["logits"])
    >>> [w.layer.name for w in kerasprune.prune_wrappers(pruned)]
    ['hidden']
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    if scope not in SCOPES:
        raise ValueError(f"`scope` must be one of {SCOPES}. Received: scope={scope!r}")
    if prune_wrappers(model):
        raise ValueError(
            f"Model '{model.name}' is already pruning-ready (it holds PruneWrapper layers). "
            "Call kerasprune.strip(model) first to start again."
        )
    pattern = _pattern(block_shape, pattern)
    include = _selector("layers", layers)
    skip = _selector("exclude", exclude)
    candidates = [l for l in all_layers(model) if not isinstance(l, keras.Model)]
    chosen = _choose_layers(candidates, include, skip, explicit=layers is not None)
    followers = _normalization_followers(candidates, chosen) if _prunes_channels(pattern) else {}
    overrides = _parse_overrides(
        sparsity_overrides, {l.name for l in candidates if id(l) in chosen}
    )

    def replace(layer):
        if id(layer) in followers:
            return PruneWrapper(fresh_copy(layer), follows=followers[id(layer)])
        if id(layer) not in chosen:
            return None
        override, scale = overrides.get(layer.name, (None, None))
        return PruneWrapper(
            fresh_copy(layer),
            weight_names=pattern.weight_names(layer),
            scope=scope,
            sparsity_override=override,
            sparsity_scale=scale,
            pattern=pattern,
        )

    return copy_model(model, replace)


def strip(model: keras.Model) -> keras.Model:
    """Return a plain Keras copy of `model` with every `PruneWrapper` removed.

    The pruned weights are already exactly zero, so predictions are unchanged; the result
    holds no kerasprune objects and saves, loads and converts like any Keras model.

    Example:

    >>> import keras, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> plain = kerasprune.strip(kerasprune.prune(model))
    >>> kerasprune.prune_wrappers(plain)
    []
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    return copy_model(
        model, lambda layer: fresh_copy(layer.layer) if isinstance(layer, PruneWrapper) else None
    )


def _pattern(block_shape, pattern) -> patterns_lib.MaskPattern:
    if block_shape is not None and pattern is not None:
        raise ValueError("Give at most one of `block_shape` and `pattern`.")
    if block_shape is not None:
        return patterns_lib.Blocks(block_shape)
    return patterns_lib.get(pattern)


def _prunes_channels(pattern) -> bool:
    return getattr(pattern, "prunes_channels", False)


def _normalization_followers(candidates, chosen: set[int]) -> dict[int, str]:
    """Normalization layers fed directly by a channel-pruned layer -> that layer's name.

    Their `gamma` and `beta` are masked with the producer's channels, so a pruned channel
    outputs exactly zero after normalization (found through the Functional graph; a
    subclassed model has none and keeps its normalization dense).
    """
    followers = {}
    for layer in candidates:
        if not isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)):
            continue
        producers = {id(p): p for p in _compat.inbound_producers(layer)}
        if len(producers) == 1 and next(iter(producers)) in chosen:
            followers[id(layer)] = next(iter(producers.values())).name
    return followers


def _selector(argument: str, value: LayerSelector) -> Callable[[keras.layers.Layer], bool] | None:
    if value is None:
        return None
    if callable(value):
        return value
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple, set)) or not names or not all(
        isinstance(n, str) for n in names
    ):
        raise TypeError(
            f"`{argument}` must be a layer name, a regex, a list of them, or a callable "
            f"layer -> bool. Received: {argument}={value!r}"
        )
    try:
        regexes = [re.compile(n) for n in names]
    except re.error as error:
        raise ValueError(f"`{argument}` holds an invalid regular expression: {error}") from error
    return lambda layer: any(r.fullmatch(layer.name) for r in regexes)


def _choose_layers(candidates, include, skip, explicit: bool) -> set[int]:
    chosen: set[int] = set()
    unknown = []
    for layer in candidates:
        if (include and not include(layer)) or (skip and skip(layer)):
            continue
        if prunable_weight_names(layer) is not None:
            chosen.add(id(layer))
        elif explicit:
            raise ValueError(
                f"Layer '{layer.name}' of type {type(layer).__name__} was named in `layers` "
                f"but kerasprune does not know which of its weights to prune. "
                f"{HOW_TO_MAKE_PRUNABLE}"
            )
        elif layer.weights and not is_never_pruned(layer) and not _is_container(layer):
            unknown.append(layer)
    if unknown:
        warnings.warn(
            "These layers have weights but are left dense because kerasprune does not know "
            f"how to prune them: {[l.name for l in unknown]}. {HOW_TO_MAKE_PRUNABLE}",
            UnprunableLayerWarning,
            stacklevel=3,
        )
    if not chosen:
        raise ValueError(
            "No prunable layer was selected: check `layers` and `exclude`. "
            "Prunable by default: Dense, EinsumDense, Conv*, DepthwiseConv*, SeparableConv*, "
            "Embedding kernels."
        )
    return chosen


def _is_container(layer) -> bool:
    # A layer whose weights all belong to sublayers is judged through those sublayers.
    return bool(_compat.direct_sublayers(layer)) and not _compat.own_variables(layer)


def _parse_overrides(overrides, chosen_names: set[str]) -> dict[str, tuple[float | None, float | None]]:
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise TypeError(
            "`sparsity_overrides` must be a dict {layer name: sparsity}. "
            f"Received: sparsity_overrides={overrides!r}"
        )
    parsed = {}
    for name, value in overrides.items():
        if name not in chosen_names:
            raise ValueError(
                f"`sparsity_overrides` names layer {name!r}, which is not pruned. "
                f"Pruned layers: {sorted(chosen_names)}"
            )
        if isinstance(value, str) and value.endswith("x"):
            try:
                parsed[name] = (None, float(value[:-1]))
                continue
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
            parsed[name] = (float(value), None)
            continue
        raise ValueError(
            f"`sparsity_overrides['{name}']` must be a sparsity in [0, 1) or a string like "
            f"'0.5x' (a fraction of the model-wide target). Received: {value!r}"
        )
    return parsed
