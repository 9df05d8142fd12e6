"""`PruneLowMagnitude`: TFMOT's pruning wrapper, a kerasprune `PruneWrapper`.

As in TFMOT, the wrapper keeps the layer it is given (the same object, so its weights stay
shared with the model it came from), gives it TFMOT's `get_prunable_weights()` when it has
none (`prune_registry`), and creates its variables when built: one mask and one threshold
per pruned weight and `pruning_step`, the step counter (-1 until `UpdatePruningStep`
starts training). Layers without weights (Dropout, Flatten, pooling, ...) are wrapped
with nothing to prune. Each training call advances `pruning_step` (in the compiled train
step too); the mask updates the schedule asks for are made by `UpdatePruningStep` before
each batch, or by the call itself when it runs eagerly. Training without
`UpdatePruningStep` raises `InvalidArgumentError` (TensorFlow backend), as in TFMOT, and so
does a later `fit` without it (TFMOT would update the masks in its train step; here they
would stay as they were).
The masks are kerasprune's: hard, part of each weight's constraint.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.patterns import MaskPattern
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.tfmot.sparsity.keras import pruning_schedule as schedules
from kerasprune.tfmot.sparsity.keras.mask_rules import BlockMask, MagnitudeMask, MByNMask
from kerasprune.tfmot.sparsity.keras.prune_registry import (
    PruneRegistry,
    give_prunable_weights,
    unsupported_message,
)
from kerasprune.tfmot.sparsity.keras.pruning_impl import Pruning
from kerasprune.tfmot.sparsity.keras.pruning_utils import convert_to_tuple_of_two_int

_POOLING = {"AVG": "mean", "MAX": "max"}


def _default_schedule() -> schedules.PruningSchedule:
    return schedules.ConstantSparsity(0.5, 0)


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class PruneLowMagnitude(PruneWrapper):
    """TFMOT's pruning wrapper: magnitude pruning of a layer's weights on a schedule.

    Args:
        layer: the layer to prune: one in TFMOT's registry (any built-in layer, those
            without weights included), one with `get_prunable_weights()`, or one whose
            prunable weights kerasprune knows.
        pruning_schedule: a `PruningSchedule` (default `ConstantSparsity(0.5, 0)`).
        block_size: `(height, width)` blocks of a 2-D weight; `(1, 1)` is element-wise.
        block_pooling_type: `"AVG"` or `"MAX"`: how a block's magnitudes are pooled.
        sparsity_m_by_n: `(m, n)`: `m` zeros in every `n` consecutive input weights of a
            Dense or Conv2D kernel, set once at step 1 (the schedule is not used).
        **kwargs: passed to `keras.layers.Wrapper` (`input_shape`, `name`, ...).

    Example:

    >>> import keras
    >>> dense = keras.layers.Dense(4, name="fc")
    >>> wrapper = PruneLowMagnitude(dense, block_size=(4, 1))
    >>> wrapper.name, wrapper.layer is dense, wrapper.pattern
    ('prune_low_magnitude_fc', True, BlockMask((4, 1), pooling='mean'))
    >>> wrapper.build((None, 8))
    >>> int(wrapper.pruning_step.numpy()), len(wrapper.pruning_vars)
    (-1, 1)
    """

    _PRUNE_CALLBACK_ERROR_MSG = (
        "Prune() wrapper requires the UpdatePruningStep callback to be provided during "
        "training. Please add it as a callback to your model.fit call."
    )

    def __init__(self, layer, pruning_schedule=None, block_size=(1, 1),
                 block_pooling_type="AVG", sparsity_m_by_n=None, **kwargs):
        schedule = _default_schedule() if pruning_schedule is None else pruning_schedule
        self.pruning_schedule = schedules.deserialize(schedule)
        self.block_size = _positive_pair("block_size", block_size)
        if not isinstance(block_pooling_type, str) or block_pooling_type not in _POOLING:
            raise ValueError(
                "`block_pooling_type` must be 'AVG' or 'MAX'. "
                f"Received: block_pooling_type={block_pooling_type!r}"
            )
        self.block_pooling_type = block_pooling_type
        self.sparsity_m_by_n = None if sparsity_m_by_n is None else _m_by_n(sparsity_m_by_n)
        if not isinstance(layer, keras.layers.Layer) or isinstance(layer, keras.Model):
            raise ValueError(
                "`layer` must be a keras.layers.Layer instance (not a model). "
                f"Received: layer={layer!r} of type {type(layer).__name__}"
            )
        if not PruneRegistry.supports(layer):
            raise ValueError(unsupported_message(layer))
        give_prunable_weights(layer)
        kwargs.pop("pattern", None)  # derived from the settings above
        kwargs.setdefault("name", f"prune_low_magnitude_{layer.name}")
        shape = _compat.input_shape_arg(layer)
        super().__init__(layer, pattern=self._pattern(), **kwargs)
        if _compat.input_shape_arg(self) is None and shape is not None:
            _compat.set_input_shape_arg(self, shape)  # a Sequential starts from it
        self.pruning_vars: list = []
        self.pruning_obj: Pruning | None = None
        self.thresholds: list = []
        self._first_step = -1  # UpdatePruningStep sets 0 before the wrapper is built
        self._in_fit = None  # TensorFlow: whether UpdatePruningStep runs this training

    def _pattern(self) -> MaskPattern:
        if self.sparsity_m_by_n is not None:
            return MByNMask(*self.sparsity_m_by_n)
        if self.block_size == (1, 1):
            return MagnitudeMask()
        return BlockMask(self.block_size, pooling=_POOLING[self.block_pooling_type])

    def _layer_has_state(self) -> bool:
        return False  # TFMOT creates the pruning variables in build(), not before

    def build(self, input_shape=None):
        if not self.layer.built and input_shape is not None and _builds_from_shape(self.layer):
            self.layer.build(input_shape)
        if getattr(self, "pruning_step", None) is None:
            self.pruning_step = self.add_weight(
                name="pruning_step", shape=(), dtype="int64", trainable=False,
                initializer=keras.initializers.Constant(self._first_step),
                aggregation="only_first_replica",
            )
        self._make_in_fit_flag()
        self._attach_masks()

    def _make_in_fit_flag(self) -> None:
        """A variable the compiled train step reads: masks are updated by
        `UpdatePruningStep`, so a fit without it (a later one too) must fail, where TFMOT
        would update them in the train step. Not a Keras weight: never saved."""
        if self._in_fit is not None or keras.backend.backend() != "tensorflow":
            return
        import tensorflow as tf

        with tf.init_scope():
            flag = tf.Variable(self._first_step == 0, trainable=False, name="in_fit")
        object.__setattr__(self, "_in_fit", flag)  # untracked by Keras

    def _attach_masks(self) -> None:
        """The masks and thresholds of the prunable weights, once the layer is built."""
        if self.pruning_obj is not None or not self.layer.built:
            return
        give_prunable_weights(self.layer)  # a custom block is known once built
        self.prunable_weights = list(self.layer.get_prunable_weights())
        if self.prunable_weights:
            super()._attach_masks()
        else:
            self.weight_names = []  # nothing to prune (Dropout, Flatten, ...)
        self.thresholds = [
            self.add_weight(name="threshold", shape=(), initializer="zeros",
                            dtype=weight.dtype, trainable=False)
            for weight in self.pruned_weights
        ]
        self.pruning_vars = list(zip(self.pruned_weights, self.masks, self.thresholds))
        self.pruning_obj = Pruning(self)
        if self._first_step == 0:
            # Built by the first (traced) train step of a fit UpdatePruningStep started:
            # step 0 is decided, so the next catch-up includes step 1.
            self.pruning_obj.checked_step = 0

    def start_training(self) -> None:
        """What `UpdatePruningStep.on_train_begin` does: a new wrapper's step goes from
        -1 to 0 (a restored one keeps its step), and the next decision follows it."""
        if getattr(self, "pruning_step", None) is None:
            self._first_step = 0
            return
        if self.current_step() == -1:
            self.pruning_step.assign(0)
        if self.pruning_obj is not None:
            self.pruning_obj.checked_step = self.current_step()
        self._set_in_fit(True)

    def stop_training(self) -> None:
        """What `UpdatePruningStep.on_train_end` does: training without it fails again."""
        self._set_in_fit(False)

    def _set_in_fit(self, value: bool) -> None:
        if self._in_fit is not None:
            self._in_fit.assign(value)

    def current_step(self) -> int:
        """The value of `pruning_step` (the wrapper must be built)."""
        return int(np.asarray(self.pruning_step))

    def __call__(self, *args, **kwargs):
        if not args:  # called as `layer(query=q, value=v)`: the first tensor by name
            first = next(iter(inspect.signature(self.layer.call).parameters))
            if first in kwargs:
                args = (kwargs.pop(first),)
        return super().__call__(*args, **kwargs)

    def call(self, inputs, *args, training=None, **kwargs):
        step = self._advance_step() if training is True else None
        eager = step is not None and _executing_eagerly()
        if eager and self.pruning_obj is not None:
            self.pruning_obj.catch_up(step)
        outputs = super().call(inputs, *args, **kwargs)
        if eager and self.pruning_obj is not None:
            self.pruning_obj.catch_up(step)  # a layer built by this very call
        return outputs

    def _advance_step(self) -> int | None:
        """`pruning_step += 1`, checked >= 1 as TFMOT does; the new step when eager."""
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.control_dependencies(self._in_fit_check()):  # a failed fit keeps the step
                self.pruning_step.assign_add(1)
            tf.debugging.assert_greater_equal(
                self.pruning_step.value, np.int64(1), message=self._PRUNE_CALLBACK_ERROR_MSG)
        else:
            self.pruning_step.assign_add(1)
        if not _executing_eagerly():
            return None
        step = self.current_step()
        if step < 1:
            raise ValueError(self._PRUNE_CALLBACK_ERROR_MSG)
        return step

    def _in_fit_check(self) -> list:
        """The graph's check that `UpdatePruningStep` runs this training (eagerly: raised)."""
        if self._in_fit is None:
            return []
        import tensorflow as tf

        check = tf.debugging.assert_equal(self._in_fit, True,
                                          message=self._PRUNE_CALLBACK_ERROR_MSG)
        return [] if check is None else [check]

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

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)  # the caller's dict stays as it was
        layer = keras.saving.deserialize_keras_object(config.pop("layer"),
                                                      custom_objects=custom_objects)
        return cls(layer, **config)


