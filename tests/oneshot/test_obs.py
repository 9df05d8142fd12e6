"""Optimal Brain Surgeon's closed forms against brute-force least squares."""

import itertools

import numpy as np
import pytest

from kerasprune.oneshot.obs import dampened, remove_inputs, remove_one, saliencies

RNG = np.random.default_rng(0)


def problem(n=6, samples=40):
    """A least-squares layer: correlated inputs X, one output column w."""
    mixing = RNG.normal(size=(n, n))
    x = RNG.normal(size=(samples, n)) @ mixing
    return x, RNG.normal(size=n)


def refit_without(x, w, removed):
    """Brute force: the best remaining weights for reproducing x @ w, and the loss."""
    kept = [j for j in range(len(w)) if j not in removed]
    solution, *_ = np.linalg.lstsq(x[:, kept], x @ w, rcond=None)
    full = np.zeros_like(w)
    full[kept] = solution
    return full, float(np.sum(np.square(x @ w - x @ full)))


@pytest.mark.parametrize("seed", range(5))
def test_obs_removes_the_weight_brute_force_would_and_updates_to_the_exact_solution(seed):
    global RNG
    RNG = np.random.default_rng(seed)
    x, w = problem()
    inverse = np.linalg.inv(x.T @ x)
    losses = [refit_without(x, w, {q})[1] for q in range(len(w))]
    scores = saliencies(w, inverse)
    assert int(np.argmin(scores)) == int(np.argmin(losses))
    np.testing.assert_allclose(scores, losses, rtol=1e-6)  # the saliency is the loss increase
    best = int(np.argmin(scores))
    np.testing.assert_allclose(remove_one(w, inverse, best), refit_without(x, w, {best})[0],
                               atol=1e-8)


def test_removing_a_set_of_inputs_from_every_column_is_their_least_squares_refit():
    x, _ = problem(n=7)
    matrix = RNG.normal(size=(7, 3))
    inverse = np.linalg.inv(x.T @ x)
    for removed in itertools.combinations(range(7), 3):
        mask = np.isin(np.arange(7), removed)
        refit = remove_inputs(matrix, inverse, mask)
        for column in range(3):
            expected, _ = refit_without(x, matrix[:, column], set(removed))
            np.testing.assert_allclose(refit[:, column], expected, atol=1e-8)


def test_dampening_adds_to_the_diagonal_and_marks_inputs_that_never_fire():
    gram = np.array([[4.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    hessian, dead = dampened(gram, 0.1)
    assert dead.tolist() == [False, False, True]
    mean_diagonal = (4.0 + 2.0 + 1.0) / 3  # the dead feature counts with 1
    np.testing.assert_allclose(np.diag(hessian), np.array([4.0, 2.0, 1.0]) + 0.1 * mean_diagonal)
    assert hessian[0, 1] == 1.0 and gram[2, 2] == 0.0  # off-diagonal kept, input not changed


def test_dampening_in_place_reuses_the_matrix():
    gram = np.array([[4.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    copied, _ = dampened(gram, 0.1)
    hessian, dead = dampened(gram, 0.1, overwrite=True)
    assert hessian is gram and dead.tolist() == [False, False, True]
    np.testing.assert_array_equal(hessian, copied)
