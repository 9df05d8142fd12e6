"""Selection of the weights to prune: exact counts, ties, masks only grow, scopes."""

import re
import warnings

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kerasprune
from kerasprune.core.criterion_data import ChannelActivity
from kerasprune.core.mask_update import write_masks
from kerasprune.core.selection import select_pruned, uniform_size
from tests.mutation_scope import examples
from tests.helpers import masks_of


@settings(max_examples=examples(60), deadline=None)
@given(
    scores=arrays(np.float32, st.integers(1, 200), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5])),
    sparsity=st.floats(0.0, 0.999),
)
def test_select_prunes_exactly_round_s_n_lowest_with_ties(scores, sparsity):
    n = scores.size
    pruned = select_pruned(scores, np.ones(n, int), np.zeros(n, bool), sparsity)
    k = int(round(sparsity * n))
    assert pruned.sum() == k
    if 0 < k < n:
        # Every pruned score is <= every kept score.
        assert scores[pruned].max() <= scores[~pruned].min()
        # Ties at the threshold are broken by position: earlier pruned first.
        threshold = scores[pruned].max()
        tied = np.flatnonzero(scores == threshold)
        tied_pruned = pruned[tied]
        assert list(tied_pruned) == sorted(tied_pruned, reverse=True)


def test_select_is_deterministic_on_ties():
    scores = np.ones(10, np.float32)
    pruned = select_pruned(scores, np.ones(10, int), np.zeros(10, bool), 0.3)
    assert np.flatnonzero(pruned).tolist() == [0, 1, 2]


def test_already_pruned_groups_stay_pruned_even_if_large():
    scores = np.array([5.0, 1.0, 2.0, 3.0])
    already = np.array([True, False, False, False])
    pruned = select_pruned(scores, np.ones(4, int), already, 0.5)
    assert pruned.tolist() == [True, True, False, False]


def test_unequal_group_sizes_count_weights_not_groups():
    scores = np.array([1.0, 2.0, 3.0])
    sizes = np.array([4, 2, 2])
    pruned = select_pruned(scores, sizes, np.zeros(3, bool), 0.5)  # 4 of 8 weights
    assert pruned.tolist() == [True, False, False]


def _dense_model(units=(16, 8, 4), seed=0):
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((12,))] + [keras.layers.Dense(u, name=f"d{i}") for i, u in enumerate(units)])
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    return model


def test_layer_scope_gives_each_kernel_exact_sparsity():
    pruned = kerasprune.prune(_dense_model())
    kerasprune.update_masks(pruned, 0.7)
    for row in kerasprune.sparsity_report(pruned).rows:
        assert row.size - row.nonzeros == round(0.7 * row.size)


def test_global_scope_uses_one_threshold_across_layers():
    model = _dense_model()
    pruned = kerasprune.prune(model, scope="global")
    kerasprune.update_masks(pruned, 0.7)
    kernels = [np.asarray(w.layer.kernel) for w in kerasprune.prune_wrappers(pruned)]
    originals = [np.abs(np.asarray(l.kernel)) for l in model.layers]
    total = sum(k.size for k in kernels)
    zeros = sum(int((k == 0).sum()) for k in kernels)
    assert zeros == round(0.7 * total)
    largest_pruned = max(o[k == 0].max() for o, k in zip(originals, kernels))
    smallest_kept = min(o[k != 0].min() for o, k in zip(originals, kernels))
    assert largest_pruned <= smallest_kept
    # Layers end up with different sparsities: that is the point of a global threshold.
    assert len({round(r.sparsity, 3) for r in kerasprune.sparsity_report(pruned).rows}) > 1


def test_masks_only_grow_when_target_rises_and_falls():
    pruned = kerasprune.prune(_dense_model())
    kerasprune.update_masks(pruned, 0.5)
    before = [np.asarray(m).copy() for w in kerasprune.prune_wrappers(pruned) for m in w.masks]
    kerasprune.update_masks(pruned, 0.8)
    after = [np.asarray(m) for w in kerasprune.prune_wrappers(pruned) for m in w.masks]
    for b, a in zip(before, after):
        assert np.all(a[b == 0] == 0)
    with pytest.warns(UserWarning, match=r"masks already prune 0.80\d+ .* sparsity=0.2 asked"):
        assert kerasprune.update_masks(pruned, 0.2) == pytest.approx(0.8, abs=0.01)


