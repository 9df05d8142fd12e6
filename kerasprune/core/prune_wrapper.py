"""`PruneWrapper`: the Keras layer that holds a layer's pruning masks.

The wrapper owns one non-trainable mask per pruned weight and makes it hard: the mask
becomes part of the weight's Keras constraint, which the optimizer applies right after
every update, so a pruned weight is exactly 0.0 after every step whatever the optimizer's
momentum says. The forward pass is the wrapped layer's own, with no extra work.
"""

from __future__ import annotations

import inspect
import json
import os
import warnings

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core import patterns as patterns_lib
from kerasprune.core.group_lasso import AddedPenalty
from kerasprune.core.l0_gates import L0Gates
from kerasprune.core.linear_views import pattern_axes
from kerasprune.core.penalties import check_penalty, penalty_config, weight_penalty
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.mask_constraint import MaskConstraint, apply_mask
from kerasprune.core.pruning_state import PruningState
from kerasprune.core.scopes import ALLOCATED_SCOPES
from kerasprune.core.weight_criteria import CRITERIA
from kerasprune.core.registry import (
    HOW_TO_MAKE_PRUNABLE,
    named_variables,
    prunable_weight_names,
)
from kerasprune.core.validation import (
    check_choice,
    check_int,
    check_scale,
    check_sparsity,
    is_number,
    is_single,
)

#: Where a wrapper's target comes from: itself, or a set shared by every wrapper of a scope.
SCOPES = ("layer", "output", *ALLOCATED_SCOPES)
#: Default `min_density`: every pruned tensor keeps at least 1% of its weights.
DEFAULT_MIN_DENSITY = 0.01
#: Mask storage: None (the weight's own dtype, the default) or "uint8" (1 byte per weight).
MASK_DTYPES = (None, "uint8")
BACKENDS = ("tensorflow", "jax")


