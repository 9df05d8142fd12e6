"""The six retraining schedules of seed 003: FT, LRW, SLR, CLR, LLR and ALLR.

See `kerasprune.retrain.retrain_schedule` for what they share (the original schedule,
the retraining length, warm-up, `start_step`).
"""

import math
from typing import Optional, Sequence

import numpy as np
import keras
from keras import ops

from kerasprune.core.validation import is_number
from kerasprune.retrain.retrain_schedule import LearningRate, RetrainSchedule


def _registered(short: str):
    """Register a schedule under its full class name, and under its short name for the
    `.keras` files written before the full names (kerasprune 0.2)."""
    def register(cls):
        keras.saving.register_keras_serializable("kerasprune", short)(cls)
        return keras.saving.register_keras_serializable("kerasprune")(cls)
    return register


@_registered("FT")
class FineTuning(RetrainSchedule):
    """Fine-tuning (Han et al., 2015): the last original rate, held constant.

    Example:

    >>> lin = keras.optimizers.schedules.PolynomialDecay(0.1, 1000, 0.001)
    >>> ft = FT(lin, retrain_steps=100, original_steps=1000)
    >>> round(float(ft(50)), 5)  # the original rate at step 999
    0.0011
    """

    default_warmup = 0.0

    def _decay(self, t):
        return ops.zeros_like(t) + self.last_lr


@_registered("LRW")
class LearningRateRewinding(RetrainSchedule):
    """Learning-rate rewinding (Renda et al., 2020): replay the original
    schedule's last `retrain_steps` steps (from step `T - retrain_steps`).

    With `retrain_steps = T - k * steps_per_epoch` this is the schedule of
    weight rewinding to epoch `k` as well.

    Example:

    >>> lin = keras.optimizers.schedules.PolynomialDecay(0.1, 1000, 0.0)
    >>> lrw = LRW(lin, retrain_steps=100, original_steps=1000)
    >>> round(float(lrw(0)), 4)  # the original rate at step 900
    0.01
    """

    default_warmup = 0.0

    def _validate(self, original, retrain_steps, original_steps, warmup, start_step):
        super()._validate(original, retrain_steps, original_steps, warmup, start_step)
        if original_steps is not None and retrain_steps > original_steps:
            raise ValueError(
                "LRW replays the last `retrain_steps` steps of the original schedule, so "
                "`retrain_steps` must be <= `original_steps`. Received: "
                f"retrain_steps={retrain_steps}, original_steps={original_steps}"
            )

    def _decay(self, t):
        rewound = (self.original_steps or self.retrain_steps) - self.retrain_steps
        return self._original_at(t + rewound)