def test_overrides_absolute_and_relative():
    pruned = kerasprune.prune(
        _dense_model(), scope="global", sparsity_overrides={"d1": 0.25, "d2": "0.5x"}
    )
    kerasprune.update_masks(pruned, 0.8)
    report = kerasprune.sparsity_report(pruned).as_dict()
    assert report["d1/kernel"] == pytest.approx(0.25, abs=1 / 128)
    assert report["d2/kernel"] == pytest.approx(0.4, abs=1 / 32)
    assert report["d0/kernel"] == pytest.approx(0.8, abs=1 / 192)
    # Before the final target, an absolute override follows the schedule proportionally.
    ramp = kerasprune.prune(_dense_model(), sparsity_overrides={"d1": 0.4})
    kerasprune.update_masks(ramp, 0.4, final_sparsity=0.8)
    assert kerasprune.sparsity_report(ramp).as_dict()["d1/kernel"] == pytest.approx(0.2, abs=1 / 128)


def test_block_masks_are_whole_blocks_of_four_inputs():
    pruned = kerasprune.prune(_dense_model(units=(16,)), block_shape=(4, 1))
    kerasprune.update_masks(pruned, 0.75)
    kernel = np.asarray(kerasprune.prune_wrappers(pruned)[0].layer.kernel)  # [12, 16]
    blocks = kernel.reshape(3, 4, 16)
    nonzero_per_block = (blocks != 0).sum(axis=1)
    assert set(np.unique(nonzero_per_block)) <= {0, 4}
    assert (nonzero_per_block == 0).sum() == 36  # 75% of 48 blocks


def test_groups_scored_infinite_are_never_pruned():
    scores = np.array([np.inf, 1.0, np.inf, 2.0])
    pruned = select_pruned(scores, np.ones(4, int), np.zeros(4, bool), 0.75)
    assert pruned.tolist() == [False, True, False, True]
    # a dead group scored +inf takes nothing from what the alive ones may give
    already = np.array([True, False, False, False])
    pruned = select_pruned(np.array([np.inf, 1.0, 2.0, np.inf]), 1, already, 1.0)
    assert pruned.tolist() == [True, True, True, False]
    pruned = select_pruned(scores, np.array([1, 2, 3, 4]), np.zeros(4, bool), 0.9)
    assert pruned.tolist() == [False, True, False, True]


# -- the rule against a reference written for clarity, not speed ------------------------


def reference_selection(scores, sizes, already, sparsity):
    """Lowest (score, position) first among alive finite groups, counted in weights."""
    target = round(sparsity * int(sizes.sum()))
    left = target - int(sizes[already].sum())
    pruned = already.copy()
    order = sorted((i for i in range(scores.size) if not already[i] and scores[i] < np.inf),
                   key=lambda i: (scores[i], i))
    if left <= 0 or not order:
        return pruned
    counts = np.concatenate([[0], np.cumsum(sizes[order])])
    n_groups = int(np.argmin(np.abs(counts - left)))  # closest count, fewer groups on a tie
    pruned[order[:n_groups]] = True
    return pruned


group_scores = arrays(np.float32, st.integers(1, 80),
                      elements=st.sampled_from([0.0, 0.25, 1.0, 2.0, 3.5, np.inf]))


@settings(max_examples=examples(150), deadline=None)
@given(scores=group_scores, data=st.data(), sparsity=st.floats(0.0, 1.0))
def test_selection_matches_reference_for_equal_and_unequal_groups(scores, data, sparsity):
    n = scores.size
    equal = data.draw(st.booleans(), label="equal sizes")
    size = data.draw(st.integers(1, 4), label="size")
    sizes = (np.full(n, size) if equal
             else data.draw(arrays(np.int64, n, elements=st.integers(1, 5))))
    already = data.draw(arrays(bool, n))
    pruned = select_pruned(scores, sizes, already, sparsity)
    np.testing.assert_array_equal(pruned, reference_selection(scores, sizes, already, sparsity))
    if equal:  # one int for every group gives the same answer without an array
        np.testing.assert_array_equal(select_pruned(scores, size, already, sparsity), pruned)