@keras.saving.register_keras_serializable(package="kerasprune")
class PruneWrapper(keras.layers.Wrapper):
    """Wraps a layer so that some of its weights can be pruned with hard masks.

    Usually created by `kerasprune.prune(model)`, but usable by hand in model code,
    including subclassed models. The masks start at ones (nothing pruned); a callback
    (`PruningCallback`, `IMPCallback`) or `kerasprune.update_masks` fills them.

    A composite layer (`MultiHeadAttention`, `LSTM`, `Bidirectional(...)`,
    `TimeDistributed(...)`, a custom block) is wrapped whole: the masks sit on the
    variables of its sublayers, so the layer runs exactly as before.

    Args:
        layer: the layer to wrap (Dense, Conv*, Embedding, attention, recurrent, ... or
            any layer with `get_prunable_weights()`).
        weight_names: names of the variables to prune, relative to `layer` (`"kernel"`,
            or `"query/kernel"` for a sublayer's); defaults to the layer's kernels.
        scope: `"layer"` (each weight tensor reaches the target on its own), `"output"`
            (each output unit of each tensor does: Wanda's comparison group;
            unstructured patterns only), `"global"`
            (one magnitude threshold across all global-scope wrappers of the model),
            `"lamp"` (one threshold on LAMP-normalized magnitudes) or `"erk"` (per-tensor
            sparsities from the Erdos-Renyi-Kernel rule); see `kerasprune.update_masks`.
        sparsity_override: this layer's own final sparsity in [0, 1), or None.
        sparsity_scale: this layer's target as a fraction of the model-wide target.
        mask_dtype: None (default): masks in the weight's dtype, 4 bytes per float32
            weight; `"uint8"`: 1 byte per weight, cast to the weight's dtype in the
            constraint after every optimizer step (slightly slower; see bench/RESULTS.md,
            section "scale").
        min_density: the fraction of each pruned weight tensor that is kept at least
            (at least one weight), in [0, 1]; 0 lets a model-wide scope empty a layer.
            Never more than the tensor's uniform share of the target.
        follows: name of a channel-pruned layer whose output channels this wrapper's
            per-channel weights mirror: a BatchNormalization after a pruned conv gets
            `gamma` and `beta` zeroed for the conv's pruned channels, so those channels
            output exactly zero and `kerasprune.shrink` can remove them.
        pattern: a `kerasprune.patterns.MaskPattern` (default: unstructured).
        penalty: strength of a `kerasprune.GroupLasso` penalty over the pattern's groups
            added to each pruned weight's regularizer (L1 when unstructured), a penalty
            kind of `kerasprune.core.penalties` (`ElasticNet`, `SparseGroupLasso`, or
            `L0Gates`: hard-concrete gates on the output channels, held in `gates`), or
            None.
        criterion: how the pruned weights are scored, pooled into the pattern's groups:
            `"magnitude"` (the default), `"snip"`, `"obd"`, `"wanda"`, `"grasp"`,
            `"synflow"`, `"random"` or `"sparsegpt"` (see `kerasprune.prune`); a
            `Channels` pattern has its own criterion.
        seed: seed of the `"random"` criterion's order.
        name: the wrapper's name; `"prune_<layer name>"` by default. `kerasprune.prune`
            gives a wrapper producing a model output the layer's own name, so that the
            model's output names (keys of dict targets, losses and logs) do not change.

    Example:

    >>> import keras, kerasprune
    >>> inputs = keras.Input((16,))
    >>> outputs = kerasprune.PruneWrapper(keras.layers.Dense(4))(inputs)
    >>> model = keras.Model(inputs, outputs)
    >>> round(kerasprune.update_masks(model, 0.75), 2)
    0.75
    """

    def __init__(
        self,
        layer: keras.layers.Layer,
        *,
        weight_names: list[str] | None = None,
        scope: str = "layer",
        sparsity_override: float | None = None,
        sparsity_scale: float | None = None,
        min_density: float = DEFAULT_MIN_DENSITY,
        mask_dtype: str | None = None,
        follows: str | None = None,
        pattern: patterns_lib.MaskPattern | dict | None = None,
        penalty=None,
        criterion: str | None = None,
        seed: int = 0,
        **kwargs,
    ):
        check_backend()
        if follows is not None and not isinstance(follows, str):
            raise TypeError(f"`follows` must be a layer name or None. Received: follows={follows!r}")
        if follows is not None and weight_names is None:
            weight_names = _normalization_weight_names(layer)
        _check_layer(layer, weight_names)
        _check_options(scope, sparsity_override, sparsity_scale)
        check_min_density(min_density)
        mask_dtype = check_mask_dtype(mask_dtype)
        kwargs.setdefault("name", f"prune_{layer.name}")
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)
        # Given names are saved; default ones are found again on load (sublayer names
        # of a custom block may differ between copies).
        self._given_weight_names = None if weight_names is None else list(weight_names)
        self.weight_names = self._given_weight_names
        self.scope = scope
        self.sparsity_override = None if sparsity_override is None else float(sparsity_override)
        self.sparsity_scale = None if sparsity_scale is None else float(sparsity_scale)
        self.min_density = float(min_density)
        self.mask_dtype = mask_dtype
        self.follows = follows
        self.pattern = patterns_lib.get(pattern)
        self.criterion = check_criterion(criterion, self.pattern)
        if scope == "output" and type(self.pattern) is not patterns_lib.Unstructured:
            raise ValueError(
                "`scope='output'` prunes each output unit's weights to the target, weight "
                "by weight: it needs `pattern=kerasprune.Unstructured()` (N:M already "
                f"chooses within each output). Received: pattern={self.pattern!r}")
        if scope == "output" and self.criterion == "sparsegpt":
            raise ValueError(
                "`scope='output'` ranks each output unit's weights by a score; 'sparsegpt' "
                "chooses its masks by OBS, block by block: give scope='layer' (or a "
                "model-wide scope) with it. Received: scope='output', criterion='sparsegpt'")
        self.seed = check_int("seed", seed, minimum=0)
        self.penalty = check_penalty(penalty)
        if isinstance(self.penalty, L0Gates) and not getattr(self.pattern, "prunes_channels",
                                                             False):
            raise ValueError(
                "L0 gates switch whole output channels: give `pattern=kerasprune.Channels()` "
                f"with `penalty={self.penalty!r}`. Received: pattern={self.pattern!r}")
        self.pruned_weights: list = []
        self.masks: list = []
        #: The `HardConcreteGates` of an `L0Gates` penalty, else None.
        self.gates = None
        if self._layer_has_state():
            self._attach_masks()
            self.built = True

    def build(self, input_shape=None):
        # A layer built from one shape is built now; the others (attention needs all its
        # input shapes, an RNN its state shapes, a custom block builds its sublayers
        # when called) build on their first call, and `call` attaches the masks then.
        if not self.layer.built and input_shape is not None and _builds_from_one_shape(
            self.layer
        ):
            self.layer.build(input_shape)
        if not self.masks and self._layer_has_state():
            self._attach_masks()

    def get_build_config(self):
        # The wrapped layer's own build config: it knows how to rebuild itself. A
        # callback's resume state held here is rebuilt from its spec before the weights
        # (its values) are loaded.
        config = {"layer": self.layer.get_build_config()}
        state = getattr(self, "pruning_state", None)
        if state is not None:
            config["pruning_state"] = {"spec": state.spec, "owner": state.owner}
        return config

    def build_from_config(self, config):
        if config and "pruning_state" in config:
            PruningState(**config["pruning_state"], dtype="float32").attach_to(self)
        if config and "layer" in config:
            if not self.layer.built and config["layer"]:
                self.layer.build_from_config(config["layer"])
            self.build()
        elif config:  # saved before the wrapped layer's build config was kept
            super().build_from_config(config)

    # A subclassed model that builds its wrappers in its own code is rebuilt by that code
    # when loaded, and Keras applies no build config to its layers: the resume state's
    # spec also travels as this wrapper's asset, which Keras reads before the state's values.
    def save_assets(self, dir_path):
        state = getattr(self, "pruning_state", None)
        if state is not None:
            with open(os.path.join(dir_path, _STATE_FILE), "w") as file:
                json.dump({"spec": state.spec, "owner": state.owner}, file)

    def load_assets(self, dir_path):
        path = os.path.join(dir_path, _STATE_FILE) if dir_path else None
        if path and os.path.exists(path) and getattr(self, "pruning_state", None) is None:
            with open(path) as file:
                PruningState(**json.load(file), dtype="float32").attach_to(self)

    def _layer_has_state(self) -> bool:
        return self.layer.built and bool(named_variables(self.layer))

    def _attach_masks(self) -> None:
        variables = named_variables(self.layer)
        names = self.weight_names or prunable_weight_names(self.layer)
        if not names:
            raise ValueError(
                f"Layer '{self.layer.name}' of type {type(self.layer).__name__} has no "
                f"prunable variables. Its variables are {sorted(variables)}."
            )
        missing = [n for n in names if n not in variables]
        if missing:
            raise ValueError(
                f"Layer '{self.layer.name}' has no variables named {missing}. "
                f"Its variables are {sorted(variables)}."
            )
        self.weight_names = list(names)
        self.pruned_weights = [variables[n] for n in names]
        for index, weight in enumerate(self.pruned_weights):
            try:
                self.weight_pattern(index).check_shape(tuple(weight.shape))
            except ValueError as error:
                raise ValueError(
                    f"Layer '{self.layer.name}' cannot be pruned with `pattern`="
                    f"{self.pattern!r}: its weight '{weight.name}' has shape "
                    f"{tuple(weight.shape)}. {error}"
                ) from None
        for index, (name, weight) in enumerate(zip(names, self.pruned_weights)):
            mask = self.add_weight(
                shape=weight.shape,
                initializer="ones",
                dtype=self.mask_dtype or weight.dtype,
                trainable=False,
                name=f"{name.replace('/', '_')}_mask",
            )
            self.masks.append(mask)
            weight.constraint = MaskConstraint(mask, weight.constraint)
            penalty = weight_penalty(self.penalty, self.weight_pattern(index))
            if penalty is not None:
                weight.regularizer = AddedPenalty(penalty, weight.regularizer)
        if isinstance(self.penalty, L0Gates):
            self.gates = self.penalty.make_gates(self.layer, self.pruned_weights, self.name)

    def weight_pattern(self, index: int) -> patterns_lib.MaskPattern:
        """The pattern laid along pruned weight `index`'s own input and output axes
        (`kerasprune.core.linear_views.pattern_axes`): N:M runs and blocks lie along the
        layer's input axis, whichever axis of the kernel that is."""
        return self.pattern.along(pattern_axes(self, index))

    @property
    def penalized(self) -> bool:
        """True while the pruned weights carry this wrapper's penalty."""
        return any(isinstance(w.regularizer, AddedPenalty) for w in self.pruned_weights)

    def remove_penalty(self) -> None:
        """Take the penalty off the pruned weights (their own regularizers stay).

        A compiled model keeps the penalty in its traced train step until
        `model.make_train_function(force=True)`.
        """
        for weight in self.pruned_weights:
            if isinstance(weight.regularizer, AddedPenalty):
                weight.regularizer = weight.regularizer.inner

    def __getattr__(self, name):
        # Public attributes of the wrapped layer read through the wrapper, so model code
        # such as `self.dense.units` keeps working after pruning.
        layer = self.__dict__.get("layer")
        if layer is None or name.startswith("_"):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return getattr(layer, name)

    #: True while a pruning callback drives a fit of the model (it sets it).
    driven = False

    def call(self, inputs, *args, training=None, **kwargs):
        if training and not self.driven:
            _warn_if_dense(self)  # once, when the train step is traced
            _warn_if_ema(self)
        outputs = self.layer(inputs, *args, training=training, **kwargs)
        if not self.masks:  # the wrapped layer built itself in this first call
            with _compat.unlocked_state(self):
                self._attach_masks()
        if self.gates is not None:
            outputs = self.gates(outputs, training=training)
        if keras.backend.backend() == "jax":
            for weight, mask in zip(self.pruned_weights, self.masks):
                weight.constraint.traced_mask = _compat.scoped_value(mask)
        return outputs

    def compute_mask(self, inputs, mask=None):
        return self.layer.compute_mask(inputs, mask)

    def apply_masks(self) -> None:
        """Zero the pruned weights again with the current masks (after their values were
        set from outside: a rewind, a restored snapshot). Masks are written only by
        `kerasprune.core.mask_update`.

        Example:

        >>> import numpy as np, keras, kerasprune
        >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]))
        >>> _ = kerasprune.update_masks(model, 0.5)
        >>> wrapper = kerasprune.prune_wrappers(model)[0]
        >>> _ = wrapper.layer.kernel.assign(np.ones((2, 2)))
        >>> wrapper.apply_masks()
        >>> int(np.count_nonzero(wrapper.layer.kernel.numpy()))
        2
        """
        for weight, mask in zip(self.pruned_weights, self.masks):
            weight.assign(apply_mask(weight, mask))

    @property
    def sparsity(self) -> float:
        """Fraction of this wrapper's pruned weights that are masked."""
        total = sum(int(np.prod(m.shape)) for m in self.masks)
        kept = sum(int(np.count_nonzero(m.numpy())) for m in self.masks)
        return 1.0 - kept / total if total else 0.0

    def load_own_variables(self, store) -> None:
        # Keras matches saved layers by position and type, not by name: weights saved from a
        # model pruned on other layers reach this wrapper with nothing (or another
        # layer's mask) where its masks go. Say so, instead of "expected 2 variables".
        own = _compat.own_variables(self)
        saved = [tuple(store[key].shape) for key in sorted(store.keys(), key=int)]
        if saved != [tuple(v.shape) for v in own]:
            raise ValueError(
                f"Layer '{self.name}' (the pruning wrapper of '{self.layer.name}') finds "
                f"{len(saved)} saved variables of shapes {saved} at its place in the weights "
                f"file, where it holds {[(v.name, tuple(v.shape)) for v in own]}. The file was "
                "saved from a model pruned on other layers (or not pruned): Keras matches "
                "layers by their order and type, not by name. Load it into a model pruned "
                "the same way (the same `layers`/`exclude` in kerasprune.prune), or load "
                "dense weights into the dense model before pruning it."
            )
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update(
            weight_names=self._given_weight_names,
            scope=self.scope,
            sparsity_override=self.sparsity_override,
            sparsity_scale=self.sparsity_scale,
            min_density=self.min_density,
            mask_dtype=self.mask_dtype,
            follows=self.follows,
            pattern=keras.saving.serialize_keras_object(self.pattern),
            penalty=penalty_config(self.penalty),
            criterion=self.criterion,
            seed=self.seed,
        )
        state = getattr(self, "pruning_state", None)
        if state is not None and _compat.writing_legacy_config():
            # A legacy `.h5` saves the state's values among this wrapper's weights but
            # not the build config that rebuilds it: `from_config` rebuilds it from here.
            config["pruning_state"] = keras.saving.serialize_keras_object(state)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        state = config.pop("pruning_state", None)  # files before 0.3 and legacy .h5 keep it
        wrapper = super().from_config(config)
        if state is not None:
            keras.saving.deserialize_keras_object(state).attach_to(wrapper)
        # Loading applies the build config only to an unbuilt layer: the masks exist
        # already, the resume state is added by `build_from_config`.
        wrapper.built = False
        return wrapper


