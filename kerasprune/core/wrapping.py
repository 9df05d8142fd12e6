"""Wrapping: `prune(model)` makes a pruning-ready copy of a model; `strip(model)` undoes it."""

from __future__ import annotations

import math
import re
import warnings
from typing import Callable, Iterable, Union

import keras

from kerasprune import _compat
from kerasprune.core import patterns as patterns_lib
from kerasprune.core import xnnpack_sparse
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.model_walk import (
    all_layers,
    copy_model,
    enclosing_models,
    fresh_copy,
    is_graph_model,
    model_units,
    prune_wrappers,
    wraps_pruned_layer,
)
from kerasprune.core.prune_wrapper import (
    DEFAULT_MIN_DENSITY,
    SCOPES,
    PruneWrapper,
    check_backend,
    check_criterion,
    check_mask_dtype,
    check_min_density,
)
from kerasprune.core.registry import (
    HOW_TO_MAKE_PRUNABLE,
    prunable_weight_names,
    unprunable_layers,
)
from kerasprune.core.penalties import check_penalty
from kerasprune.core.validation import (
    check_choice, check_int, check_model, check_name_patterns, is_number)

LayerSelector = Union[
    None, str, re.Pattern, Iterable[str | re.Pattern], Callable[[keras.layers.Layer], bool]]