@settings(max_examples=examples(60), deadline=None)
@given(scores=group_scores, sparsity=st.floats(0.0, 1.0))
def test_selection_exact_count_when_enough_finite_groups(scores, sparsity):
    n = scores.size
    pruned = select_pruned(scores, 1, np.zeros(n, bool), sparsity)
    k = round(sparsity * n)
    assert pruned.sum() == min(k, int(np.isfinite(scores).sum()))
    assert not pruned[np.isinf(scores)].any()


@pytest.mark.parametrize("size, left, groups", [
    (4, 10, 2), (4, 11, 3), (4, 9, 2), (5, 12, 2), (5, 13, 3), (3, 4, 1), (3, 5, 2)])
def test_equal_groups_prune_the_closest_count_fewer_on_a_tie(size, left, groups):
    # 10 groups of `size` weights, `left` weights asked: 10 of 4-weight groups is 2.5
    # groups, a tie: 2.
    n = 10
    pruned = select_pruned(np.arange(n, dtype=np.float32), size, None, left / (n * size))
    assert pruned.tolist() == [True] * groups + [False] * (n - groups)


def test_edge_block_ties_go_to_the_earlier_group_and_closest_count():
    # Blocks of 4, 4 and an edge block of 2, all tied: the earliest go first, and the
    # count closest to the target wins (6 of 10 -> the first block and the edge block
    # cannot be reached without the second one; 4 is as close as 8, fewer groups win).
    scores = np.ones(3)
    sizes = np.array([4, 4, 2])
    assert select_pruned(scores, sizes, np.zeros(3, bool), 0.6).tolist() == [True, False, False]
    assert select_pruned(scores, sizes, np.zeros(3, bool), 0.7).tolist() == [True, True, False]


def test_selection_refuses_nan_scores():
    message = "`scores` must not contain NaN: every group needs a comparable score."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        select_pruned(np.array([1.0, np.nan]), 1, np.zeros(2, bool), 0.5)


@pytest.mark.parametrize("sizes, expected", [
    (3, 3), (np.array([5]), 5), (np.array([], np.int64), 1), (np.array([2, 2, 2]), 2),
    (np.broadcast_to(np.int64(4), (6,)), 4), (np.array([2, 3]), None),
    (np.array([1, 2], np.int8), None), (np.array([7, 7], np.uint8), 7),
])
def test_uniform_size_is_the_common_size_of_any_integer_vector(sizes, expected):
    assert uniform_size(sizes) == expected


# -- update_masks: masks only grow, NaN refusal, floors in every scope ------------------


