"""Sparsity schedules as pure functions of the step."""

import pytest

import kerasprune
from kerasprune.core.sparsity_schedules import CycleSparsity, cycle_sparsities


def test_polynomial_decay_matches_zhu_gupta_formula():
    s = kerasprune.PolynomialDecay(0.05, 0.9, begin_step=100, end_step=400, frequency=1)
    for step in (100, 175, 250, 399):
        expected = 0.9 + (0.05 - 0.9) * (1 - (step - 100) / 300) ** 3
        assert s(step) == pytest.approx(expected)
    assert s(99) == 0.0 and s(400) == 0.9 and s(10_000) == 0.9


def test_value_is_held_between_updates_and_updates_hit_the_end():
    s = kerasprune.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=95, frequency=10)
    assert s(15) == s(10) and s(20) > s(10)
    assert [t for t in range(0, 120) if s.updates_at(t)] == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]


def test_linear_power():
    s = kerasprune.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, power=1, frequency=1)
    assert s(50) == pytest.approx(0.4)


def test_constant_sparsity():
    s = kerasprune.ConstantSparsity(0.7, begin_step=20, end_step=20)
    assert (s(19), s(20), s(1000)) == (0.0, 0.7, 0.7)
    assert s.updates_at(20) and not s.updates_at(21)


@pytest.mark.parametrize("kwargs, message", [
    (dict(initial_sparsity=0.0, final_sparsity=1.0, begin_step=0, end_step=10), "final_sparsity"),
    (dict(initial_sparsity=0.5, final_sparsity=0.4, begin_step=0, end_step=10), "<= `final_sparsity`"),
    (dict(initial_sparsity=0.0, final_sparsity=0.5, begin_step=10, end_step=5), "`end_step` must be >="),
    (dict(initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=10, frequency=0), "`frequency`"),
    (dict(initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=10, frequency=100),
     "longer than the pruning span"),
    (dict(initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=10, power=0), "`power`"),
])
def test_bad_schedule_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kerasprune.PolynomialDecay(**kwargs)


def test_cycle_sparsities_remove_the_same_fraction_of_the_alive_weights_each_cycle():
    values = cycle_sparsities(0.875, 3)
    assert values == pytest.approx([0.5, 0.75, 0.875])
    assert cycle_sparsities(0.6, 1) == [pytest.approx(0.6)]


def test_cycle_schedule_prunes_at_each_cycle_start_and_holds_in_between():
    s = CycleSparsity(0.875, cycles=3, begin_step=4, steps_per_cycle=3)
    assert (s.begin_step, s.end_step, s.frequency) == (4, 10, 3)
    assert [s.cycle_at(t) for t in range(3, 14)] == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3]
    assert [s(t) for t in (3, 4, 6, 7, 9, 10, 1000)] == pytest.approx(
        [0.0, 0.5, 0.5, 0.75, 0.75, 0.875, 0.875])
    assert [t for t in range(20) if s.updates_at(t)] == [4, 7, 10]
    one_shot = CycleSparsity(0.5, cycles=1)
    assert (one_shot(0), one_shot.end_step, one_shot.steps_per_cycle) == (0.5, 0, 1)


def test_constant_sparsity_updates_every_step_by_default():
    s = kerasprune.ConstantSparsity(0.5, begin_step=2, end_step=5)
    assert [t for t in range(8) if s.updates_at(t)] == [2, 3, 4, 5]
    assert kerasprune.ConstantSparsity(0.5)(0) == 0.5
    # By default a one-shot prune at step 0.
    default = kerasprune.ConstantSparsity(0.5)
    assert (default.begin_step, default.end_step, default.frequency) == (0, 0, 1)


def test_constant_sparsity_from_a_later_step_prunes_once_then_holds_by_default():
    # No end_step given: one-shot at begin_step, the target held after (no refusal).
    s = kerasprune.ConstantSparsity(0.6, begin_step=4)
    assert [t for t in range(12) if s.updates_at(t)] == [4]
    assert [s(t) for t in (3, 4, 11)] == [0.0, 0.6, 0.6]
    assert s.get_config()["end_step"] == 4


@pytest.mark.parametrize("schedule", [
    kerasprune.ConstantSparsity(0.3, begin_step=2, end_step=8, frequency=3),
    kerasprune.PolynomialDecay(0.1, 0.7, begin_step=1, end_step=9, power=2.0, frequency=2),
    CycleSparsity(0.9, cycles=3, begin_step=5, steps_per_cycle=4),
])
def test_schedules_serialize_with_every_argument(schedule):
    import keras

    config = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    assert vars(restored) == vars(schedule)
    assert [restored(t) for t in range(20)] == [schedule(t) for t in range(20)]


