"""Retraining schedules checked point by point against their formulas (seed 003)."""

import math

import keras
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from kerasprune.retrain.retrain_schedule import evaluate_schedule
from kerasprune.retrain.schedules import ALLR, CLR, FT, LLR, LRW, RETRAIN_SCHEDULES, SLR, allr_d1
from tests.mutation_scope import examples

T = 1000  # original training steps
LINEAR = keras.optimizers.schedules.PolynomialDecay(0.1, decay_steps=T, end_learning_rate=0.0)
STEPPED = keras.optimizers.schedules.PiecewiseConstantDecay([500], [0.1, 0.01])


def eta(step):
    """The original linear schedule, by hand."""
    return 0.1 * (1 - min(step, T) / T)


def ramp(t, warmup_steps):
    """The authors' warm-up: PyTorch CosineAnnealingLR from 0 to the peak, by hand."""
    return (1 - math.cos(math.pi * t / warmup_steps)) / 2


def lr(schedule, step):
    return float(schedule(step))


def approx(value):
    """Schedules compute in float32."""
    return pytest.approx(value, rel=1e-4, abs=1e-9)


def test_ft_is_the_last_original_rate_without_warmup():
    ft = FT(LINEAR, retrain_steps=100, original_steps=T)
    for step in (0, 1, 50, 99, 100):
        assert lr(ft, step) == approx(eta(T - 1))
    assert lr(FT(STEPPED, 100, T), 0) == approx(0.01)


def test_lrw_replays_the_last_steps_of_the_original():
    lrw = LRW(LINEAR, retrain_steps=200, original_steps=T)
    for t in (0, 1, 100, 199):
        assert lr(lrw, t) == approx(eta(T - 200 + t))
    stepped = LRW(STEPPED, retrain_steps=600, original_steps=T)
    assert lr(stepped, 100) == approx(0.1)  # original step 500
    assert lr(stepped, 101) == approx(0.01)  # original step 501


def test_slr_compresses_the_original_after_a_half_cosine_warmup():
    slr = SLR(LINEAR, retrain_steps=200, original_steps=T)  # 20 warm-up steps
    assert slr.warmup_steps == 20
    assert lr(slr, 0) == 0.0
    assert lr(slr, 10) == approx(0.5 * eta(0))
    assert lr(slr, 19) == approx(ramp(19, 20) * eta(0))
    assert lr(slr, 20) == approx(eta(0))
    t = 20 + 90  # half of the 180 post-warm-up steps = original step 500
    assert lr(slr, t) == approx(eta(math.floor(90 * T / 180)))
    assert lr(slr, 199) == approx(eta(math.floor(179 * T / 180)))


def test_clr_is_one_cosine_from_the_max_to_the_last_rate():
    clr = CLR(STEPPED, retrain_steps=110, original_steps=T)  # max 0.1, last 0.01
    assert (clr.max_lr, clr.last_lr) == approx((0.1, 0.01))
    assert lr(clr, 0) == 0.0
    assert lr(clr, 5) == approx(0.1 * ramp(5, 11))
    assert lr(clr, 11) == approx(0.1)
    assert lr(clr, 11 + 33) == approx(0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi / 3)))
    assert lr(clr, 110) == approx(0.01)


def test_llr_decays_linearly_from_the_max_to_zero():
    llr = LLR(LINEAR, retrain_steps=111, original_steps=T)  # 11 warm-up + 100 decay
    assert lr(llr, 0) == 0.0
    assert lr(llr, 1) == approx(0.1 * ramp(1, 11))
    assert lr(llr, 10) == approx(0.1 * ramp(10, 11))
    assert lr(llr, 11) == approx(0.1)
    assert lr(llr, 36) == approx(0.1 * 0.75)
    assert lr(llr, 110) == approx(0.001)
    assert lr(llr, 111) == approx(0.0)
    assert lr(llr, 5000) == approx(0.0)  # after the phase: stays at its end


def test_allr_starts_at_d_times_max():
    allr = ALLR(LINEAR, retrain_steps=111, original_steps=T, d1=0.4)
    assert allr.d == approx(0.4)
    assert lr(allr, 11) == approx(0.04)
    assert lr(allr, 5) == approx(0.04 * ramp(5, 11))
    assert lr(allr, 61) == approx(0.02)


@pytest.mark.parametrize("d1, d", [(0.01, 111 / T), (0.5, 0.5), (1.7, 1.0)])
def test_allr_d_is_max_of_d1_and_budget_clipped_to_one(d1, d):
    assert ALLR(LINEAR, 111, T, d1=d1).d == approx(d)