def collect_prunable_layers(model: keras.layers.Layer) -> list[PruneLowMagnitude]:
    """Every `PruneLowMagnitude` layer of `model`, nested models included, each once.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           PruneLowMagnitude(keras.layers.Dense(2, name="fc"))])
    >>> [layer.name for layer in collect_prunable_layers(model)]
    ['prune_low_magnitude_fc']
    """
    return [w for w in prune_wrappers(model) if isinstance(w, PruneLowMagnitude)]


def _executing_eagerly() -> bool:
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly()
    return not _compat.in_stateless_scope()


def _builds_from_shape(layer) -> bool:
    """True when `layer.build` is its own and needs at most one shape (Dense, Embedding)."""
    if type(layer).build is keras.layers.Layer.build:
        return False
    parameters = list(inspect.signature(layer.build).parameters.values())
    required = [p for p in parameters if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return bool(parameters) and len(required) <= 1


def _positive_pair(name: str, value) -> tuple[int, int]:
    pair = convert_to_tuple_of_two_int(value, name)
    if min(pair) < 1:
        raise ValueError(f"`{name}` must hold 2 positive integers. Received: {name}={value!r}")
    return pair


def _m_by_n(value) -> tuple[int, int]:
    zeros, run = _positive_pair("sparsity_m_by_n", value)
    if zeros >= run:
        raise ValueError(
            "`sparsity_m_by_n` = (m, n) needs m < n (m zeros in every n weights). "
            f"Received: sparsity_m_by_n={value!r}"
        )
    return zeros, run
