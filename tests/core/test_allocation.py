"""Sharing a model-wide target among tensors: floors, ERK, LAMP."""

import math
import warnings
from fractions import Fraction

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kerasprune
from kerasprune.core.allocation import erk_factor, floor_weights, lamp_scores
from kerasprune.core.allocation import erk_kept as erk_kept_factors
from tests.mutation_scope import examples


def erk_kept(shapes, *args):
    """ERK over weight tensors, by their shapes."""
    return erk_kept_factors([erk_factor(s) for s in shapes], *args)

shapes = st.lists(st.tuples(st.integers(1, 9), st.integers(1, 40)), min_size=1, max_size=6)


@settings(max_examples=examples(100), deadline=None)
@given(shapes=shapes, sparsity=st.floats(0.0, 0.999),
       densities=st.sampled_from([0.0, 0.01, 0.3, 1.0]))
def test_floors_never_make_the_target_unreachable(shapes, sparsity, densities):
    counts = np.array([a * b for a, b in shapes])
    floors = floor_weights(counts, sparsity, np.full(counts.size, densities))
    share = counts - np.ceil(sparsity * counts)  # the tensor's part of a uniform target
    assert floors.sum() <= counts.sum() - round(sparsity * counts.sum())
    assert np.all(floors >= np.minimum(np.ceil(densities * counts), share))
    assert np.all(floors <= np.maximum(share, densities > 0))


@settings(max_examples=examples(100), deadline=None)
@given(shapes=shapes, fraction=st.floats(0.0, 1.0), data=st.data())
def test_erk_is_exact_bounded_and_proportional_to_the_sum_of_dims(shapes, fraction, data):
    counts = np.array([a * b for a, b in shapes])
    upper = np.array([data.draw(st.integers(0, int(c))) for c in counts])
    lower = np.array([data.draw(st.integers(0, int(u))) for u in upper])
    budget = int(round(fraction * counts.sum()))
    kept = erk_kept(shapes, budget, lower, upper)
    assert np.all(kept >= lower) and np.all(kept <= upper)
    assert kept.sum() == min(max(budget, lower.sum()), upper.sum())
    free = (kept > lower) & (kept < upper)
    if free.sum() >= 2:  # unbounded tensors keep eps * (sum of dims), up to rounding
        per_dim = kept[free] / np.array([sum(s) for s, f in zip(shapes, free) if f])
        spread = 1 / np.array([sum(s) for s, f in zip(shapes, free) if f]).min()
        assert per_dim.max() - per_dim.min() <= 2 * spread + 1e-9


def test_erk_caps_small_layers_at_dense_and_resolves_the_rest():
    # A 1000x1000 kernel and a 4x4 one at 50%: ERK would give the small one density > 1.
    kept = erk_kept([(1000, 1000), (4, 4)], 500_008, np.zeros(2, int), np.array([10**6, 16]))
    assert kept.tolist() == [499_992, 16]


def _lamp_reference(scores):
    out = []
    for i, s in enumerate(scores):
        # not smaller: larger scores, and equal scores at a later position
        rest = [t for j, t in enumerate(scores) if t > s or (t == s and j >= i)]
        total = sum(t * t for t in rest)
        out.append(s * s / total if total else 0.0)
    return np.array(out)


@settings(max_examples=examples(60), deadline=None)
@given(scores=arrays(np.float32, st.integers(1, 30),
                    elements=st.sampled_from([0.0, 0.5, 1.0, 3.0])))
def test_lamp_scores_match_the_definition(scores):
    np.testing.assert_allclose(lamp_scores(scores), _lamp_reference(scores), rtol=1e-6)
    assert lamp_scores(scores).max() == pytest.approx(1.0) or not scores.any()


def _two_scale_model():
    """d0's weights are 1000x smaller than d1's and d2's: global magnitude empties it."""
    rng = np.random.default_rng(3)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, name="d0"),
                              keras.layers.Dense(64, name="d1"), keras.layers.Dense(10, name="d2")])
    scales = [1e-3, 1e-3, 1.0, 1.0, 1.0, 1.0]
    model.set_weights([(rng.normal(size=w.shape) * s).astype("float32")
                       for w, s in zip(model.weights, scales)])
    return model


@pytest.mark.parametrize("scope", ["erk", "lamp"])
def test_erk_and_lamp_reach_the_target_exactly_and_never_empty_a_layer(scope):
    model = kerasprune.prune(_two_scale_model(), scope=scope, min_density=0.0)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*fully pruned")
        reached = kerasprune.update_masks(model, 0.95)
    rows = kerasprune.sparsity_report(model).rows
    size = sum(r.size for r in rows)
    assert size - sum(r.nonzeros for r in rows) == round(0.95 * size)
    assert reached == pytest.approx(0.95, abs=1 / size)
    assert all(r.nonzeros > 0 for r in rows)


