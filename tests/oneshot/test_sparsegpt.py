"""SparseGPT on one matrix: exact targets in every weight pattern, OBS updates, lazy blocks."""

import numpy as np
import pytest

from kerasprune.core.linear_views import LinearView
from kerasprune.core.patterns import Blocks, Unstructured
from kerasprune.oneshot.obs import remove_one
from kerasprune.oneshot.sparsegpt import MaskChoice, sparsegpt
from kerasprune.structured.channel_patterns import NM

RNG = np.random.default_rng(0)


def layer_problem(n_in=48, n_out=6, samples=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, n_in)) @ rng.normal(size=(n_in, n_in)) / np.sqrt(n_in)
    return x, rng.normal(size=(n_in, n_out))


def loss(x, before, after) -> float:
    return float(np.sum(np.square(x @ before - x @ after)))


class FixedMask(MaskChoice):
    """A choice that prunes a given mask whatever the scores (to test the updates)."""

    def __init__(self, pruned):
        super().__init__(Unstructured(), LinearView(pruned.shape, (0,)), 0.5, None)
        self.fixed = pruned

    def choose(self, start, stop, scores):
        return self.fixed[start:stop]


@pytest.mark.parametrize("target", [0.3, 0.5, 0.77])
@pytest.mark.parametrize("blocksize", [7, 16, 128])
def test_unstructured_masks_are_exact_at_the_target(target, blocksize):
    x, w = layer_problem(n_in=50)
    choice = MaskChoice(Unstructured(), LinearView(w.shape, (0,)), target, None)
    new, pruned = sparsegpt(w, x.T @ x, choice, blocksize=blocksize)
    assert int(pruned.sum()) == round(target * w.size)
    assert np.all(new[pruned] == 0) and np.all(new[~pruned] != 0)


def test_two_four_runs_are_valid_along_the_input_and_blocks_stay_whole():
    x, w = layer_problem(n_in=64, n_out=5)
    nm = MaskChoice(NM(2, 4), LinearView(w.shape, (0,)), 0.5, None)
    _, pruned = sparsegpt(w, x.T @ x, nm, blocksize=32)
    assert np.all(pruned.reshape(16, 4, 5).sum(axis=1) == 2)
    blocks = MaskChoice(Blocks((4, 1)), LinearView(w.shape, (0,)), 0.6, None)
    new, pruned = sparsegpt(w, x.T @ x, blocks, blocksize=30)
    runs = pruned.reshape(16, 4, 5)
    assert np.all(runs.all(axis=1) | ~runs.any(axis=1))  # each block of 4 all or nothing
    assert int(pruned.sum()) == 4 * round(0.6 * 80)


def test_n_m_runs_along_the_input_axis_of_an_attention_kernel_are_valid():
    # A query kernel [features, heads, dim] (3 heads): NM laid along its input axis, the
    # features, read as [heads, features, dim].
    view = LinearView((16, 3, 2), (0,))
    x, _ = layer_problem(n_in=16)
    kernel = RNG.normal(size=(16, 3, 2))
    choice = MaskChoice(NM(2, 4).along((1, 0, 2)), view, 0.5, None)
    _, pruned = sparsegpt(view.matrix(kernel), x.T @ x, choice, blocksize=8)
    assert np.all(view.kernel(pruned).reshape(4, 4, 3, 2).sum(axis=1) == 2)


def test_the_first_feature_pruned_alone_gets_the_exact_obs_update():
    x, w = layer_problem(n_in=10, n_out=3)
    mask = np.zeros(w.shape, dtype=bool)
    mask[0, :] = True  # the first feature, in every column: all others are still to come
    new, _ = sparsegpt(w, x.T @ x, FixedMask(mask), dampening=1e-12)
    inverse = np.linalg.inv(x.T @ x)
    for column in range(3):
        np.testing.assert_allclose(new[:, column], remove_one(w[:, column], inverse, 0),
                                   rtol=1e-6, atol=1e-9)