_STATE_FILE = "pruning_state.json"


def _warn_if_dense(wrapper: PruneWrapper) -> None:
    """Warn (once per wrapper; the same message and line, so Python shows it once) when a
    model whose masks prune nothing is trained with no pruning callback. One dense wrapper
    is not enough: global scope may leave a layer whole while the others are pruned."""
    if getattr(wrapper, "_warned_dense", False) or not wrapper.masks:
        return
    model = _compat.calling_layer() or wrapper
    wrappers = [layer for layer in [model, *_compat.flatten_layers(model)]
                if isinstance(layer, PruneWrapper)]
    if any(not np.all(_compat.value_now(m)) for w in wrappers for m in w.masks):
        return
    wrapper._warned_dense = True
    warnings.warn(
        "A pruning-ready model is trained without a pruning callback, and its masks prune "
        "nothing yet: it will end as dense as it started. Add the callback that prunes to "
        "fit (kerasprune.PruningCallback, IMPCallback, BIMPCallback, RigLCallback, "
        "PenaltyPruningCallback, or kerasprune.callbacks' MovementPruningCallback and "
        "L0PruningCallback), or prune it first (update_masks, one_shot_prune).",
        stacklevel=user_stacklevel())


def _warn_if_ema(wrapper: PruneWrapper) -> None:
    """Warn (once per wrapper; the same message and line, so Python shows it once) when a
    pruned model is trained with no pruning callback by an optimizer with `use_ema=True`:
    Keras averages the weights before the masks apply and writes the averages into the
    model when fit ends, so the pruned weights come back."""
    model = _compat.calling_layer() or wrapper
    if getattr(wrapper, "_warned_ema", False) or _compat.ema_optimizer(
            getattr(model, "optimizer", None)) is None:
        return
    if all(np.all(_compat.value_now(m)) for m in wrapper.masks):
        return
    wrapper._warned_ema = True
    warnings.warn(
        "A pruned model is trained without a pruning callback by an optimizer with "
        "use_ema=True: Keras writes its moving averages, which the masks do not hold, into "
        "the model when fit ends (and keras.callbacks.SwapEMAWeights at epoch ends), so the "
        "pruned weights come back. Compile with use_ema=False, fit with a pruning callback "
        "(it masks the averages too), or re-apply the masks after fit: "
        "`for w in kerasprune.prune_wrappers(model): w.apply_masks()`.",
        stacklevel=user_stacklevel())