def test_erk_gives_the_small_layer_a_higher_density_in_proportion_to_its_dims():
    model = kerasprune.prune(_two_scale_model(), scope="erk")
    kerasprune.update_masks(model, 0.9)
    density = {r.layer: r.nonzeros / r.size for r in kerasprune.sparsity_report(model).rows}
    # (32 + 64) / (32 * 64) : (64 + 64) / (64 * 64) : (64 + 10) / (64 * 10)
    assert density["d0"] / density["d1"] == pytest.approx((96 / 2048) / (128 / 4096), rel=0.02)
    assert density["d2"] / density["d1"] == pytest.approx((74 / 640) / (128 / 4096), rel=0.02)


def test_lamp_prunes_by_normalized_score_with_one_threshold():
    model = _two_scale_model()
    pruned = kerasprune.prune(model, scope="lamp")
    kerasprune.update_masks(pruned, 0.8)
    lamp = [lamp_scores(np.abs(np.asarray(l.kernel)).ravel()) for l in model.layers]
    kept = [np.asarray(w.layer.kernel).ravel() != 0 for w in kerasprune.prune_wrappers(pruned)]
    pruned_max = max(s[~k].max() for s, k in zip(lamp, kept))
    assert pruned_max <= min(s[k].min() for s, k in zip(lamp, kept))


@pytest.mark.parametrize("scope", ["erk", "lamp"])
def test_model_wide_scopes_plug_into_the_gmp_callback(scope, digits):
    from tests.helpers import compile_classifier, small_cnn

    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn(), scope=scope))
    callback = kerasprune.PruningCallback(0.9, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=1, update_every=5)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*fully pruned")
        history = model.fit(x[:640], y[:640], epochs=3, batch_size=64, callbacks=[callback],
                            verbose=0)
    assert history.history["sparsity"][-1] == pytest.approx(0.9, abs=1e-3)
    rows = kerasprune.sparsity_report(model).rows
    assert all(r.nonzeros > 0 for r in rows)
    assert len({round(r.sparsity, 2) for r in rows}) > 1  # not uniform


def test_erk_floors_bind_while_eps_is_solved_and_counts_are_integers():
    # ERK alone gives the small tensor 46; its floor of 90 holds and the rest re-solves.
    kept = erk_kept([(100, 10), (10, 10)], 300, np.array([0, 90]), np.array([1000, 100]))
    assert kept.tolist() == [210, 90] and kept.dtype == np.int64


def test_erk_gives_equal_remainders_to_the_earlier_tensors():
    # 24 tensors of three sizes in a shuffled order; the weights left after rounding down
    # go to the largest remainders, equal ones to the earlier tensor (a stable order).
    shapes = [[(1, 3), (3, 5), (5, 7)][i] for i in np.random.default_rng(0).integers(0, 3, 24)]
    dims = np.array([sum(s) for s in shapes])
    budget = 37
    exact = [Fraction(budget * int(d), int(dims.sum())) for d in dims]
    expected = [math.floor(e) for e in exact]
    by_remainder = sorted(range(24), key=lambda t: (-(exact[t] - expected[t]), t))
    for t in by_remainder[: budget - sum(expected)]:
        expected[t] += 1
    kept = erk_kept(shapes, budget, np.zeros(24, int), np.full(24, 1000))
    assert kept.tolist() == expected


def test_lamp_keeps_protected_groups_infinite_in_float32():
    scores = lamp_scores(np.array([1.0, np.inf, 2.0], dtype=np.float32))
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, [0.2, np.inf, 1.0], rtol=1e-6)


def test_lamp_squares_in_float64_so_huge_magnitudes_do_not_overflow():
    scores = lamp_scores(np.array([1e20, 2e20], dtype=np.float32))
    np.testing.assert_allclose(scores, [0.2, 1.0], rtol=1e-6)


def test_lamp_scores_an_all_zero_tensor_zero():
    for _ in range(20):  # fresh buffers each time: an unset output would show garbage
        noise = np.random.default_rng(0).normal(size=4096)  # noqa: F841 (dirties memory)
        del noise
        assert not lamp_scores(np.zeros(4096, dtype=np.float32)).any()


def test_a_floor_keeps_one_weight_of_a_tiny_tensor_when_the_set_can_afford_it():
    # The 2-weight tensor's uniform share at 90% is 0 weights; its floor keeps 1 anyway,
    # because the set keeps 10 (then 2: exactly the two floors) weights in total.
    for counts in ([2, 100], [2, 20]):
        floors = floor_weights(np.array(counts), 0.9, np.array([0.01, 0.01]))
        assert floors.tolist() == [1, 1] and floors.dtype == np.int64


def test_floors_the_set_cannot_afford_fall_back_to_each_tensors_share():
    # Three 2-weight tensors at 90% keep 1 weight in total: three floors of 1 do not fit,
    # so each keeps its uniform share, 0.
    floors = floor_weights(np.array([2, 2, 2]), 0.9, np.array([0.01, 0.01, 0.01]))
    assert floors.tolist() == [0, 0, 0]
