"""TFMOT's pruning schedules: `schedule(step) -> (should_prune, sparsity)`, as tensors.

Same arguments, defaults, checks and arithmetic as `tfmot.sparsity.keras`: masks are updated
at the steps `begin_step + k * frequency` within `[begin_step, end_step]` (`end_step=-1`: no
end), and steps count from 1 at the first training batch (`UpdatePruningStep`). Calling a
schedule returns a boolean and a float32 tensor, usable inside `tf.function`; steps may be
given as Python or numpy numbers (`0.2 * np.int32(30)`) as long as they are whole. These
schedules differ from kerasprune's native `ConstantSparsity`/`PolynomialDecay`, whose steps
are fit's 0-based clock and which always update at `end_step`.
"""

from __future__ import annotations

import abc
import numbers
import warnings

import keras
import numpy as np

from kerasprune.core.caller import user_stacklevel
from kerasprune.core.validation import check_sparsity, is_number

ops = keras.ops


class PruningSchedule(abc.ABC):
    """Base class: `__call__(step)` returns `(should_prune, sparsity)` tensors.

    Subclass it for a custom schedule, as in TFMOT: implement `__call__` (with
    `keras.ops`, or TensorFlow ops on the TensorFlow backend) and `get_config`.

    Example:

    >>> class EveryTenSteps(PruningSchedule):
    ...     def __call__(self, step):
    ...         return self._should_prune_in_step(step, 0, -1, 10), 0.5
    ...     def get_config(self):
    ...         return {"class_name": "EveryTenSteps", "config": {}}
    >>> EveryTenSteps().decision(20)
    (True, 0.5)
    """

    @abc.abstractmethod
    def __call__(self, step):
        """`(should_prune, sparsity)` at `step` (a number or an integer tensor)."""

    @abc.abstractmethod
    def get_config(self) -> dict:
        """`{"class_name": ..., "config": {constructor arguments}}`, as in TFMOT."""

    @classmethod
    def from_config(cls, config: dict) -> "PruningSchedule":
        return cls(**config)

    def __repr__(self) -> str:
        config = self.get_config()
        config = config.get("config", {}) if isinstance(config, dict) else {}
        arguments = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({arguments})"

    def decision(self, step: int) -> tuple[bool, float]:
        """`(should_prune, sparsity)` at `step` as Python values (what the callback reads)."""
        should, sparsity = self(step)
        return bool(ops.convert_to_numpy(should)), float(ops.convert_to_numpy(sparsity))

    def last_pruning_step(self, after: int, upto: int) -> int | None:
        """The last step in `(after, upto]` at which this schedule prunes, or None."""
        for step in range(upto, after, -1):
            if self.decision(step)[0]:
                return step
        return None

    def first_step(self) -> int | None:
        """The first step >= 1 at which this schedule prunes, or None if unknown."""
        begin, frequency = getattr(self, "begin_step", None), getattr(self, "frequency", None)
        if not (is_number(begin) and is_number(frequency)):
            return None
        begin, frequency = int(begin), int(frequency)
        return begin if begin >= 1 else begin + frequency * (-(-(1 - begin) // frequency))

    def _should_prune_in_step(self, step, begin_step, end_step, frequency):
        """True (a boolean tensor) at the steps `begin_step + k * frequency` up to
        `end_step` (any step when `end_step` < 0)."""
        step = ops.convert_to_tensor(step)
        in_range = ops.logical_and(
            ops.greater_equal(step, begin_step),
            ops.logical_or(ops.less_equal(step, end_step), end_step < 0),
        )
        turn = ops.equal(ops.mod(ops.subtract(step, begin_step), frequency), 0)
        return ops.logical_and(in_range, turn)

    @staticmethod
    def _validate_step(begin_step, end_step, frequency, allow_negative_1: bool) -> None:
        _check_step("begin_step", begin_step)
        _check_step("end_step", end_step, minimum=None)
        _check_step("frequency", frequency, minimum=1)
        if end_step == -1:
            if not allow_negative_1:
                raise ValueError(
                    "`end_step` cannot be -1 for this schedule: it needs an end. "
                    f"Received: end_step={end_step!r}"
                )
            return
        if end_step < 0:
            raise ValueError(f"`end_step` must be -1 or >= 0. Received: end_step={end_step!r}")
        if end_step < begin_step:
            raise ValueError(
                "`begin_step` must be <= `end_step` when `end_step` != -1. Received: "
                f"begin_step={begin_step!r}, end_step={end_step!r}"
            )


def _check_step(name: str, value, minimum: int | None = 0) -> None:
    """A whole number (Python or numpy, int or float) >= `minimum`."""
    whole = is_number(value) and np.isfinite(value) and float(value).is_integer()
    if not whole or (minimum is not None and value < minimum):
        at_least = "" if minimum is None else f" >= {minimum}"
        raise ValueError(
            f"`{name}` must be a whole number{at_least}. Received: {name}={value!r}"
        )


def _step(value) -> int:
    return int(value)


def _number(value):
    """A config value as a plain Python number (numpy scalars are not JSON)."""
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def _should_prune(step: int, begin: int, end: int, frequency: int) -> bool:
    return step >= begin and (end < 0 or step <= end) and (step - begin) % frequency == 0


def _last_pruning_step(schedule, after: int, upto: int) -> int | None:
    """`last_pruning_step` of a schedule pruning every `frequency` steps in
    `[begin_step, end_step]`, without asking it step by step."""
    begin, end, frequency = (_step(schedule.begin_step), _step(schedule.end_step),
                             _step(schedule.frequency))
    last = upto if end < 0 else min(upto, end)
    if last < begin:
        return None
    step = begin + (last - begin) // frequency * frequency
    return step if step > after else None


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class ConstantSparsity(PruningSchedule):
    """Prune to `target_sparsity` at `begin_step` and every `frequency` steps after.

    Args:
        target_sparsity: the sparsity in [0, 1).
        begin_step: the first step that prunes.
        end_step: the last step that may prune, or -1 (default) for no end.
        frequency: steps between mask updates (default 100).

    Example:

    >>> schedule = ConstantSparsity(0.5, begin_step=0)
    >>> should, sparsity = schedule(100)
    >>> bool(should), float(sparsity)
    (True, 0.5)
    >>> schedule.decision(150), schedule.end_step, schedule.first_step()
    ((False, 0.5), -1, 100)
    """

    def __init__(self, target_sparsity: float, begin_step: int, end_step: int = -1,
                 frequency: int = 100):
        self._validate_step(begin_step, end_step, frequency, allow_negative_1=True)
        check_sparsity("target_sparsity", target_sparsity)
        self.target_sparsity = target_sparsity
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def __call__(self, step):
        should = self._should_prune_in_step(step, _step(self.begin_step), _step(self.end_step),
                                            _step(self.frequency))
        return should, ops.convert_to_tensor(self.target_sparsity, dtype="float32")

    def decision(self, step: int) -> tuple[bool, float]:
        should = _should_prune(int(step), _step(self.begin_step), _step(self.end_step),
                               _step(self.frequency))
        return should, float(np.float32(self.target_sparsity))

    def last_pruning_step(self, after: int, upto: int) -> int | None:
        return _last_pruning_step(self, after, upto)

    def get_config(self) -> dict:
        return {
            "class_name": type(self).__name__,
            "config": {
                "target_sparsity": _number(self.target_sparsity),
                "begin_step": _number(self.begin_step),
                "end_step": _number(self.end_step),
                "frequency": _number(self.frequency),
            },
        }


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class PolynomialDecay(PruningSchedule):
    """`s = s_f + (s_i - s_f) * (1 - (step - begin) / (end - begin)) ** power`, in float32.

    Args:
        initial_sparsity: the sparsity at `begin_step`, in [0, 1).
        final_sparsity: the sparsity from `end_step` on, in [0, 1).
        begin_step: the first step that prunes.
        end_step: the last step that may prune (no -1 here).
        power: the exponent of the decay (default 3).
        frequency: steps between mask updates (default 100).

    Example:

    >>> schedule = PolynomialDecay(0.5, 0.8, begin_step=0, end_step=1000)
    >>> schedule.decision(1)[0], schedule.decision(100)[0], round(schedule.decision(500)[1], 4)
    (False, True, 0.7625)
    """

    def __init__(self, initial_sparsity: float, final_sparsity: float, begin_step: int,
                 end_step: int, power: float = 3, frequency: int = 100):
        self._validate_step(begin_step, end_step, frequency, allow_negative_1=False)
        check_sparsity("initial_sparsity", initial_sparsity)
        check_sparsity("final_sparsity", final_sparsity)
        if not is_number(power) or not 0 < power < float("inf"):
            # power <= 0 never reaches final_sparsity (0) or leaves [initial, final] (< 0)
            raise ValueError(
                f"`power` must be a finite number > 0. Received: power={power!r}")
        self.initial_sparsity, self.final_sparsity = initial_sparsity, final_sparsity
        self.power = power
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency
        if final_sparsity < initial_sparsity:
            first = self.first_step()  # steps count from 1: step 0 never prunes
            warnings.warn(
                f"PolynomialDecay decreases from initial_sparsity={initial_sparsity} to "
                f"final_sparsity={final_sparsity}: kerasprune's masks only grow (a pruned "
                f"weight stays pruned), so the layers stay at "
                f"{self.decision(first)[1]:.4g}, the sparsity of the first update (step "
                f"{first}), once there.", stacklevel=user_stacklevel())

    def _span(self) -> int:
        return max(_step(self.end_step) - _step(self.begin_step), 1)

    def __call__(self, step):
        begin = _step(self.begin_step)
        progress = ops.divide(ops.cast(ops.subtract(step, begin), "float32"),
                              ops.convert_to_tensor(self._span(), dtype="float32"))
        progress = ops.minimum(1.0, ops.maximum(0.0, progress))
        sparsity = ops.add(
            ops.multiply(ops.convert_to_tensor(self.initial_sparsity - self.final_sparsity,
                                               dtype="float32"),
                         ops.power(1.0 - progress, ops.cast(self.power, "float32"))),
            ops.convert_to_tensor(self.final_sparsity, dtype="float32"),
        )
        should = self._should_prune_in_step(step, begin, _step(self.end_step),
                                            _step(self.frequency))
        return should, sparsity

    def decision(self, step: int) -> tuple[bool, float]:
        begin, f32 = _step(self.begin_step), np.float32
        progress = f32(int(step) - begin) / f32(self._span())
        progress = min(f32(1.0), max(f32(0.0), progress))
        sparsity = (f32(self.initial_sparsity - self.final_sparsity)
                    * np.power(f32(1.0) - progress, f32(self.power))) + f32(self.final_sparsity)
        should = _should_prune(int(step), begin, _step(self.end_step), _step(self.frequency))
        return should, float(sparsity)

    def last_pruning_step(self, after: int, upto: int) -> int | None:
        return _last_pruning_step(self, after, upto)

    def get_config(self) -> dict:
        return {
            "class_name": type(self).__name__,
            "config": {
                "initial_sparsity": _number(self.initial_sparsity),
                "final_sparsity": _number(self.final_sparsity),
                "power": _number(self.power),
                "begin_step": _number(self.begin_step),
                "end_step": _number(self.end_step),
                "frequency": _number(self.frequency),
            },
        }


def serialize(schedule: PruningSchedule) -> dict:
    """TFMOT's `{"class_name", "config"}` form of a schedule."""
    return schedule.get_config()


def deserialize(config: dict | PruningSchedule) -> PruningSchedule:
    """A schedule from TFMOT's `{"class_name", "config"}` form (or a schedule, returned).

    Example:

    >>> deserialize(ConstantSparsity(0.5, 0).get_config()).target_sparsity
    0.5
    """
    if isinstance(config, PruningSchedule):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            "`pruning_schedule` must be a PruningSchedule or its get_config() dict. "
            f"Received: pruning_schedule={config!r}"
        )
    name = config["class_name"]
    cls = {"ConstantSparsity": ConstantSparsity, "PolynomialDecay": PolynomialDecay}.get(name)
    if cls is None:
        cls = keras.saving.get_registered_object(name) or keras.saving.get_custom_objects().get(
            name)
    if cls is None:
        raise ValueError(
            f"Unknown pruning schedule {name!r}: register it with "
            "@keras.saving.register_keras_serializable() or load inside "
            "keras.saving.custom_object_scope({name: cls})."
        )
    return cls.from_config(dict(config["config"]))