PRUNABLE_BY_DEFAULT = (
    "the kernels of Dense, EinsumDense, Conv*, DepthwiseConv*, SeparableConv*, Embedding, "
    "SimpleRNN/LSTM/GRU/ConvLSTM* (kernel and recurrent kernel), MultiHeadAttention and "
    "GroupQueryAttention (query, key, value, output), and of any layer inside "
    "TimeDistributed, Bidirectional or a custom block"
)


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
    min_density: float = DEFAULT_MIN_DENSITY,
    mask_dtype: str | None = None,
    penalty=None,
    criterion: str | None = None,
    policy: str | None = None,
    seed: int = 0,
) -> keras.Model:
    """Return a copy of `model` whose prunable layers are wrapped in `PruneWrapper`.

    The input model is left untouched. Works for Sequential, Functional (nested models
    and shared layers included) and subclassed models (KerasHub backbones and tasks
    keep their class). Composite layers (attention, RNN, `TimeDistributed`,
    `Bidirectional`, custom blocks) are wrapped whole, with a mask on each kernel of
    their sublayers; `layers` and `exclude` may name those sublayers (`"query"`,
    `"feedforward_output_dense"`). A tied embedding (KerasHub's `ReversibleEmbedding`
    with `tie_weights=True`, whose table is also GPT-2's output projection) is left
    dense unless `layers` selects it: pruning it would prune the logits too. All masks
    start at ones; train
    the result with `PruningCallback` (GMP) or `IMPCallback`, or prune it at once with
    `update_masks`.

    Args:
        model: a built Keras model.
        scope: how the target is shared among the pruned layers: `"layer"` (each
            weight tensor reaches it), `"output"` (each output unit of each tensor reaches
            it: the comparison group of Wanda, Sun et al. 2023; unstructured patterns
            only), `"global"` (one magnitude threshold across all pruned
            tensors), `"lamp"` (one threshold on layer-adaptive magnitude scores, Lee et
            al. 2021) or `"erk"` (Erdos-Renyi-Kernel: a tensor's density proportional to
            the sum of its dims over their product, Evci et al. 2020). Each reaches the
            model-wide target exactly.
        layers: which layers to prune: layer names, regular expressions (strings or
            `re.compile(...)`, full match; a string equal to a layer's name selects that
            name only), or a callable `layer -> bool`; a composite
            layer's sublayers count too, and selecting a nested model or a composite
            layer selects every layer inside it (a callable is asked about those too).
            Default: every layer with known prunable weights except tied embeddings. A
            name or regex that matches no layer of the model is an error.
        exclude: layers to leave dense, in the same forms (a nested model or composite
            layer named here leaves everything inside it dense).
        sparsity_overrides: `{layer name: sparsity}` with an absolute final sparsity in
            [0, 1), or a string such as `"0.5x"` for a multiple of the model-wide target
            (pruning refuses a multiple that takes the layer to 100%). A nested model
            named here sets every pruned layer inside it; an entry for an inner layer
            (or an inner nested model) wins over it.
        block_shape: prune in blocks over the last weight axes, e.g. `(4, 1)`: 4
            consecutive inputs of one Dense unit, the pattern TFLite's sparse
            FULLY_CONNECTED kernel runs fast (use `(16, 1)` for int8 export).
        pattern: any `kerasprune.patterns.MaskPattern` (alternative to `block_shape`).
        min_density: the floor of every scope: each pruned weight tensor keeps at least
            this fraction of its weights, and at least one weight (default 0.01), unless
            the target itself leaves it less than that (then its uniform share). A tensor
            that still ends fully pruned is named in a warning. 0 removes the floor.
        mask_dtype: how masks are stored: None (default, the weight's dtype: a float32
            mask costs as much memory as its kernel) or `"uint8"` (a quarter of that,
            with a cast after every optimizer step).
        penalty: strength of a group-lasso penalty (`kerasprune.GroupLasso`) on every
            pruned weight, over its pattern's groups (L1 when unstructured), for
            penalty-based pruning with `kerasprune.PenaltyPruningCallback`; or a penalty
            kind of `kerasprune.core.penalties`: `ElasticNet`, `SparseGroupLasso`, or
            `L0Gates` (hard-concrete gates on output channels, with `pattern=Channels()`,
            ended by `L0PruningCallback`).
        criterion: how every pruned weight is scored, pooled into the pattern's groups
            (single weights, `Blocks`, `NM` runs): `"magnitude"` (default), `"snip"`
            (`|w * g|`, needs loss gradients), `"wanda"` (`|w| * ||x_j||`) or `"obd"`
            (`w^2 ||x_j||^2`, the layer-wise diagonal Hessian), which need a sample of
            inputs, `"grasp"` (`w * Hg`, needs loss gradients; unstructured only),
            `"synflow"` (data-free; iterative in `one_shot_prune`), `"random"`, or
            `"sparsegpt"` (layer-wise OBS with weight updates, `kerasprune.oneshot`); see
            `kerasprune.core.weight_criteria`.
            The callbacks and `one_shot_prune` take the data from their `data=`
            (`kerasprune.CriterionData`).
        policy: `"xnnpack_sparse"` prunes exactly the layers XNNPACK's sparse inference
            runs sparse: the 1x1 convolutions of a subgraph from a 3x3 stride-2 stem on 3
            channels (after `ZeroPadding2D(1)`) to `GlobalAveragePooling2D(keepdims=True)`
            (`kerasprune.core.xnnpack_sparse`; instead of `layers`, with `exclude`
            still applied). A model that breaks a condition of that subgraph is refused,
            naming the layer and the condition. The path runs on ARM CPUs (XNNPACK turns it
            off on x86 with AVX) once at least 2/3 of those weights are zero.
        seed: seed of `criterion="random"` (a fixed random order per weight tensor).

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
    check_model(model)
    check_backend()
    check_choice("scope", scope, SCOPES)
    check_min_density(min_density)
    check_mask_dtype(mask_dtype)
    if prune_wrappers(model):
        raise ValueError(
            f"Model '{model.name}' is already pruning-ready (it holds PruneWrapper layers). "
            "Call kerasprune.strip(model) first to start again."
        )
    penalty = check_penalty(penalty)
    pattern = _pattern(block_shape, pattern)
    check_criterion(criterion, pattern)
    check_int("seed", seed, minimum=0)
    names = [l.name for l in all_layers(model) if not isinstance(l, keras.layers.InputLayer)]
    include = _selector("layers", layers, names, model)
    skip = _selector("exclude", exclude, names, model)
    if policy is not None:
        include = _policy_selector(policy, layers, model)
    candidates = model_units(model)
    outer = enclosing_models(model)
    chosen = _choose_layers(candidates, outer, include, skip, explicit=include is not None)
    followers = _normalization_followers(candidates, chosen) if _prunes_channels(pattern) else {}
    overrides = _parse_overrides(
        sparsity_overrides, [l for l in candidates if id(l) in chosen], outer
    )

    outputs = _output_layers(model)

    def replace(layer, twin):
        # A wrapper producing a model output keeps the layer's name: Keras names the
        # model's outputs (keys of dict targets, losses, metrics and logs) after it.
        name = {"name": layer.name} if id(layer) in outputs else {}
        if id(layer) in followers:
            return PruneWrapper(twin or fresh_copy(layer), follows=followers[id(layer)], **name)
        if id(layer) not in chosen:
            return None
        override, scale = overrides.get(layer.name, (None, None))
        copy = twin or fresh_copy(layer)
        return PruneWrapper(
            copy,
            weight_names=_weight_names(layer, copy, chosen[id(layer)], pattern),
            scope=scope,
            sparsity_override=override,
            sparsity_scale=scale,
            min_density=min_density,
            mask_dtype=mask_dtype,
            pattern=pattern,
            penalty=penalty,
            criterion=criterion,
            seed=seed,
            **name,
        )

    return copy_model(model, replace)


def _output_layers(model: keras.Model) -> set[int]:
    """Ids of the layers whose outputs are a graph model's outputs."""
    if not is_graph_model(model):
        return set()
    return {id(_compat.producer_of(tensor)) for tensor in model.outputs}


