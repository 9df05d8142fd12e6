"""`RetrainSchedule`: the base of the retraining learning-rate schedules.

Seed 003 (Zimmer, Spiegel, Pokutta, ICLR 2023) shows that how well a pruned
network recovers in a short retraining budget is mostly a matter of the
learning-rate schedule used to retrain it. Every schedule here is derived from
the *original* training schedule (any Keras schedule, or a constant) and the
retraining length:

| name | learning rate during the `retrain_steps` steps of retraining | warm-up |
|------|------------------------------------------------------------|---------|
| FT   | constant, the last rate of the original training               | none |
| LRW  | the last `retrain_steps` steps of the original schedule, replayed | none |
| SLR  | the whole original schedule (its warm-up set to its maximum) compressed into the phase | 10% |
| CLR  | one cosine decay from the original maximum to its last rate     | 10% |
| LLR  | linear decay from the original maximum to zero                 | 10% |
| ALLR | LLR started at `d * max`, `d` from the pruning and the budget   | 10% |

Warm-up ramps from 0 to the value the schedule has when warm-up ends over its
first `W = int(warmup * retrain_steps)` steps along a half cosine,
`peak * (1 - cos(pi * t / W)) / 2`; the decay then runs over the remaining steps.
All schedules are pure functions of `step` (the optimizer's iteration count): a
phase starting later than step 0 is described by `start_step`, so any schedule can
be plotted and tested point by point.

As in the authors' code (github.com/ZIB-IOL/BIMP, `define_retrain_schedule`):
the warm-up is their PyTorch `CosineAnnealingLR` from 0 to the peak; SLR replaces
the original schedule's own warm-up (its steps before it first reaches its
maximum) by the maximum before compressing it; the maximum is read from every one
of the original's `original_steps` steps (Keras schedules evaluate all steps at
once; a user schedule that takes one step at a time is read at up to 10,000 evenly
spaced steps, with a warning when that is fewer than all; pass `max_lr` to set it).
One difference: FT holds, and CLR decays to, the original's *last* rate where the
authors take its minimum after warm-up; the two agree for every schedule that does
not rise again after its warm-up.

Steps are optimizer steps: convert epochs with `epochs * steps_per_epoch`.
"""

import inspect
import math
import warnings
from typing import Optional, Sequence, Union

import numpy as np
import keras
from keras import ops

from kerasprune.core.caller import user_stacklevel
from kerasprune.core.validation import check_positive, is_number, is_whole

LearningRate = Union[float, keras.optimizers.schedules.LearningRateSchedule]

_MAX_SCALAR_STEPS = 10_000
_CHUNK = 1 << 20  # steps evaluated in one call when scanning a long original schedule


def evaluate_schedule(schedule: LearningRate, steps: Sequence[int]) -> np.ndarray:
    """Evaluates a learning rate (a schedule or a constant) at many steps.

    Args:
        schedule: a `keras.optimizers.schedules.LearningRateSchedule` or a float.
        steps: the optimizer steps to evaluate at.

    Returns:
        A float64 numpy array of the learning rates, one per step.

    Example:

    >>> lin = keras.optimizers.schedules.PolynomialDecay(0.1, 10, 0.0)
    >>> evaluate_schedule(lin, [0, 5, 10]).round(3).tolist()
    [0.1, 0.05, 0.0]
    """
    steps = np.asarray(steps, dtype="float32")
    if not callable(schedule):
        return np.full(steps.shape, float(schedule))
    values = _evaluate_elementwise(schedule, steps)
    if values is not None:
        return values
    return np.array([float(ops.convert_to_numpy(schedule(s))) for s in steps])


def _evaluate_elementwise(schedule, steps: np.ndarray) -> Optional[np.ndarray]:
    """All `steps` at once, or None if `schedule` only takes one step at a time.

    Most Keras schedules are elementwise in `step`; those with a branch on it (e.g.
    `CosineDecay` with a warm-up) are mapped over the steps with `ops.vectorized_map`.
    """
    tensor = ops.convert_to_tensor(steps)
    for evaluate in (schedule, lambda s: ops.vectorized_map(schedule, s)):
        try:
            values = np.asarray(ops.convert_to_numpy(evaluate(tensor)))
        except Exception:  # a user schedule written for scalar steps
            continue
        if values.shape == steps.shape:
            return values.astype("float64")
    return None


class RetrainSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Base class of the retraining schedules (not used directly).

    Args:
        original: the learning rate of the original training: a float or any
            `keras.optimizers.schedules.LearningRateSchedule`.
        retrain_steps: length of the retraining phase, in optimizer steps.
        original_steps: length `T` of the original training, in optimizer steps.
            Required when `original` is a schedule (and always for ALLR).
        warmup: fraction of `retrain_steps` spent warming up from 0 (half cosine).
            Defaults to the class's value (0.1, or 0 for FT and LRW).
        start_step: optimizer step at which the retraining phase starts; before
            it the schedule returns its first value, after the phase its last.
        max_lr: largest rate of the original schedule. Computed from
            `original` when omitted (from all its steps).

    Subclasses implement `_decay(t)`: the rate at local step `t`
    (`warmup_steps <= t <= retrain_steps`, float tensor).
    """

    default_warmup = 0.1
    needs_original_steps = False

    def __init__(
        self,
        original: LearningRate,
        retrain_steps: int,
        original_steps: Optional[int] = None,
        *,
        warmup: Optional[float] = None,
        start_step: int = 0,
        max_lr: Optional[float] = None,
    ):
        if type(self)._decay is RetrainSchedule._decay:
            raise TypeError(
                f"{type(self).__name__} computes no learning rate: RetrainSchedule is the "
                "base class of the retraining schedules. Use one of kerasprune.retrain's "
                "FT, LRW, SLR, CLR, LLR or ALLR (or implement `_decay(t)` in a subclass).")
        warmup = self.default_warmup if warmup is None else warmup
        self._validate(original, retrain_steps, original_steps, warmup, start_step)
        max_lr = check_positive("max_lr", max_lr, optional=True)
        if max_lr is not None and not callable(original) and max_lr < original:
            # A constant original's largest rate is itself: a lower max_lr contradicts it.
            raise ValueError(
                f"{type(self).__name__}: `max_lr` is the largest rate of the original "
                f"schedule, which is the constant original={original}: max_lr must be >= it "
                f"(or None). Received: max_lr={max_lr}")
        self.original = original
        self.retrain_steps = int(retrain_steps)
        self.original_steps = None if original_steps is None else int(original_steps)
        self.warmup = float(warmup)
        self.start_step = int(start_step)
        self.warmup_steps = int(self.warmup * self.retrain_steps)
        self.max_lr = max_lr if max_lr is not None else self._original_max()
        self.last_lr = self._original_last()

    def _validate(self, original, retrain_steps, original_steps, warmup, start_step):
        name = type(self).__name__
        if callable(original):
            if not isinstance(original, keras.optimizers.schedules.LearningRateSchedule):
                raise TypeError(
                    f"{name}: `original` must be a float or a keras LearningRateSchedule. "
                    f"Received: original={original!r}"
                )
        elif not (is_number(original) and math.isfinite(original) and original > 0):
            raise ValueError(
                f"{name}: `original` must be a finite float > 0 or a keras "
                f"LearningRateSchedule. Received: original={original!r}"
            )
        if not is_whole(retrain_steps) or retrain_steps < 1:
            raise ValueError(
                f"{name}: `retrain_steps` must be an integer >= 1. "
                f"Received: retrain_steps={retrain_steps!r}"
            )
        needs_t = callable(original) or self.needs_original_steps
        if original_steps is None and needs_t:
            raise ValueError(
                f"{name} needs the original training length: pass `original_steps` "
                f"(steps of the original training). Received: original_steps=None"
            )
        if original_steps is not None and (not is_whole(original_steps) or original_steps < 1):
            raise ValueError(
                f"{name}: `original_steps` must be an integer >= 1. "
                f"Received: original_steps={original_steps!r}"
            )
        if not (is_number(warmup) and 0.0 <= warmup < 1.0):
            raise ValueError(
                f"{name}: `warmup` must be a fraction in [0, 1). Received: warmup={warmup!r}"
            )
        if not is_whole(start_step) or start_step < 0:
            raise ValueError(
                f"{name}: `start_step` must be an integer >= 0. "
                f"Received: start_step={start_step!r}"
            )

    def original_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """`(steps, rates)` of the original schedule: every step of it, or for a schedule
        that takes one step at a time up to 10,000 evenly spaced ones (with a warning)."""
        n = self.original_steps or 1
        if not callable(self.original):
            return np.zeros(1), np.full(1, float(self.original))
        probe = np.array([0.0, n - 1.0], dtype="float32")
        if _evaluate_elementwise(self.original, probe) is not None:
            steps = np.arange(n, dtype="float64")
            rates = np.concatenate([
                _evaluate_elementwise(self.original, steps[i:i + _CHUNK].astype("float32"))
                for i in range(0, n, _CHUNK)
            ])
            return steps, rates
        steps = np.unique(np.linspace(0, n - 1, min(n, _MAX_SCALAR_STEPS)).round())
        if len(steps) < n:
            warnings.warn(
                f"{type(self).__name__}: the original schedule takes one step at a time, so "
                f"its maximum is read from {len(steps):,} of its {n:,} steps and may be "
                "missed slightly. Pass `max_lr` to set it exactly.",
                stacklevel=user_stacklevel(),
            )
        return steps, evaluate_schedule(self.original, steps)

    def _original_max(self) -> float:
        return float(self.original_rates()[1].max())

    def _original_last(self) -> float:
        last = (self.original_steps or 1) - 1
        return float(evaluate_schedule(self.original, [last])[0])

    def _original_at(self, step):
        if callable(self.original):
            return ops.cast(self.original(step), "float32")
        return ops.zeros_like(step) + self.original

    def _progress(self, t):
        """Fraction of the post-warm-up phase done at local step t, in [0, 1]."""
        span = max(self.retrain_steps - self.warmup_steps, 1)
        return (t - self.warmup_steps) / span

    def _decay(self, t):
        raise NotImplementedError

    def __call__(self, step):
        step = ops.cast(ops.convert_to_tensor(step), "float32")
        t = ops.clip(step - self.start_step, 0.0, float(self.retrain_steps))
        decay = self._decay(ops.maximum(t, float(self.warmup_steps)))
        if self.warmup_steps == 0:
            return decay
        peak = self._decay(ops.zeros_like(t) + self.warmup_steps)
        ramp = 0.5 * (1.0 - ops.cos(math.pi * t / self.warmup_steps))
        return ops.where(t < self.warmup_steps, peak * ramp, decay)

    def get_config(self) -> dict:
        original = self.original
        if callable(original):
            original = keras.optimizers.schedules.serialize(original)
        return {
            "original": original,
            "retrain_steps": self.retrain_steps,
            "original_steps": self.original_steps,
            "warmup": self.warmup,
            "start_step": self.start_step,
            "max_lr": self.max_lr,
        }

    @classmethod
    def from_config(cls, config: dict) -> "RetrainSchedule":
        config = dict(config)
        known = _constructor_arguments(cls)
        unknown = sorted(set(config) - set(known), key=str)
        if unknown:
            raise ValueError(
                f"{cls.__name__}'s config takes {known}. Received unknown keys: {unknown}")
        if isinstance(config["original"], dict):
            config["original"] = keras.optimizers.schedules.deserialize(config["original"])
        return cls(**config)


def _constructor_arguments(cls) -> list[str]:
    """The named arguments of `cls` and of the bases its `**kwargs` reach (ALLR's `d1`,
    then RetrainSchedule's)."""
    names = []
    for klass in cls.__mro__:
        if not issubclass(klass, RetrainSchedule):
            break
        for name, parameter in inspect.signature(klass.__init__).parameters.items():
            named = parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            if named and name != "self" and name not in names:
                names.append(name)
    return names