def check_backend() -> None:
    """Refuse a Keras backend kerasprune does not run on, before anything is built.

    PyTorch's CPU wheel is not on PyPI (its default wheel brings CUDA, several GB), so
    the torch backend is not tested and not supported.
    """
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ValueError(
            f"kerasprune runs on the Keras backends {BACKENDS}. Received: the {backend!r} "
            "backend; set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax before importing keras."
        )


def _builds_from_one_shape(layer) -> bool:
    """True when `layer.build` is its own and takes exactly one shape (Dense, Conv...)."""
    if type(layer).build is keras.layers.Layer.build:
        return False
    parameters = inspect.signature(layer.build).parameters.values()
    required = [p for p in parameters if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) == 1


def _normalization_weight_names(layer) -> list[str]:
    """`gamma` and `beta` of a normalization layer, those it has."""
    flags = {"gamma": getattr(layer, "scale", True), "beta": getattr(layer, "center", True)}
    return [name for name, present in flags.items() if present]


def _check_layer(layer, weight_names) -> None:
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            "`layer` must be a keras.layers.Layer. "
            f"Received: layer={layer!r} of type {type(layer).__name__}"
        )
    if isinstance(layer, PruneWrapper):
        raise ValueError(f"Layer '{layer.name}' is already a PruneWrapper; wrap it only once.")
    if isinstance(layer, keras.Model):
        raise TypeError(
            f"`layer` must be a single layer, not a model ('{layer.name}'). "
            "Use kerasprune.prune(model) to prune a whole model."
        )
    if weight_names is None and prunable_weight_names(layer) is None:
        raise ValueError(
            f"Layer '{layer.name}' of type {type(layer).__name__} has no known prunable "
            f"weights. {HOW_TO_MAKE_PRUNABLE}"
        )
    if weight_names is not None and (
        isinstance(weight_names, str) or not all(isinstance(n, str) for n in weight_names)
    ):
        raise TypeError(
            "`weight_names` must be a list of variable names such as ['kernel']. "
            f"Received: weight_names={weight_names!r}"
        )


