"""Sparsity schedules: the target sparsity as a pure function of the training step.

Like Keras learning-rate schedules, a schedule has no hidden state: `schedule(step)`
gives the target at `step`, and `schedule.updates_at(step)` says whether masks are
recomputed at that step. Both serialize with `get_config` / `from_config`.
"""

from __future__ import annotations

import keras


class SparsitySchedule:
    """Base class: subclasses define `__call__(step)`, `begin_step`, `end_step`, `frequency`.

    Masks are recomputed at `begin_step`, every `frequency` steps after it, and at
    `end_step`, so the final target is always reached on time.
    """

    begin_step: int
    end_step: int
    frequency: int

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def updates_at(self, step: int) -> bool:
        """True when masks should be recomputed at `step`."""
        if step < self.begin_step or step > self.end_step:
            return False
        return (step - self.begin_step) % self.frequency == 0 or step == self.end_step

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> "SparsitySchedule":
        return cls(**config)


def _check_steps(begin_step: int, end_step: int, frequency: int) -> None:
    for name, value in (("begin_step", begin_step), ("end_step", end_step)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"`{name}` must be an int >= 0. Received: {name}={value!r}")
    if end_step < begin_step:
        raise ValueError(
            f"`end_step` must be >= `begin_step`. Received: begin_step={begin_step}, "
            f"end_step={end_step}"
        )
    if not isinstance(frequency, int) or frequency < 1:
        raise ValueError(f"`frequency` must be an int >= 1. Received: frequency={frequency!r}")
    if frequency > max(end_step - begin_step, 1) and end_step > begin_step:
        raise ValueError(
            f"`frequency`={frequency} is longer than the pruning span of "
            f"{end_step - begin_step} steps (begin_step={begin_step}, end_step={end_step}): "
            "masks would be updated only at the ends. Lower `frequency`."
        )


def _check_sparsity(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="kerasprune")
class ConstantSparsity(SparsitySchedule):
    """One target for the whole span: one-shot pruning at `begin_step`, held after.

    Example:

    >>> schedule = ConstantSparsity(0.8, begin_step=10, end_step=50, frequency=10)
    >>> schedule(0), schedule(30), schedule.updates_at(20)
    (0.0, 0.8, True)
    """

    def __init__(self, target_sparsity: float, begin_step: int = 0, end_step: int = 0,
                 frequency: int = 1):
        _check_sparsity("target_sparsity", target_sparsity)
        _check_steps(begin_step, end_step, frequency)
        self.target_sparsity = float(target_sparsity)
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def __call__(self, step):
        return self.target_sparsity if step >= self.begin_step else 0.0

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }


@keras.saving.register_keras_serializable(package="kerasprune")
class PolynomialDecay(SparsitySchedule):
    """Zhu & Gupta's gradual schedule (cubic by default).

    `s(t) = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0)) ** power` for `t0 <= t <= t1`,
    0 before `t0`, `s_f` after `t1`. The value is held between updates, so within a
    `frequency` window the target is the one computed at the window's start.

    Args:
        initial_sparsity: `s_i`, the target at `begin_step`.
        final_sparsity: `s_f`, the target from `end_step` on.
        begin_step: `t0`.
        end_step: `t1`.
        power: exponent of the decay; 3 is the cubic schedule, 1 linear.
        frequency: steps between mask updates.

    Example:

    >>> schedule = PolynomialDecay(0.0, 0.9, begin_step=0, end_step=100, frequency=10)
    >>> round(schedule(50), 4), schedule(100)
    (0.7875, 0.9)
    """

    def __init__(self, initial_sparsity: float, final_sparsity: float, begin_step: int,
                 end_step: int, power: float = 3.0, frequency: int = 100):
        _check_sparsity("initial_sparsity", initial_sparsity)
        _check_sparsity("final_sparsity", final_sparsity)
        if initial_sparsity > final_sparsity:
            raise ValueError(
                "`initial_sparsity` must be <= `final_sparsity`. Received: "
                f"initial_sparsity={initial_sparsity}, final_sparsity={final_sparsity}"
            )
        if not isinstance(power, (int, float)) or power <= 0:
            raise ValueError(f"`power` must be a number > 0. Received: power={power!r}")
        _check_steps(begin_step, end_step, frequency)
        self.initial_sparsity = float(initial_sparsity)
        self.final_sparsity = float(final_sparsity)
        self.begin_step, self.end_step = begin_step, end_step
        self.power, self.frequency = float(power), frequency

    def __call__(self, step):
        if step < self.begin_step:
            return 0.0
        if step >= self.end_step:
            return self.final_sparsity
        held = step - (step - self.begin_step) % self.frequency
        progress = (held - self.begin_step) / (self.end_step - self.begin_step)
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (
            1.0 - progress
        ) ** self.power

    def get_config(self):
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "power": self.power,
            "frequency": self.frequency,
        }
