"""`prune_low_magnitude`, `PruneLowMagnitude`, `strip_pruning`, `prune_scope` with TFMOT's API.

`PruneLowMagnitude` is a kerasprune `PruneWrapper` that carries TFMOT's per-layer settings:
its `pruning_schedule` and the block or m-by-n pattern. The masks, the selection rule and
the hard constraint are kerasprune's; `UpdatePruningStep` asks each wrapper's schedule at
each step and updates the masks of the wrappers it names.
"""

from __future__ import annotations

import warnings

import keras

from kerasprune import _compat
from kerasprune.core import model_walk
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.patterns import Blocks, MaskPattern, Unstructured
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.registry import HOW_TO_MAKE_PRUNABLE, is_never_pruned, prunable_weight_names
from kerasprune.core.wrapping import UnprunableLayerWarning, strip
from kerasprune.structured.channel_patterns import NM
from kerasprune.tfmot.sparsity.keras import pruning_schedule as schedules

_POOLING = {"AVG": "mean", "MAX": "max"}
_NEEDS_CALLBACK = (
    "PruneLowMagnitude layers are pruned by the UpdatePruningStep callback: add "
    "tfmot.sparsity.keras.UpdatePruningStep() to the callbacks of fit (or call its "
    "on_train_begin / on_train_batch_begin in a custom training loop)."
)


