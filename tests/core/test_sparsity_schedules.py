"""Sparsity schedules as pure functions of the step."""

import pytest

import kerasprune


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