@_registered("SLR")
class ScaledLearningRateRestarting(RetrainSchedule):
    """Scaled learning-rate restarting (Le & Hua, 2021): the whole original
    schedule compressed into the retraining phase, after a 10% warm-up.

    The original's own warm-up (its steps before it first reaches its maximum) is
    replaced by the maximum first, as in the authors' code: the retraining phase
    has its own warm-up.

    Example:

    >>> lin = keras.optimizers.schedules.PolynomialDecay(0.1, 1000, 0.0)
    >>> slr = SLR(lin, retrain_steps=111, original_steps=1000)
    >>> round(float(slr(11 + 50)), 4)  # half-way after warm-up: step 500
    0.05
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        steps, rates = self.original_rates()
        #: First original step at the maximum; the steps before it count as warm-up.
        self.original_peak_step = int(steps[int(np.argmax(rates))])

    def _decay(self, t):
        span = max(self.retrain_steps - self.warmup_steps, 1)
        original_step = ops.floor((t - self.warmup_steps) * (self.original_steps or 1) / span)
        return ops.where(original_step < self.original_peak_step, self.max_lr,
                         self._original_at(original_step))


@_registered("CLR")
class CyclicLearningRateRestarting(RetrainSchedule):
    """Cyclic learning-rate restarting (Le & Hua, 2021): one cosine decay from
    the original maximum to the original's last rate, after a 10% warm-up.

    Example:

    >>> clr = CLR(0.1, retrain_steps=100)  # constant original: max = last = 0.1
    >>> round(float(clr(50)), 4)
    0.1
    """

    def _decay(self, t):
        cosine = 0.5 * (1.0 + ops.cos(math.pi * self._progress(t)))
        return self.last_lr + (self.max_lr - self.last_lr) * cosine


@_registered("LLR")
class LinearLearningRateRestarting(RetrainSchedule):
    """Linear learning-rate restarting (seed 003): linear decay from the
    original maximum to zero, after a 10% warm-up.

    Example:

    >>> llr = LLR(0.1, retrain_steps=111)  # 11 warm-up steps, then 100 of decay
    >>> [round(float(llr(s)), 4) for s in (0, 11, 61, 111)]
    [0.0, 0.1, 0.05, 0.0]
    """

    def _start_lr(self) -> float:
        return self.max_lr

    def _decay(self, t):
        return self._start_lr() * (1.0 - self._progress(t))


def allr_d1(
    weights_before: Sequence[np.ndarray],
    weights_after: Sequence[np.ndarray],
    pruned_fraction: float,
) -> float:
    """ALLR's pruning factor `d1 = ||w - w_pruned|| / (||w|| * sqrt(s))`.

    Args:
        weights_before: all weights right before pruning (kernels, biases, BN).
        weights_after: the same weights right after pruning.
        pruned_fraction: `s`, the fraction of the still-alive prunable weights
            removed by this pruning step, in (0, 1].

    Returns:
        d1 as a float (not clipped; `ALLR` clips `max(d1, d2)` to 1).

    Example:

    >>> allr_d1([np.array([3.0, 4.0])], [np.array([0.0, 4.0])], 0.5)  # 3/(5*sqrt(.5))
    0.848528137423857
    """
    if not (is_number(pruned_fraction) and 0.0 < pruned_fraction <= 1.0):
        raise ValueError(
            "`pruned_fraction` must be a float in (0, 1]. "
            f"Received: pruned_fraction={pruned_fraction!r}"
        )
    before = _weight_arrays("weights_before", weights_before)
    after = _weight_arrays("weights_after", weights_after)
    if [w.shape for w in before] != [w.shape for w in after]:
        raise ValueError(
            "`weights_before` and `weights_after` must hold the same tensors. Received shapes "
            f"{[w.shape for w in before]} and {[w.shape for w in after]}"
        )
    before = np.concatenate([np.ravel(w) for w in before])
    after = np.concatenate([np.ravel(w) for w in after])
    norm = np.linalg.norm(before)
    if norm == 0.0:
        return 0.0
    return float(np.linalg.norm(before - after) / (norm * math.sqrt(pruned_fraction)))


@_registered("ALLR")
class AdaptiveLinearLearningRateRestarting(LinearLearningRateRestarting):
    """Adaptive linear learning-rate restarting (seed 003): LLR started at
    `d * max_lr` with `d = min(1, max(d1, d2))`, `d2 = retrain_steps / T` and
    `d1` the pruning's relative weight change (see `allr_d1`).

    Args:
        d1: the pruning factor of `allr_d1`, measured on the real weights.
        (others as in `RetrainSchedule`; `original_steps` is required.)

    Example:

    >>> allr = ALLR(0.1, retrain_steps=100, original_steps=1000, d1=0.3)
    >>> allr.d, round(float(allr(10)), 4)  # d = max(0.3, 100/1000)
    (0.3, 0.03)
    """

    needs_original_steps = True

    def __init__(self, original: LearningRate, retrain_steps: int,
                 original_steps: Optional[int] = None, *, d1: float = 1.0, **kwargs):
        if not (is_number(d1) and d1 >= 0 and math.isfinite(d1)):
            raise ValueError(f"ALLR: `d1` must be a finite float >= 0. Received: d1={d1!r}")
        super().__init__(original, retrain_steps, original_steps, **kwargs)
        self.d1 = float(d1)
        self.d2 = self.retrain_steps / self.original_steps
        self.d = min(1.0, max(self.d1, self.d2))

    @classmethod
    def from_pruning(cls, original: LearningRate, retrain_steps: int, original_steps: int,
                     weights_before, weights_after, pruned_fraction: float, **kwargs) -> "ALLR":
        """Builds ALLR from the weights right before and after a pruning step.

        Example:

        >>> before, after = [np.array([1.0, 1, 2, 2])], [np.array([0.0, 1, 2, 2])]
        >>> round(ALLR.from_pruning(0.1, 10, 100, before, after, 0.25).d, 3)
        0.632
        """
        d1 = allr_d1(weights_before, weights_after, pruned_fraction)
        return cls(original, retrain_steps, original_steps, d1=d1, **kwargs)

    def _start_lr(self) -> float:
        return self.d * self.max_lr

    def get_config(self) -> dict:
        return {**super().get_config(), "d1": self.d1}


# The short names of the literature (seed 003's tables), the same classes.
FT, LRW, SLR = FineTuning, LearningRateRewinding, ScaledLearningRateRestarting
CLR, LLR = CyclicLearningRateRestarting, LinearLearningRateRestarting
ALLR = AdaptiveLinearLearningRateRestarting

RETRAIN_SCHEDULES = {"ft": FT, "lrw": LRW, "slr": SLR, "clr": CLR, "llr": LLR, "allr": ALLR}


def _weight_arrays(name: str, weights) -> list[np.ndarray]:
    """`weights` (a list of arrays or variables) as float64 arrays."""
    arrays = ([np.asarray(w) for w in weights]
              if isinstance(weights, (list, tuple)) and weights else [])
    if not arrays or any(a.dtype.kind not in "biuf" for a in arrays):
        raise TypeError(
            f"`{name}` must be a non-empty list of weight arrays (numbers). "
            f"Received: {name} of type {type(weights).__name__}"
        )
    return [a.astype("float64") for a in arrays]