def check_criterion(criterion, pattern) -> str:
    """The weight criterion of a wrapper with `pattern` (None: magnitude, or the criterion
    of a deprecated `Unstructured("snip")`)."""
    legacy = getattr(pattern, "criterion", "magnitude") if pattern.pools_weights else None
    if criterion is None:
        return legacy if legacy in CRITERIA else "magnitude"
    check_choice("criterion", criterion, CRITERIA)
    if criterion != "magnitude" and not pattern.pools_weights:
        raise ValueError(
            f"`criterion` scores single weights, and the {pattern!r} pattern scores its "
            "groups by its own criterion: give `criterion` with Unstructured, Blocks or NM "
            f"patterns only. Received: criterion={criterion!r}, pattern={pattern!r}")
    if criterion == "grasp" and type(pattern).__name__ != "Unstructured":
        raise ValueError(
            "GraSP's scores are signed, and block and N:M patterns pool magnitudes: give "
            f"criterion='grasp' with unstructured pruning. Received: pattern={pattern!r}")
    if legacy not in (None, "magnitude", criterion):
        raise ValueError(
            f"The pattern {pattern!r} scores by {legacy!r}: give `criterion={legacy!r}` "
            f"and pattern=kerasprune.Unstructured(). Received: criterion={criterion!r}")
    return criterion