def _random_model(widths, scales, seed):
    rng = np.random.default_rng(seed)
    layers = [keras.Input((widths[0],))]
    layers += [keras.layers.Dense(w, name=f"d{i}") for i, w in enumerate(widths[1:])]
    model = keras.Sequential(layers)
    values = []
    for weight in model.weights:
        scale = scales[len(values) // 2 % len(scales)]
        values.append((rng.normal(size=weight.shape) * scale).astype("float32"))
    model.set_weights(values)
    return model


@settings(max_examples=examples(25), deadline=None)
@given(
    widths=st.lists(st.integers(1, 24), min_size=3, max_size=5),
    scales=st.lists(st.sampled_from([1e-3, 0.1, 1.0, 30.0]), min_size=1, max_size=4),
    targets=st.lists(st.floats(0.0, 0.99), min_size=1, max_size=4),
    scope=st.sampled_from(["layer", "global", "erk", "lamp"]),
    min_density=st.sampled_from([0.0, 0.01, 0.2]),
)
def test_masks_only_grow_and_floors_hold_in_every_scope(widths, scales, targets, scope,
                                                        min_density):
    from kerasprune.core.allocation import floor_weights

    model = kerasprune.prune(_random_model(widths, scales, 0), scope=scope,
                             min_density=min_density)
    before = masks_of(model)
    counts = np.array([m.size for m in before])
    for target in targets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reached = kerasprune.update_masks(model, target)
        after = masks_of(model)
        for b, a in zip(before, after):
            assert np.all(a[b == 0] == 0)  # masks only grow
        kept = np.array([int(np.count_nonzero(m)) for m in after])
        high = max(target, 1 - (sum(int(np.count_nonzero(m)) for m in before) / counts.sum()))
        if high == target:  # nothing was pruned beyond this target before: exact
            if scope == "layer":
                np.testing.assert_array_equal(counts - kept, np.round(target * counts))
            else:
                assert (counts - kept).sum() == round(target * counts.sum())
            densities = np.full(counts.size, min_density)
            floors = (np.concatenate([floor_weights(counts[i:i + 1], target, densities[:1])
                                      for i in range(counts.size)])
                      if scope == "layer" else floor_weights(counts, target, densities))
            assert np.all(kept >= floors)
        assert reached == pytest.approx(1 - kept.sum() / counts.sum())
        before = after


def test_masks_may_shrink_when_asked():
    model = kerasprune.prune(_dense_model())
    kerasprune.update_masks(model, 0.8)
    assert kerasprune.update_masks(model, 0.3, masks_only_grow=False) < 0.31
    for mask in masks_of(model):  # restored weights restart from zero; the masks say kept
        assert mask.size - np.count_nonzero(mask) == round(0.3 * mask.size)
    with pytest.raises(TypeError, match="masks_only_grow"):
        kerasprune.update_masks(model, 0.5, masks_only_grow="yes")


def test_a_refused_target_is_refused_without_a_warning_first():
    model = kerasprune.prune(_dense_model())
    kerasprune.update_masks(model, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Received: sparsity=-0.1"):
            kerasprune.update_masks(model, -0.1)


def test_update_masks_refuses_nan_weights_naming_the_layer():
    model = kerasprune.prune(_dense_model())
    kerasprune.update_masks(model, 0.5)
    kernel = kerasprune.prune_wrappers(model)[1].layer.kernel
    value = np.asarray(kernel).copy()
    value[0, 0] = np.nan
    kernel.assign(value)
    masks = masks_of(model)
    with pytest.raises(ValueError, match=r"Layer .d1. has 1 NaN/Inf values in its weight .kernel."):
        kerasprune.update_masks(model, 0.8)
    for old, new in zip(masks, masks_of(model)):
        np.testing.assert_array_equal(old, new)


def test_global_scope_floor_keeps_small_scale_layers_and_warns_when_disabled():
    # d0's weights are 1000x smaller: one global threshold would empty it.
    model = _random_model([12, 16, 8, 4], [1e-3, 1.0, 1.0], seed=1)
    floored = kerasprune.prune(model, scope="global")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*fully pruned")
        kerasprune.update_masks(floored, 0.7)
    report = kerasprune.sparsity_report(floored).as_dict()
    assert report["d0/kernel"] == pytest.approx(1 - 2 / 192)  # ceil(1% of 192) = 2 kept
    bare = kerasprune.prune(model, scope="global", min_density=0.0)
    with pytest.warns(UserWarning, match=r"fully pruned: \['d0/kernel'\]"):
        kerasprune.update_masks(bare, 0.7)


def test_min_density_is_checked_and_saved(tmp_path):
    with pytest.raises(ValueError, match="min_density"):
        kerasprune.prune(_dense_model(), min_density=1.5)
    model = kerasprune.prune(_dense_model(), scope="lamp", min_density=0.05)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    wrapper = kerasprune.prune_wrappers(loaded)[0]
    assert (wrapper.scope, wrapper.min_density) == ("lamp", 0.05)


def test_global_update_holds_at_most_16_bytes_per_weight_of_numpy_memory():
    import tracemalloc

    model = kerasprune.prune(_random_model([256, 512, 512, 256], [1.0], seed=2), scope="global")
    n = sum(int(np.prod(v.shape))
            for w in kerasprune.prune_wrappers(model) for v in w.pruned_weights)
    tracemalloc.start()
    kerasprune.update_masks(model, 0.9)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 16 * n


def _chosen(selector, wrappers, sparsity):
    """The masks `selector` chooses for `wrappers`, one list per wrapper (none written)."""
    masks = {id(w): m for w, m in selector.select(None, wrappers, sparsity, sparsity)}
    return [masks[id(w)] for w in wrappers]


def test_selectors_prune_a_set_as_one_with_its_criterion_data_and_write_nothing():
    from kerasprune.core.selectors import LayerTargets, ToTarget

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, use_bias=False),
                              keras.layers.Dense(1, use_bias=False)])
    model.layers[0].kernel.assign([[1.0, 2.0], [3.0, 4.0]])
    model.layers[1].kernel.assign([[5.0], [0.5]])
    wrappers = kerasprune.prune_wrappers(kerasprune.prune(model, scope="global"))
    masks = _chosen(ToTarget(), wrappers, 0.5)  # 3 of the 6 weights: 0.5, 1 and 2
    assert [m[0].tolist() for m in masks] == [[[0.0, 0.0], [1.0, 1.0]], [[1.0], [0.0]]]
    assert all(np.all(np.asarray(w.masks[0]) == 1) for w in wrappers)  # chosen, not written
    snip = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, use_bias=False)])
    snip.layers[0].kernel.assign([[1.0, 2.0], [3.0, 4.0]])
    (wrapper,) = kerasprune.prune_wrappers(
        kerasprune.prune(snip, pattern=kerasprune.Unstructured("snip")))
    gradients = {wrapper.layer.kernel.path: [np.array([[4.0, 1.0], [0.1, 1.0]])]}
    # |w * g| = [[4, 2], [0.3, 4]]: the two smallest saliencies go, not the two smallest w.
    (mask,) = _chosen(LayerTargets({wrapper: 0.5}, gradients=gradients), [wrapper], 0.5)[0]
    assert mask.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    apoz = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, use_bias=False)])
    (wrapper,) = kerasprune.prune_wrappers(kerasprune.prune(
        apoz, pattern=kerasprune.Channels("apoz", min_channels=0)))
    activity = ChannelActivity(np.array([0.9, 0.1]), np.ones(2))
    selector = LayerTargets({wrapper: 0.5}, activations={wrapper.layer.kernel.path: activity})
    (mask,) = _chosen(selector, [wrapper], 0.5)[0]
    assert mask.tolist() == [[0.0, 1.0], [0.0, 1.0]]  # the channel off 90% of the time goes