def _default_schedule() -> schedules.PruningSchedule:
    return schedules.ConstantSparsity(0.5, 0)


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class PruneLowMagnitude(PruneWrapper):
    """TFMOT's pruning wrapper: a `PruneWrapper` with its own schedule and pattern.

    Args:
        layer: the layer to prune (a built-in prunable layer, or one with
            `get_prunable_weights()`).
        pruning_schedule: a `PruningSchedule` (default `ConstantSparsity(0.5, 0)`).
        block_size: `(height, width)` blocks over the last two weight axes; `(1, 1)` is
            element-wise.
        block_pooling_type: `"AVG"` or `"MAX"`: how a block's magnitudes are pooled.
        sparsity_m_by_n: `(m, n)`: `m` zeros in every `n` consecutive weights along the
            input axis, set once at step 1 (the schedule is not used), as in TFMOT.

    Example:

    >>> import keras
    >>> wrapper = PruneLowMagnitude(keras.layers.Dense(4, name="fc"), block_size=(4, 1))
    >>> wrapper.name, wrapper.pattern
    ('prune_low_magnitude_fc', Blocks((4, 1)))
    """

    def __init__(self, layer, pruning_schedule=None, block_size=(1, 1),
                 block_pooling_type="AVG", sparsity_m_by_n=None, **kwargs):
        schedule = _default_schedule() if pruning_schedule is None else pruning_schedule
        self.pruning_schedule = schedules.deserialize(schedule)
        self.block_size = _pair("block_size", block_size)
        if block_pooling_type not in _POOLING:
            raise ValueError(
                "`block_pooling_type` must be 'AVG' or 'MAX'. "
                f"Received: block_pooling_type={block_pooling_type!r}"
            )
        self.block_pooling_type = block_pooling_type
        self.sparsity_m_by_n = None if not sparsity_m_by_n else _m_by_n(sparsity_m_by_n)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                "`layer` must be a keras.layers.Layer instance. "
                f"Received: layer={layer!r} of type {type(layer).__name__}"
            )
        kwargs.pop("pattern", None)  # derived from the settings above
        kwargs.setdefault("name", f"prune_low_magnitude_{layer.name}")
        super().__init__(layer, pattern=self._pattern(), **kwargs)
        self.driven = False  # set by UpdatePruningStep

    def _pattern(self) -> MaskPattern:
        if self.sparsity_m_by_n is not None:
            zeros, run = self.sparsity_m_by_n
            return NM(run - zeros, run)
        if self.block_size == (1, 1):
            return Unstructured()
        return Blocks(self.block_size, pooling=_POOLING[self.block_pooling_type])

    def target_at(self, step: int) -> float | None:
        """The sparsity to prune to at `step`, or None when this layer does not prune then."""
        if self.sparsity_m_by_n is not None:
            zeros, run = self.sparsity_m_by_n
            return zeros / run if step == 1 else None
        should, sparsity = self.pruning_schedule(step)
        return float(sparsity) if bool(should) else None

    def call(self, inputs, *args, training=None, **kwargs):
        if training and not self.driven:
            raise ValueError(_NEEDS_CALLBACK)
        return super().call(inputs, *args, training=training, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("pattern", None)
        config.update(
            pruning_schedule=schedules.serialize(self.pruning_schedule),
            block_size=list(self.block_size),
            block_pooling_type=self.block_pooling_type,
            sparsity_m_by_n=None if self.sparsity_m_by_n is None else list(self.sparsity_m_by_n),
        )
        return config


def prune_low_magnitude(to_prune, pruning_schedule=None, block_size=(1, 1),
                        block_pooling_type="AVG", pruning_policy=None, sparsity_m_by_n=None,
                        **kwargs):
    """Wrap a model, a layer or a list of layers for pruning during training (TFMOT's API).

    A model (Sequential, Functional or subclassed; nested models included) is copied with
    every prunable layer wrapped in `PruneLowMagnitude`; layers already wrapped are kept;
    layers with weights kerasprune cannot prune stay dense with an
    `UnprunableLayerWarning`. The input model is left untouched, and the copy must be
    compiled. A layer returns its wrapper; a list, a list of wrappers.

    Args:
        to_prune: a `keras.Model`, a `keras.layers.Layer` or a list of layers.
        pruning_schedule: a `PruningSchedule` (default `ConstantSparsity(0.5, 0)`).
        block_size: `(height, width)` blocks over the last two weight axes.
        block_pooling_type: `"AVG"` or `"MAX"`.
        pruning_policy: a `PruningPolicy` choosing which layers of a model to wrap.
        sparsity_m_by_n: `(m, n)`: `m` zeros in every `n` consecutive input weights.
        **kwargs: passed to the wrapper when `to_prune` is a layer.

    Example:

    >>> import keras
    >>> import kerasprune.tfmot as tfmot
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="fc"),
    ...                           keras.layers.Flatten(name="flat")])
    >>> pruned = tfmot.sparsity.keras.prune_low_magnitude(model)
    >>> [layer.name for layer in pruned.layers]
    ['prune_low_magnitude_fc', 'flat']
    """
    params = dict(pruning_schedule=pruning_schedule, block_size=block_size,
                  block_pooling_type=block_pooling_type, sparsity_m_by_n=sparsity_m_by_n)
    if isinstance(to_prune, list):
        return [_wrap_listed(layer, params) for layer in to_prune]
    if isinstance(to_prune, keras.Model):
        if pruning_policy is not None:
            pruning_policy.ensure_model_supports_pruning(to_prune)
        return _prune_model(to_prune, params, pruning_policy)
    if isinstance(to_prune, keras.layers.Layer):
        return PruneLowMagnitude(to_prune, **params, **kwargs)
    raise ValueError(
        "`prune_low_magnitude` can prune a keras.Model, a keras.layers.Layer or a list of "
        f"layers. Received: to_prune of type {type(to_prune).__name__}"
    )


def _wrap_listed(layer, params):
    if isinstance(layer, PruneLowMagnitude):
        return layer
    if isinstance(layer, keras.layers.InputLayer):
        return model_walk.fresh_copy(layer)
    return PruneLowMagnitude(layer, **params)


def _prune_model(model, params, policy) -> keras.Model:
    unknown = []

    def replace(layer, twin):
        if isinstance(layer, (keras.Model, PruneWrapper)) or _inside_wrapper(layer, model):
            return None
        if policy is not None and not policy.allow_pruning(layer):
            return None
        if prunable_weight_names(layer) is not None:
            return PruneLowMagnitude(model_walk.fresh_copy(layer), **params)
        if layer.weights and not is_never_pruned(layer) and not _is_container(layer):
            unknown.append(layer.name)
        return None

    pruned = model_walk.copy_model(model, replace)
    if unknown:
        warnings.warn(
            f"These layers have weights but are left dense: {unknown}. {HOW_TO_MAKE_PRUNABLE}",
            UnprunableLayerWarning,
            stacklevel=user_stacklevel(),
        )
    return pruned


def _inside_wrapper(layer, model) -> bool:
    return any(layer is w.layer for w in model_walk.prune_wrappers(model))


def _is_container(layer) -> bool:
    # A layer whose weights all belong to sublayers is judged through those sublayers.
    return bool(_compat.direct_sublayers(layer)) and not _compat.own_variables(layer)


def strip_pruning(model: keras.Model) -> keras.Model:
    """A copy of `model` without pruning wrappers; pruned weights stay exactly zero.

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
    return strip(model)


def prune_scope() -> keras.saving.CustomObjectScope:
    """A scope in which files saved by TFMOT-style code deserialize (`PruneLowMagnitude`).

    kerasprune's classes are registered with Keras, so `.keras` files load without it;
    the scope also maps the bare name used by legacy HDF5 files.

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


def _pair(name: str, value) -> tuple[int, int]:
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                 for v in pair):
        raise ValueError(
            f"`{name}` must be a tuple or list of 2 positive ints. Received: {name}={value!r}"
        )
    return pair


def _m_by_n(value) -> tuple[int, int]:
    zeros, run = _pair("sparsity_m_by_n", value)
    if zeros >= run:
        raise ValueError(
            "`sparsity_m_by_n` = (m, n) needs m < n (m zeros in every n weights). "
            f"Received: sparsity_m_by_n={value!r}"
        )
    return zeros, run

