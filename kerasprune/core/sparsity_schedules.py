"""Sparsity schedules: the target sparsity as a pure function of the training step.

Like Keras learning-rate schedules, a schedule has no hidden state: `schedule(step)`
gives the target at `step`, and `schedule.updates_at(step)` says whether masks are
recomputed at that step. Both serialize with `get_config` / `from_config`.
"""

from __future__ import annotations

import keras

from kerasprune.core.validation import check_int, check_positive, check_sparsity


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
    check_int("begin_step", begin_step)
    check_int("end_step", end_step)
    check_int("frequency", frequency, minimum=1)
    if end_step < begin_step:
        raise ValueError(
            f"`end_step` must be >= `begin_step`. Received: begin_step={begin_step}, "
            f"end_step={end_step}"
        )
    if frequency > max(end_step - begin_step, 1) and end_step > begin_step:
        raise ValueError(
            f"`frequency`={frequency} is longer than the pruning span of "
            f"{end_step - begin_step} steps (begin_step={begin_step}, end_step={end_step}): "
            "masks would be updated only at the ends. Lower `frequency`."
        )


@keras.saving.register_keras_serializable(package="kerasprune")
class ConstantSparsity(SparsitySchedule):
    """One target for the whole span: one-shot pruning at `begin_step`, held after.

    Args:
        target_sparsity: the target from `begin_step` on, in [0, 1).
        begin_step: the step of the one-shot prune.
        end_step: the last step at which the masks are recomputed (every `frequency`
            steps from `begin_step`); default `begin_step`: pruned once, then held.
        frequency: steps between mask updates.

    Example:

    >>> schedule = ConstantSparsity(0.8, begin_step=10, end_step=50, frequency=10)
    >>> schedule(0), schedule(30), schedule.updates_at(20)
    (0.0, 0.8, True)
    """

    def __init__(self, target_sparsity: float, begin_step: int = 0, end_step: int | None = None,
                 frequency: int = 1):
        check_sparsity("target_sparsity", target_sparsity)
        end_step = begin_step if end_step is None else end_step
        _check_steps(begin_step, end_step, frequency)
        self.target_sparsity = float(target_sparsity)
        self.begin_step, self.end_step, self.frequency = int(begin_step), int(end_step), int(frequency)

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
        check_sparsity("initial_sparsity", initial_sparsity)
        check_sparsity("final_sparsity", final_sparsity)
        if initial_sparsity > final_sparsity:
            raise ValueError(
                "`initial_sparsity` must be <= `final_sparsity`. Received: "
                f"initial_sparsity={initial_sparsity}, final_sparsity={final_sparsity}"
            )
        check_positive("power", power)
        _check_steps(begin_step, end_step, frequency)
        self.initial_sparsity = float(initial_sparsity)
        self.final_sparsity = float(final_sparsity)
        self.begin_step, self.end_step = int(begin_step), int(end_step)
        self.power, self.frequency = float(power), int(frequency)

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


def cycle_sparsities(target_sparsity: float, cycles: int) -> list[float]:
    """Overall sparsity after each IMP cycle: `1 - (1 - target)^(c / cycles)`.

    Each cycle removes the same fraction `1 - (1 - target)^(1 / cycles)` of the weights
    still alive.

    Example:

    >>> [round(s, 4) for s in cycle_sparsities(0.9, 3)]
    [0.5358, 0.7846, 0.9]
    """
    check_sparsity("target_sparsity", target_sparsity)
    check_int("cycles", cycles, minimum=1)
    return [1.0 - (1.0 - target_sparsity) ** (c / cycles) for c in range(1, cycles + 1)]


@keras.saving.register_keras_serializable(package="kerasprune")
class CycleSparsity(SparsitySchedule):
    """IMP's schedule: prune at the start of each of `cycles` cycles, geometrically.

    Cycle `c` (0-based) starts at `begin_step + c * steps_per_cycle` and raises the target
    to `cycle_sparsities(target_sparsity, cycles)[c]`; the value is held until the next
    cycle. After the last cycle the target stays at `target_sparsity`.

    Args:
        target_sparsity: the sparsity after the last cycle, in [0, 1).
        cycles: number of prune-retrain cycles (>= 1); 1 is one-shot pruning.
        begin_step: the step of the first pruning.
        steps_per_cycle: steps between two prunings (>= 1).

    Example:

    >>> schedule = CycleSparsity(0.9, cycles=3, begin_step=10, steps_per_cycle=5)
    >>> [round(schedule(s), 4) for s in (9, 10, 14, 15, 20, 99)]
    [0.0, 0.5358, 0.5358, 0.7846, 0.9, 0.9]
    >>> [s for s in range(30) if schedule.updates_at(s)]
    [10, 15, 20]
    """

    def __init__(self, target_sparsity: float, cycles: int, begin_step: int = 0,
                 steps_per_cycle: int = 1):
        self.target_sparsity = check_sparsity("target_sparsity", target_sparsity)
        self.cycles = check_int("cycles", cycles, minimum=1)
        self.begin_step = check_int("begin_step", begin_step)
        self.steps_per_cycle = check_int("steps_per_cycle", steps_per_cycle, minimum=1)
        self.frequency = self.steps_per_cycle
        self.end_step = self.begin_step + (self.cycles - 1) * self.steps_per_cycle

    def cycle_at(self, step: int) -> int:
        """The cycle (1..cycles) that `step` belongs to; 0 before the first pruning."""
        if step < self.begin_step:
            return 0
        return min(self.cycles, 1 + (step - self.begin_step) // self.steps_per_cycle)

    def __call__(self, step):
        cycle = self.cycle_at(step)
        if cycle == 0:
            return 0.0
        return cycle_sparsities(self.target_sparsity, self.cycles)[cycle - 1]

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity,
            "cycles": self.cycles,
            "begin_step": self.begin_step,
            "steps_per_cycle": self.steps_per_cycle,
        }