def _two_layers(pattern, a, b, **options):
    model = keras.Sequential([keras.Input((len(a),)), keras.layers.Dense(
        np.shape(a)[1], use_bias=False, name="a"), keras.layers.Dense(
        np.shape(b)[1], use_bias=False, name="b")])
    model.get_layer("a").kernel.assign(np.asarray(a, "float32"))
    model.get_layer("b").kernel.assign(np.asarray(b, "float32"))
    return kerasprune.prune(model, pattern=pattern, scope="global", **options)


def test_a_floor_keeps_the_highest_groups_and_among_ties_the_later_ones():
    masks = lambda m: [np.asarray(w.masks[0]).tolist() for w in kerasprune.prune_wrappers(m)]
    # a's weights are 1000x smaller: its floor (half of it) keeps its 2 highest.
    pruned = _two_layers(None, [[0.001, 0.002], [0.003, 0.004]], [[1.0, 2.0], [3.0, 4.0]],
                         min_density=0.5)
    kerasprune.update_masks(pruned, 0.5)
    assert masks(pruned) == [[[0, 0], [1, 1]], [[0, 0], [1, 1]]]
    # Equal scores: the later ones are kept.
    pruned = _two_layers(None, [[0.001, 0.001], [0.001, 0.001]], [[1.0, 2.0], [3.0, 4.0]],
                         min_density=0.5)
    kerasprune.update_masks(pruned, 0.5)
    assert masks(pruned) == [[[0, 0], [1, 1]], [[0, 0], [1, 1]]]


def test_a_floor_over_blocks_of_unequal_size_keeps_the_highest_block_that_holds_it():
    # Blocks (2, 1) over a's 3 rows: rows 0-1 (2 weights) and row 2 (1); b's are single.
    pruned = _two_layers(kerasprune.Blocks((2, 1)), [[0.001], [0.001], [0.003]],
                         [[1.0, 1.0, 3.0]], min_density=0.5)
    kerasprune.update_masks(pruned, 0.5)  # 3 of 6 weights; a keeps 1 (its floor)
    a, b = (np.asarray(w.masks[0]).ravel().tolist() for w in kerasprune.prune_wrappers(pruned))
    assert (a, b) == ([0, 0, 1], [0, 1, 1])