POLICIES = (xnnpack_sparse.POLICY,)


def _policy_selector(policy, layers, model) -> Callable[[keras.layers.Layer], bool]:
    """The layers a policy prunes (after checking the model against its conditions)."""
    check_choice("policy", policy, POLICIES)
    if layers is not None:
        raise ValueError(
            f"`policy={policy!r}` chooses the layers to prune itself: give `exclude` to "
            f"leave some dense, not `layers`. Received: layers={layers!r}")
    chosen = {id(layer) for layer in xnnpack_sparse.check(model)}
    return lambda layer: id(layer) in chosen


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
    check_model(model)
    return copy_model(model, _unwrapped_copy)


def _unwrapped_copy(layer, twin):
    """A plain copy of a wrapper's layer (a subclassed model's copy may hold one already).

    An outer wrapper around a PruneWrapper (`kerasprune.quantization.QuantizeWrapper`)
    stays, around a plain copy of the pruned layer.
    """
    if wraps_pruned_layer(layer):
        config = {**layer.get_config(),
                  "layer": keras.saving.serialize_keras_object(fresh_copy(layer.layer.layer))}
        return type(layer).from_config(config)
    if not isinstance(layer, PruneWrapper):
        return None
    if twin is not None and not isinstance(twin, PruneWrapper):
        return twin
    return fresh_copy(layer.layer)


def _pattern(block_shape, pattern) -> patterns_lib.MaskPattern:
    if block_shape is not None and pattern is not None:
        raise ValueError("Give at most one of `block_shape` and `pattern`.")
    if block_shape is not None:
        return patterns_lib.Blocks(block_shape)
    return patterns_lib.get(pattern)


def _weight_names(layer, copy, names: tuple[str, ...], pattern) -> list[str] | None:
    """The variables to wrap: the selected ones (None when they are the layer's default
    kernels), plus those the pattern masks along with them (a pruned channel's bias)."""
    extra = pattern.weight_names(layer) if pattern is not None else None
    if extra is not None:
        return list(names) + [n for n in extra if n not in names]
    # An unbuilt copy of a custom block creates its sublayers in `build`: name them now.
    known_in_copy = prunable_weight_names(copy) is not None
    return None if known_in_copy and names == prunable_weight_names(layer) else list(names)


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


def _selector(
    argument: str, value: LayerSelector, layer_names: list[str], model: keras.Model
) -> Callable[[keras.layers.Layer], bool] | None:
    if value is None:
        return None
    if callable(value):
        return value
    regexes = check_name_patterns(argument, value, exact_names=layer_names)
    for regex in regexes:
        if not any(regex.fullmatch(layer_name) for layer_name in layer_names):
            raise ValueError(
                f"`{argument}` holds {regex.pattern!r}, which matches no layer of model "
                f"'{model.name}' (names match in full and are case-sensitive). Its layers: "
                f"{layer_names}. Received: {argument}={value!r}"
            )
    return lambda layer: any(r.fullmatch(layer.name) for r in regexes)


