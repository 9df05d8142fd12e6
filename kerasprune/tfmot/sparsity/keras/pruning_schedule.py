"""TFMOT's pruning schedules: `schedule(step) -> (should_prune, sparsity)`.

Same arguments, defaults and arithmetic as `tfmot.sparsity.keras`: masks are updated at the
steps `begin_step + k * frequency` within `[begin_step, end_step]` (`end_step=-1`: no end),
and steps count from 1 at the first training batch (`UpdatePruningStep`). These differ from
kerasprune's native `ConstantSparsity`/`PolynomialDecay`, whose steps are fit's 0-based
clock and which always update at `end_step`.
"""

from __future__ import annotations

import keras

from kerasprune.core.validation import check_int, check_sparsity, is_number


class PruningSchedule:
    """Base class: `__call__(step)` returns `(should_prune, sparsity)`.

    Subclass it for a custom schedule, as in TFMOT: implement `__call__` and `get_config`.
    """

    def __call__(self, step: int) -> tuple[bool, float]:
        raise NotImplementedError("PruningSchedule implementation must override __call__")

    def get_config(self) -> dict:
        raise NotImplementedError("PruningSchedule implementation must override get_config")

    @classmethod
    def from_config(cls, config: dict) -> "PruningSchedule":
        return cls(**config)

    @staticmethod
    def _should_prune_in_step(step: int, begin_step: int, end_step: int, frequency: int) -> bool:
        in_range = step >= begin_step and (end_step < 0 or step <= end_step)
        return in_range and (step - begin_step) % frequency == 0

    @staticmethod
    def _validate_step(begin_step, end_step, frequency, allow_negative_1: bool) -> None:
        check_int("begin_step", begin_step)
        if not (allow_negative_1 and end_step == -1):
            check_int("end_step", end_step)
            if end_step < begin_step:
                raise ValueError(
                    "`end_step` must be >= `begin_step`"
                    f"{' or -1 (no end)' if allow_negative_1 else ''}. Received: "
                    f"begin_step={begin_step}, end_step={end_step}"
                )
        check_int("frequency", frequency, minimum=1)

    def first_step(self) -> int | None:
        """The first step >= 1 at which this schedule prunes, or None if unknown."""
        begin, frequency = getattr(self, "begin_step", None), getattr(self, "frequency", None)
        if begin is None or frequency is None:
            return None
        return begin if begin >= 1 else begin + frequency * (-(-(1 - begin) // frequency))


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class ConstantSparsity(PruningSchedule):
    """Prune to `target_sparsity` at `begin_step` and every `frequency` steps after.

    Example:

    >>> schedule = ConstantSparsity(0.5, begin_step=0)
    >>> schedule(100), schedule(150), schedule.end_step, schedule.first_step()
    ((True, 0.5), (False, 0.5), -1, 100)
    """

    def __init__(self, target_sparsity: float, begin_step: int, end_step: int = -1,
                 frequency: int = 100):
        self._validate_step(begin_step, end_step, frequency, allow_negative_1=True)
        self.target_sparsity = check_sparsity("target_sparsity", target_sparsity)
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def __call__(self, step):
        should = self._should_prune_in_step(step, self.begin_step, self.end_step, self.frequency)
        return should, self.target_sparsity

    def get_config(self) -> dict:
        return {
            "class_name": type(self).__name__,
            "config": {
                "target_sparsity": self.target_sparsity,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "frequency": self.frequency,
            },
        }


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class PolynomialDecay(PruningSchedule):
    """`s = s_f + (s_i - s_f) * (1 - (step - begin) / (end - begin)) ** power`.

    Example:

    >>> schedule = PolynomialDecay(0.5, 0.8, begin_step=0, end_step=1000)
    >>> schedule(1)[0], schedule(100)[0], round(schedule(500)[1], 4), schedule(1000)
    (False, True, 0.7625, (True, 0.8))
    """

    def __init__(self, initial_sparsity: float, final_sparsity: float, begin_step: int,
                 end_step: int, power: float = 3, frequency: int = 100):
        self._validate_step(begin_step, end_step, frequency, allow_negative_1=False)
        self.initial_sparsity = check_sparsity("initial_sparsity", initial_sparsity)
        self.final_sparsity = check_sparsity("final_sparsity", final_sparsity)
        if not is_number(power):
            raise ValueError(f"`power` must be a number. Received: power={power!r}")
        self.power = power
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def __call__(self, step):
        span = max(self.end_step - self.begin_step, 1)
        progress = min(1.0, max(0.0, (step - self.begin_step) / span))
        sparsity = self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (
            1.0 - progress
        ) ** self.power
        should = self._should_prune_in_step(step, self.begin_step, self.end_step, self.frequency)
        return should, sparsity

    def get_config(self) -> dict:
        return {
            "class_name": type(self).__name__,
            "config": {
                "initial_sparsity": self.initial_sparsity,
                "final_sparsity": self.final_sparsity,
                "power": self.power,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "frequency": self.frequency,
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
    return cls.from_config(config["config"])
