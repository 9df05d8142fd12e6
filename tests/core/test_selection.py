"""Selection of the weights to prune: exact counts, ties, masks only grow, scopes."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kerasprune
from kerasprune.core.selection import select_pruned


@settings(max_examples=60, deadline=None)
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
    pruned = select_pruned(scores, np.array([1, 2, 3, 4]), np.zeros(4, bool), 0.9)
    assert pruned.tolist() == [False, True, False, True]