def test_allr_d1_on_hand_made_weights():
    kernel_before, bias = np.array([[3.0, 0.0], [0.0, 4.0]]), np.array([0.0, 0.0])
    kernel_after = np.array([[0.0, 0.0], [0.0, 4.0]])
    # ||diff|| = 3, ||w|| = 5; half of the alive weights pruned -> s = 0.5
    d1 = allr_d1([kernel_before, bias], [kernel_after, bias], pruned_fraction=0.5)
    assert d1 == approx(3 / (5 * math.sqrt(0.5)))
    before = [np.array([1.0, 1.0, 2.0, 2.0])]
    schedule = ALLR.from_pruning(0.1, 10, 100, before, [np.array([0.0, 1, 2, 2])], 0.25)
    assert schedule.d == approx(1 / (math.sqrt(10) * 0.5))
    with pytest.raises(ValueError, match="pruned_fraction"):
        allr_d1(before, before, 0.0)


def test_warmup_is_a_half_cosine_from_zero_to_the_peak_at_every_step():
    # The authors' CosineAnnealingLR(T_max=W, eta_min=peak) started at 0:
    # eta_t = peak + (0 - peak) * (1 + cos(pi t / W)) / 2.
    llr = LLR(0.2, retrain_steps=200)  # W = 20
    for t in range(21):
        expected = 0.2 + (0.0 - 0.2) * (1 + math.cos(math.pi * t / 20)) / 2
        assert lr(llr, t) == approx(expected)
    assert lr(llr, 5) < 0.2 * 5 / 20  # below a linear ramp early on
    assert lr(llr, 15) > 0.2 * 15 / 20  # above it late


def test_slr_replaces_the_original_warmup_by_the_maximum():
    # Original: 100 steps of linear warm-up 0 -> 0.1, then a cosine decay to 0.
    warm = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=T - 100, warmup_target=0.1, warmup_steps=100)
    slr = SLR(warm, retrain_steps=110, original_steps=T)  # 11 warm-up, 99 compressed
    assert slr.original_peak_step == 100
    assert lr(slr, 11) == approx(0.1)  # original step 0, a warm-up step: the maximum
    assert lr(slr, 11 + 9) == approx(0.1)  # original step 90: still replaced
    t = 11 + 50  # original step floor(50 * 1000 / 99) = 505
    assert lr(slr, t) == approx(float(warm(505)))
    assert lr(slr, t) < 0.1
    # Without a warm-up in the original nothing is replaced.
    assert SLR(LINEAR, 110, T).original_peak_step == 0


def test_the_maximum_is_read_from_every_original_step():
    # A one-step peak at step 12,345 of 50,000, which 10,000 evenly spaced samples miss.
    spike = keras.optimizers.schedules.PiecewiseConstantDecay([12344, 12345], [0.01, 0.5, 0.01])
    assert LLR(spike, retrain_steps=100, original_steps=50_000).max_lr == approx(0.5)


class OneStepAtATime(keras.optimizers.schedules.LearningRateSchedule):
    """A user schedule written for scalar steps only (Python control flow)."""

    def __call__(self, step):
        return 0.1 if float(step) < 30_000 else 0.01

    def get_config(self):
        return {}


def test_a_scalar_only_original_is_sampled_with_a_warning_naming_max_lr():
    with pytest.warns(UserWarning, match="10,000 of its 50,000 steps.*max_lr"):
        llr = LLR(OneStepAtATime(), retrain_steps=100, original_steps=50_000)
    assert llr.max_lr == approx(0.1)
    assert lr(LLR(OneStepAtATime(), 100, 5_000), 10) == approx(0.1)  # all steps: no warning


def test_start_step_shifts_the_phase():
    llr = LLR(0.1, retrain_steps=111, start_step=300)
    assert lr(llr, 300 + 36) == approx(lr(LLR(0.1, 111), 36))
    assert lr(llr, 0) == 0.0  # before its phase: its first value


def test_constant_original_needs_no_original_length():
    assert lr(FT(0.05, 10), 3) == approx(0.05)
    assert lr(LRW(0.05, 10), 3) == approx(0.05)
    assert lr(LLR(0.05, 10), 1) == approx(0.05)