def check_min_density(min_density) -> float:
    """A fraction in [0, 1]: the part of each pruned tensor kept at least."""
    if not (is_number(min_density) and 0.0 <= min_density <= 1.0):
        raise ValueError(
            "`min_density` must be a float in [0, 1]. "
            f"Received: min_density={min_density!r}"
        )
    return float(min_density)


def check_mask_dtype(mask_dtype) -> str | None:
    """None (the weight's dtype) or "uint8" (also spelled `np.uint8`); returns the name."""
    name = mask_dtype
    if mask_dtype is not None and not isinstance(mask_dtype, (str, bool)):
        try:  # numpy and TensorFlow dtypes, as Keras' own dtype arguments take them
            name = keras.backend.standardize_dtype(mask_dtype)
        except (TypeError, ValueError, AttributeError):
            name = mask_dtype
    if not is_single(name) or name not in MASK_DTYPES or isinstance(name, bool):
        raise ValueError(
            f"`mask_dtype` must be one of {MASK_DTYPES}. Received: mask_dtype={mask_dtype!r}"
        )
    return name


def _check_options(scope, sparsity_override, sparsity_scale) -> None:
    check_choice("scope", scope, SCOPES)
    if sparsity_override is not None:
        check_sparsity("sparsity_override", sparsity_override)
    if sparsity_scale is not None:
        check_scale("sparsity_scale", sparsity_scale)
    if sparsity_override is not None and sparsity_scale is not None:
        raise ValueError("Give at most one of `sparsity_override` and `sparsity_scale`.")