def _choose_layers(candidates, outer: dict[int, list], include, skip,
                   explicit: bool) -> dict[int, tuple[str, ...]]:
    """`{id(unit): names of the unit's variables to prune}` for the units to wrap.

    `outer`: `{id(unit): its enclosing nested models}`; a selector naming a nested model
    selects every layer inside it.
    """
    chosen: dict[int, tuple[str, ...]] = {}
    unknown = []
    for layer in candidates:
        path = [*outer.get(id(layer), ()), layer]
        if (skip and any(skip(l) for l in path)) or (not explicit and ties_weights(layer)):
            continue
        names = prunable_weight_names(layer)
        if explicit and include(layer) and names is None:
            raise ValueError(
                f"Layer '{layer.name}' of type {type(layer).__name__} was named in `layers` "
                f"but kerasprune does not know which of its weights to prune. "
                f"{HOW_TO_MAKE_PRUNABLE}"
            )
        selected = tuple(n for n in names or () if _selects(path, n, include, skip))
        if selected:
            chosen[id(layer)] = selected
        if not explicit:
            unknown += unprunable_layers(layer)
    if unknown:
        warnings.warn(
            "These layers have weights but are left dense because kerasprune does not know "
            f"how to prune them: {[l.name for l in unknown]}. {HOW_TO_MAKE_PRUNABLE}",
            UnprunableLayerWarning,
            stacklevel=user_stacklevel(),
        )
    if not chosen:
        raise ValueError(
            "No prunable layer was selected: check `layers` and `exclude`. "
            f"Prunable by default: {PRUNABLE_BY_DEFAULT}. "
            f"The model's layers: {[l.name for l in candidates]}"
        )
    return chosen


def ties_weights(layer: keras.layers.Layer) -> bool:
    """True for an embedding whose table is also an output projection (KerasHub's
    `ReversibleEmbedding` with `tie_weights=True`: GPT-2's logits, a masked LM's head)."""
    tied = getattr(layer, "tie_weights", False) is True
    return isinstance(layer, keras.layers.Embedding) and tied


def _selects(path: list, name: str, include, skip) -> bool:
    """Whether the selectors keep variable `name` of the unit at the end of `path` (its
    enclosing nested models, then the unit): a match on any layer on the way to it."""
    chain = list(path)
    for part in name.split("/")[:-1]:
        by_name = {l.name: l for l in _compat.direct_sublayers(chain[-1])}
        chain.append(by_name[part])
    if skip and any(skip(l) for l in chain):
        return False
    return include is None or any(include(l) for l in chain)


def _parse_overrides(overrides, chosen: list, outer: dict[int, list]
                     ) -> dict[str, tuple[float | None, float | None]]:
    """`{name of a pruned unit: its override}`; a nested model named in `overrides` gives
    its override to every pruned unit inside it, unless a name nearer the unit (an inner
    nested model, or the unit itself) has one. `outer`: as in `_choose_layers`."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise TypeError(
            "`sparsity_overrides` must be a dict {layer name: sparsity}. "
            f"Received: sparsity_overrides={overrides!r}"
        )
    units = sorted({l.name for l in chosen})
    models = sorted({m.name for l in chosen for m in outer.get(id(l), ())} - set(units))
    parsed = {}
    for name, value in overrides.items():
        if name not in units and name not in models:
            raise ValueError(
                f"`sparsity_overrides` names layer {name!r}, which is not pruned. "
                f"Pruned layers: {units}"
                + (f"; nested models holding pruned layers: {models}" if models else ""))
        parsed[name] = _parse_override(name, value)
    result = {}
    for unit in chosen:
        for holder in [*outer.get(id(unit), ()), unit]:  # outermost first: the nearest wins
            if holder.name in parsed:
                result[unit.name] = parsed[holder.name]
    return result


def _parse_override(name: str, value) -> tuple[float | None, float | None]:
    """`(absolute sparsity, None)` for a number, `(None, scale)` for a string 'Nx'."""
    if is_number(value) and math.isfinite(value) and 0 <= value < 1:
        return float(value), None
    if isinstance(value, str) and value.endswith("x"):
        try:
            scale = float(value[:-1])
        except ValueError:
            scale = None
        if scale is not None and math.isfinite(scale) and scale >= 0:
            return None, scale
    raise ValueError(
        f"`sparsity_overrides['{name}']` must be a sparsity in [0, 1) or a string 'Nx' "
        "with N a finite number >= 0 (N times the model-wide target, e.g. '0.5x'). "
        f"Received: {value!r}"
    )