def test_lazy_blocks_give_the_updates_of_one_feature_at_a_time():
    x, w = layer_problem(n_in=40)
    mask = RNG.random(w.shape) < 0.5
    results = [sparsegpt(w, x.T @ x, FixedMask(mask), blocksize=b)[0] for b in (1, 6, 40)]
    for result in results[1:]:
        np.testing.assert_allclose(result, results[0], atol=1e-9)


def test_updates_make_up_for_the_pruned_weights():
    x, w = layer_problem(n_in=64)
    gram = x.T @ x
    choice = MaskChoice(Unstructured(), LinearView(w.shape, (0,)), 0.5, None)
    new, pruned = sparsegpt(w, gram, choice)
    zeroed = np.where(pruned, 0.0, w)  # the same mask without updates
    magnitude = np.abs(w) <= np.median(np.abs(w))
    assert loss(x, w, new) < 0.7 * loss(x, w, zeroed)
    assert loss(x, w, new) < 0.9 * loss(x, w, np.where(magnitude, 0.0, w))
    # ... and never better than the exact least-squares refit of each column on its mask
    for column in range(w.shape[1]):
        kept = ~pruned[:, column]
        best, *_ = np.linalg.lstsq(x[:, kept], x @ w[:, column], rcond=None)
        refit = np.zeros(len(w))
        refit[kept] = best
        assert loss(x, w[:, column], refit) <= loss(x, w[:, column], new[:, column]) + 1e-6


def test_pruned_weights_stay_pruned_and_inputs_that_never_fire_go_first():
    x, w = layer_problem(n_in=32)
    x[:, 5] = 0.0  # feature 5 is never on: its weights cost nothing
    mask = np.ones(w.shape, "float32")
    mask[10, :] = 0.0
    w[10, :] = 0.0
    choice = MaskChoice(Unstructured(), LinearView(w.shape, (0,)), 0.25, mask)
    _, pruned = sparsegpt(w, x.T @ x, choice, blocksize=8)
    assert pruned[10].all() and pruned[5].all()
    assert int(pruned.sum()) == round(0.25 * w.size)


def test_statistics_holding_nan_are_refused_rather_than_dampened_forever():
    from kerasprune.oneshot.sparsegpt import inverse_factor

    gram = np.eye(4)
    gram[1, 1] = np.inf
    with pytest.raises(ValueError, match="X\\^T X hold NaN or Inf"):
        inverse_factor(gram, 0.01)


def test_the_factor_is_the_upper_cholesky_of_the_inverse_and_the_dampening_grows_until_it_factors():
    from kerasprune.oneshot.obs import dampened
    from kerasprune.oneshot.sparsegpt import inverse_factor

    x, _ = layer_problem(n_in=12, samples=200)
    gram = x.T @ x
    upper, dead = inverse_factor(gram, 0.01)
    assert np.all(np.tril(upper, -1) == 0) and np.all(np.diag(upper) > 0) and not dead.any()
    np.testing.assert_allclose(upper.T @ upper, np.linalg.inv(dampened(gram, 0.01)[0]),
                               rtol=1e-9, atol=1e-12)
    singular = x[:3].T @ x[:3]  # rank 3 of 12: Cholesky fails undampened, then at 1e-6
    upper, _ = inverse_factor(singular, 0.0)
    np.testing.assert_allclose(upper.T @ upper, np.linalg.inv(dampened(singular, 1e-6)[0]),
                               rtol=1e-6)


def test_in_place_the_factor_holds_at_most_two_more_grams_of_numpy_memory():
    import tracemalloc

    from kerasprune.oneshot.sparsegpt import inverse_factor

    x, _ = layer_problem(n_in=200, samples=400)
    gram = x.T @ x
    expected, _ = inverse_factor(gram, 0.01)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        upper, _ = inverse_factor(gram, 0.01, overwrite=True)  # gram becomes the dampened H
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(upper, expected, rtol=1e-12, atol=1e-15)
    assert peak <= 2.2 * gram.nbytes  # the factor and one intermediate; no copy of H