def test_scores_are_widened_exactly_to_float32_or_float64():
    import ml_dtypes

    from kerasprune.core.selection import _as_float

    values = np.array([[1.5, -2.0], [0.25, 3.0]])
    cases = {np.float16: np.float32, ml_dtypes.bfloat16: np.float32, np.int32: np.float64,
             np.float32: np.float32, np.float64: np.float64}
    for dtype, wide in cases.items():
        scores = _as_float(values.astype(dtype))
        assert scores.dtype == wide and scores.shape == (4,), dtype
        np.testing.assert_array_equal(scores, values.astype(dtype).astype(np.float64).ravel())


def _wrapper_with_mask(mask):
    wrapper = kerasprune.PruneWrapper(keras.layers.Dense(2, name="d"),
                                      pattern=kerasprune.Unstructured("snip"))
    wrapper.build((None, 2))
    write_masks({wrapper: [np.asarray(mask, dtype="float32")]})
    return wrapper


def test_a_weight_set_counts_what_groups_leave_and_keeps_what_was_pruned():
    from kerasprune.core.selection import WeightSet

    fresh, pruned = _wrapper_with_mask(np.ones((2, 2))), _wrapper_with_mask([[1, 0], [1, 1]])
    gradients = {w.pruned_weights[0].path: [np.ones((2, 2))] for w in (fresh, pruned)}
    pruning_set = WeightSet([fresh, pruned], gradients)
    assert pruning_set.already[0] is None  # nothing pruned before: no flags held
    assert pruning_set.already[1].tolist() == [False, True, False, False]
    assert pruning_set.weight_counts().tolist() == [4, 4]
    assert pruning_set.weight_counts(pruning_set.already).tolist() == [4, 3]
    assert WeightSet([pruned], gradients, masks_only_grow=False).already == [None]


def test_a_weight_set_refuses_nan_scores_naming_the_weight():
    from kerasprune.core.selection import WeightSet

    wrapper = _wrapper_with_mask(np.ones((2, 2)))
    path = wrapper.pruned_weights[0].path
    message = (f"The {wrapper.pattern!r} pattern scored groups of '{path}' as NaN "
               "(NaN gradients?); the masks were not changed.")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        WeightSet([wrapper], {path: [np.full((2, 2), np.nan)]})


def test_a_pattern_that_protects_weights_from_a_target_is_named():
    class KeepFirstRow(kerasprune.Unstructured):
        """Scores the kernel's first row +inf: it is never pruned."""

        def group_scores(self, weight, gradients=None, activations=None):
            scores, sizes = super().group_scores(weight, gradients, activations)
            scores = scores.astype(np.float64)
            scores[: np.shape(weight)[1]] = np.inf
            return scores, sizes

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="d")])
    pruned = kerasprune.prune(model, pattern=KeepFirstRow())
    with pytest.warns(UserWarning, match=r"not reached: d/kernel: 0.5000 of 0.9000"):
        kerasprune.update_masks(pruned, 0.9)


def test_a_layer_whose_groups_all_score_the_same_is_named_in_a_warning():
    from kerasprune.core.selection import TiedScoresWarning

    layers = [keras.layers.Dense(4, kernel_initializer="ones", name="flat"),
              keras.layers.Dense(4, name="varied")]
    model = kerasprune.prune(keras.Sequential([keras.Input((4,)), *layers]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kerasprune.update_masks(model, 0.5)
    tied = [str(w.message) for w in caught if w.category is TiedScoresWarning]
    assert len(tied) == 1 and "'flat'" in tied[0] and "'magnitude'" in tied[0], tied
    with warnings.catch_warnings(record=True) as caught:  # the pruned zeros do not count
        warnings.simplefilter("always")
        kerasprune.update_masks(model, 0.75)
    tied = [str(w.message) for w in caught if w.category is TiedScoresWarning]
    assert len(tied) == 1 and "groups of layer 'flat'" in tied[0], tied