@pytest.mark.parametrize("name", sorted(RETRAIN_SCHEDULES))
def test_schedule_needing_the_original_length_refuses_without_it(name):
    with pytest.raises(ValueError, match="original_steps"):
        RETRAIN_SCHEDULES[name](LINEAR, retrain_steps=10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(original=-0.1, retrain_steps=10), "original=-0.1"),
        (dict(original="fast", retrain_steps=10), "original='fast'"),
        (dict(original=lambda s: 0.1, retrain_steps=10), "LearningRateSchedule"),
        (dict(original=0.1, retrain_steps=0), "retrain_steps=0"),
        (dict(original=0.1, retrain_steps=10, warmup=1.0), "warmup=1.0"),
        (dict(original=0.1, retrain_steps=10, start_step=-1), "start_step=-1"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LLR(**kwargs)


def test_lrw_longer_than_the_original_is_refused():
    with pytest.raises(ValueError, match="retrain_steps=200, original_steps=100"):
        LRW(LINEAR, retrain_steps=200, original_steps=100)


@pytest.mark.parametrize("name", sorted(RETRAIN_SCHEDULES))
def test_serialization_round_trip(name):
    schedule = RETRAIN_SCHEDULES[name](STEPPED, 120, T, start_step=7)
    if name == "allr":
        schedule = ALLR(STEPPED, 120, T, start_step=7, d1=0.3)
    config = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    steps = [0, 7, 10, 19, 20, 60, 126, 127, 500]
    np.testing.assert_allclose(evaluate_schedule(restored, steps), evaluate_schedule(schedule, steps))


def test_schedule_drives_a_real_optimizer_in_compiled_training():
    llr = LLR(0.1, retrain_steps=20)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=llr), loss="mse")
    x, y = np.random.rand(64, 4).astype("float32"), np.random.rand(64, 1).astype("float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 8 steps
    assert int(model.optimizer.iterations) == 8
    assert float(model.optimizer.learning_rate) == approx(0.1 * (1 - 6 / 18))
    config = model.optimizer.get_config()
    assert config["learning_rate"]["config"]["retrain_steps"] == 20
    restored = keras.optimizers.SGD.from_config(config)
    assert float(restored.learning_rate) == 0.0  # a fresh optimizer: step 0 of the warm-up


@settings(max_examples=examples(25), deadline=None)
@given(
    retrain=st.integers(1, 400),
    d1=st.floats(0.0, 3.0),
    steps=st.lists(st.integers(0, 500), min_size=2, max_size=6),
)
def test_allr_stays_within_zero_and_max_and_decays_after_warmup(retrain, d1, steps):
    allr = ALLR(LINEAR, retrain, T, d1=d1)
    values = evaluate_schedule(allr, sorted(steps))
    assert np.all(values >= 0) and np.all(values <= allr.max_lr * allr.d + 1e-7)
    decaying = evaluate_schedule(allr, sorted(s for s in steps if s >= allr.warmup_steps))
    assert np.all(np.diff(decaying) <= 1e-7)


def test_allr_d1_edges_and_messages():
    import re

    before, after = [np.array([0.6, 0.8])], [np.array([0.0, 0.8])]  # ||w|| = 1 exactly
    assert allr_d1(before, after, 0.5) == approx(0.6 / math.sqrt(0.5))
    assert allr_d1(before, after, 1.0) == approx(0.6)  # everything alive was pruned
    assert allr_d1([np.zeros(3)], [np.zeros(3)], 0.5) == 0.0
    message = "`pruned_fraction` must be a float in (0, 1]. Received: pruned_fraction=1.5"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        allr_d1(before, after, 1.5)
    message = ("`weights_before` and `weights_after` must hold the same tensors. "
               "Received shapes [(2,)] and [(2,), (2,)]")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        allr_d1(before, after * 2, 0.5)


def test_allr_from_pruning_passes_its_options_on():
    before, after = [np.array([1.0, 1, 2, 2])], [np.array([0.0, 1, 2, 2])]
    schedule = ALLR.from_pruning(0.1, 10, 100, before, after, 0.25, warmup=0.5, start_step=3)
    assert (schedule.warmup_steps, schedule.start_step) == (5, 3)


def test_lrw_as_long_as_the_original_replays_all_of_it_and_longer_is_refused_in_full():
    import re

    lrw = LRW(LINEAR, retrain_steps=T, original_steps=T)
    assert lr(lrw, 0) == approx(eta(0)) and lr(lrw, 500) == approx(eta(500))
    message = ("LRW replays the last `retrain_steps` steps of the original schedule, so "
               "`retrain_steps` must be <= `original_steps`. Received: retrain_steps=1001, "
               f"original_steps={T}")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LRW(LINEAR, retrain_steps=T + 1, original_steps=T)


def test_slr_of_one_step_ends_where_the_original_ends():
    slr = SLR(LINEAR, retrain_steps=1, original_steps=T, warmup=0.0)
    assert lr(slr, 0) == approx(eta(0))
    assert lr(slr, 1) == approx(eta(T))


def test_a_constant_original_is_one_rate_at_step_zero_and_configs_serialize_a_schedule():
    steps, rates = FT(0.1, retrain_steps=5).original_rates()
    assert steps.tolist() == [0.0] and rates.tolist() == [0.1]
    config = SLR(LINEAR, retrain_steps=10, original_steps=T).get_config()
    assert config["original"]["class_name"] == "PolynomialDecay"
    assert FT(0.1, retrain_steps=5).get_config()["original"] == 0.1


def test_a_one_step_decay_and_a_one_step_warmup():
    llr = LLR(0.1, retrain_steps=1, warmup=0.0)
    assert [lr(llr, s) for s in (0, 1)] == [approx(0.1), approx(0.0)]
    # 10 steps, 10% warm-up: step 0 is the warm-up's zero, step 1 the maximum.
    llr = LLR(0.1, retrain_steps=10)
    assert [lr(llr, s) for s in (0, 1)] == [0.0, approx(0.1)]


def test_slr_runs_the_original_from_its_peak_step_on_under_a_given_max_lr():
    rising = keras.optimizers.schedules.PiecewiseConstantDecay([0], [0.05, 0.1])
    slr = SLR(rising, retrain_steps=4, original_steps=4, warmup=0.0, max_lr=0.2)
    assert slr.original_peak_step == 1
    assert [lr(slr, s) for s in range(4)] == [approx(0.2), approx(0.1), approx(0.1), approx(0.1)]


def test_the_short_names_are_the_full_classes_and_old_files_still_load():
    from kerasprune import retrain
    from kerasprune.retrain import schedules

    assert retrain.FT is retrain.FineTuning and retrain.ALLR is schedules.ALLR
    assert retrain.AdaptiveLinearLearningRateRestarting is ALLR
    llr = LLR(0.1, retrain_steps=10)
    assert keras.saving.serialize_keras_object(llr)["registered_name"] == (
        "kerasprune>LinearLearningRateRestarting")
    old = keras.saving.serialize_keras_object(llr)
    old["registered_name"] = "kerasprune>LLR"  # as kerasprune 0.2 wrote it
    restored = keras.saving.deserialize_keras_object(old)
    assert type(restored) is LLR and float(restored(5)) == float(llr(5))


def test_allr_takes_d1_from_zero_to_any_finite_value_and_defaults_to_one():
    import re

    assert ALLR(0.1, retrain_steps=10, original_steps=T).d1 == 1.0
    assert ALLR(0.1, retrain_steps=10, original_steps=T, d1=0).d1 == 0.0
    for bad in (-1.0, math.inf, "0.5"):
        message = f"ALLR: `d1` must be a finite float >= 0. Received: d1={bad!r}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            ALLR(0.1, retrain_steps=10, original_steps=T, d1=bad)


def test_the_original_rate_and_length_are_checked_with_messages_naming_the_schedule():
    import re

    assert FT(0.1, retrain_steps=1, original_steps=1).original_steps == 1
    for kwargs, message in [
        (dict(original=0.0), "FineTuning: `original` must be a finite float > 0 or a keras "
                             "LearningRateSchedule. Received: original=0.0"),
        (dict(original=0.1, original_steps=1.5), "FineTuning: `original_steps` must be an "
                                                 "integer >= 1. Received: original_steps=1.5"),
        (dict(original=0.1, original_steps=0), "FineTuning: `original_steps` must be an "
                                               "integer >= 1. Received: original_steps=0"),
    ]:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            FT(retrain_steps=5, **kwargs)


def test_a_scalar_only_original_is_read_at_every_step_when_they_are_few():
    import re
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every step is read: nothing to warn about
        steps, rates = LLR(OneStepAtATime(), retrain_steps=10, original_steps=5).original_rates()
    assert steps.tolist() == [0, 1, 2, 3, 4] and rates.tolist() == approx([0.1] * 5)
    message = ("LinearLearningRateRestarting: the original schedule takes one step at a time, "
               "so its maximum is read "
               "from 10,000 of its 50,000 steps and may be missed slightly. Pass `max_lr` to "
               "set it exactly.")
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        LLR(OneStepAtATime(), retrain_steps=100, original_steps=50_000)


def test_the_base_class_is_refused_naming_the_schedules_to_use():
    from kerasprune.retrain import RetrainSchedule

    with pytest.raises(TypeError, match=r"RetrainSchedule is the base class.*FT, LRW, SLR, CLR, LLR or ALLR"):
        RetrainSchedule(0.1, 100)