@pytest.mark.parametrize("make, message", [
    (lambda: kerasprune.ConstantSparsity(1.0),
     "`target_sparsity` must be a float in [0, 1). Received: target_sparsity=1.0"),
    (lambda: kerasprune.ConstantSparsity(0.5, begin_step=-1),
     "`begin_step` must be an int >= 0. Received: begin_step=-1"),
    (lambda: kerasprune.ConstantSparsity(0.5, end_step=1.5),
     "`end_step` must be an int >= 0. Received: end_step=1.5"),
    (lambda: kerasprune.ConstantSparsity(0.5, frequency=0),
     "`frequency` must be an int >= 1. Received: frequency=0"),
    (lambda: kerasprune.ConstantSparsity(0.5, begin_step=3, end_step=2),
     "`end_step` must be >= `begin_step`. Received: begin_step=3, end_step=2"),
    (lambda: kerasprune.ConstantSparsity(0.5, begin_step=0, end_step=4, frequency=5),
     "`frequency`=5 is longer than the pruning span of 4 steps (begin_step=0, end_step=4): "
     "masks would be updated only at the ends. Lower `frequency`."),
    (lambda: kerasprune.PolynomialDecay(0.0, 0.5, begin_step=100, end_step=150, frequency=60),
     "`frequency`=60 is longer than the pruning span of 50 steps (begin_step=100, "
     "end_step=150): masks would be updated only at the ends. Lower `frequency`."),
    (lambda: kerasprune.ConstantSparsity(0.5, begin_step=0, end_step=1, frequency=2),
     "`frequency`=2 is longer than the pruning span of 1 steps (begin_step=0, end_step=1): "
     "masks would be updated only at the ends. Lower `frequency`."),
    (lambda: kerasprune.PolynomialDecay(-0.1, 0.5, 0, 10),
     "`initial_sparsity` must be a float in [0, 1). Received: initial_sparsity=-0.1"),
    (lambda: kerasprune.PolynomialDecay(0.1, 1.5, 0, 10),
     "`final_sparsity` must be a float in [0, 1). Received: final_sparsity=1.5"),
    (lambda: kerasprune.PolynomialDecay(0.6, 0.5, 0, 10),
     "`initial_sparsity` must be <= `final_sparsity`. Received: initial_sparsity=0.6, "
     "final_sparsity=0.5"),
    (lambda: kerasprune.PolynomialDecay(0.1, 0.5, 0, 10, power="3"),
     "`power` must be a finite float > 0. Received: power='3'"),
    (lambda: CycleSparsity(0.9, cycles=0),
     "`cycles` must be an int >= 1. Received: cycles=0"),
    (lambda: CycleSparsity(0.9, cycles=2, begin_step=-2),
     "`begin_step` must be an int >= 0. Received: begin_step=-2"),
    (lambda: CycleSparsity(0.9, cycles=2, steps_per_cycle=0),
     "`steps_per_cycle` must be an int >= 1. Received: steps_per_cycle=0"),
    (lambda: CycleSparsity(1.2, cycles=2),
     "`target_sparsity` must be a float in [0, 1). Received: target_sparsity=1.2"),
    (lambda: cycle_sparsities(0.9, 0),
     "`cycles` must be an int >= 1. Received: cycles=0"),
])
def test_bad_arguments_are_refused_with_the_whole_message(make, message):
    import re

    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()


def test_cycle_sparsities_names_a_bad_target():
    import re

    message = "`target_sparsity` must be a float in [0, 1). Received: target_sparsity=1.5"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        cycle_sparsities(1.5, 2)


def test_polynomial_decay_holds_each_value_from_the_start_of_its_window():
    s = kerasprune.PolynomialDecay(0.0, 0.8, begin_step=1, end_step=9, power=1, frequency=3)
    # Windows start at steps 1, 4, 7: progress 0, 3/8, 6/8 of a linear ramp to 0.8.
    assert [s(t) for t in range(1, 9)] == pytest.approx([0, 0, 0, 0.3, 0.3, 0.3, 0.6, 0.6])


def test_polynomial_decay_reaches_the_final_sparsity_at_end_step_off_the_frequency():
    # (end - begin) = 10 is not a multiple of frequency 3: the last held step is 9.
    schedule = kerasprune.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=10, frequency=3)
    assert schedule(9) < 0.8 and schedule(10) == 0.8


def test_a_frequency_up_to_the_span_and_a_span_of_no_steps_are_accepted():
    # An update at each end of the span; one-shot at begin_step = end_step, any frequency.
    span = kerasprune.PolynomialDecay(0.0, 0.5, begin_step=0, end_step=100, frequency=100)
    assert span(100) == 0.5
    assert kerasprune.ConstantSparsity(0.5, begin_step=10, end_step=10, frequency=100)(10) == 0.5
    assert kerasprune.PolynomialDecay(0.5, 0.5, begin_step=0, end_step=10, frequency=5)(5) == 0.5


def test_polynomial_decay_defaults_to_zhu_and_guptas_cubic_every_100_steps():
    schedule = kerasprune.PolynomialDecay(0.0, 0.5, begin_step=0, end_step=1000)
    assert (schedule.power, schedule.frequency) == (3.0, 100)
