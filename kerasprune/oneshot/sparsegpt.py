"""SparseGPT (Frantar & Alistarh 2023): OBS with lazy column blocks, on one weight matrix.

The weights `W` (`[in_features, out_features]`, the linear view of a kernel) are visited
one input feature (a row of `W`, a column of the paper's `[out, in]` matrix) at a time,
in blocks of `blocksize` features. With `U` the upper Cholesky factor of `H^-1`
(`H = X^T X` dampened), pruning the weights of feature `i` in the rows it prunes and
moving the error `(w - q) / U_ii` onto the features not yet visited through `U[i, i:]` is
OBS's optimal update restricted to those features; block by block, the updates of later
blocks are applied at once (one matrix product). The mask is chosen adaptively: at each
block's start (for N:M, as soon as the sweep reaches each run), by the OBS saliency
`w^2 / U_ii^2` of the weights as updated so far, pooled into the pattern's groups, each
block pruning its share of the target (so the tensor reaches it exactly).
"""

from __future__ import annotations

import numpy as np

from kerasprune.core.linear_views import LinearView
from kerasprune.core.patterns import MaskPattern
from kerasprune.core.selection import select_pruned
from kerasprune.oneshot.obs import dampened
from kerasprune.structured.channel_patterns import NM


class MaskChoice:
    """Which weights of one tensor SparseGPT prunes, window by window, in `pattern`'s groups.

    Args:
        pattern: a weight pattern (`Unstructured`, `Blocks`, `NM`).
        view: the tensor's linear view.
        target: the fraction of its weights pruned in the end (those already pruned
            count).
        mask: the current mask (the kernel's shape): what it prunes stays pruned and
            counts toward the target; None: chosen afresh.

    Example:

    >>> from kerasprune.core.patterns import Blocks
    >>> choice = MaskChoice(Blocks((2, 1)), LinearView((4, 1), (0,)), 0.5, None)
    >>> choice.cuts.tolist()       # block starts never split a (2, 1) block
    [0, 2, 4]
    """

    def __init__(self, pattern: MaskPattern, view: LinearView, target: float,
                 mask: np.ndarray | None):
        shape = view.kernel_shape
        self.pattern, self.view, self.target = pattern, view, float(target)
        scores, sizes = pattern.pool(np.zeros(shape, np.float32))
        self.sizes = np.broadcast_to(np.asarray(sizes), scores.shape)
        cells = int(np.prod(shape))
        per_cell = scores.size == cells
        ids = np.arange(cells).reshape(shape) if per_cell else pattern.group_ids(shape)
        self.groups = view.matrix(ids)  # the selection group of every weight, [in, out]
        self.units = view.matrix(pattern.group_ids(shape))  # weights decided together
        self.cuts = _cuts(self.units)
        self.first_row = np.full(scores.size, view.in_features)
        np.minimum.at(self.first_row, self.groups.ravel(),
                      np.repeat(np.arange(view.in_features), view.out_features))
        self.already = (np.zeros(scores.size, bool) if mask is None
                        else pattern.pruned_groups(np.asarray(mask, np.float32)))
        # N:M at its own sparsity prunes m - n weights of every run: each run is chosen
        # alone, once the sweep reaches it (the weights as updated up to there).
        self.per_run = isinstance(pattern, NM) and bool(np.isclose(target, pattern.sparsity))
        self.done = self.pruned = 0  # weights in the windows chosen so far, and pruned

    def windows(self, start: int, stop: int) -> list[int]:
        """Where choices happen inside the block `[start, stop)` (its start, or each run's)."""
        if self.per_run:
            return self.cuts[(self.cuts >= start) & (self.cuts < stop)].tolist()
        return [start]

    def block_end(self, start: int, blocksize: int) -> int:
        """The first allowed block end at least `blocksize` features after `start`."""
        ends = self.cuts[self.cuts >= start + blocksize]
        return int(ends[0]) if ends.size else self.view.in_features

    def choose(self, start: int, stop: int, scores: np.ndarray) -> np.ndarray:
        """The weights of features `[start, stop)` to prune (boolean, `[stop-start, out]`),
        from their saliency `scores` (same shape)."""
        if self.per_run:
            return self._choose_in_runs(start, stop, scores)
        owned = np.flatnonzero((self.first_row >= start) & (self.first_row < stop))
        full = np.zeros((self.view.in_features, self.view.out_features), np.float32)
        full[start:stop] = scores
        group_scores, _ = self.pattern.pool(self.view.kernel(full))
        sizes = self.sizes[owned]
        count = int(sizes.sum())
        # Each window prunes its share of the target, rounded so that the shares add up
        # to the tensor's exact count (`select_pruned`'s `round(s * n)`).
        self.done += count
        quota = max(int(round(self.target * self.done)) - self.pruned, 0)
        chosen = select_pruned(group_scores[owned], sizes, self.already[owned],
                               min(quota / count, 1.0) if count else 0.0)
        self.pruned += int(sizes[chosen].sum())
        flags = np.zeros(group_scores.size, dtype=bool)
        flags[owned[chosen]] = True
        return flags[self.groups[start:stop]]

    def _choose_in_runs(self, start, stop, scores):
        """The `m - n` lowest of every run of the rows `[start, stop)` (runs lie inside)."""
        runs = self.units[start:stop].ravel()
        flat = np.where(self.already[self.groups[start:stop]], -np.inf, scores).ravel()
        order = np.lexsort((np.arange(flat.size), flat, runs))  # by run, then score
        sorted_runs = runs[order]
        first = np.searchsorted(sorted_runs, sorted_runs, side="left")
        pruned = np.zeros(flat.size, dtype=bool)
        pruned[order[np.arange(flat.size) - first < self.pattern.m - self.pattern.n]] = True
        return pruned.reshape(scores.shape)


def sparsegpt(matrix: np.ndarray, gram: "np.ndarray | tuple", choice: MaskChoice, *,
              blocksize: int = 128, dampening: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Prune `matrix` (`[in, out]`) given its inputs' `gram` (`X^T X`, or its
    `inverse_factor`: computed once for the matrices that read the same inputs); returns
    the new matrix (pruned weights exactly 0, the others updated) and the pruned weights.

    Example:

    >>> from kerasprune.core.patterns import Unstructured
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.normal(size=(64, 8)), rng.normal(size=(8, 4))
    >>> choice = MaskChoice(Unstructured(), LinearView((8, 4), (0,)), 0.5, None)
    >>> new, pruned = sparsegpt(w, x.T @ x, choice)
    >>> int(pruned.sum()), bool(np.all(new[pruned] == 0))
    (16, True)
    """
    upper, dead = gram if isinstance(gram, tuple) else inverse_factor(gram, dampening)
    weights = np.array(matrix, dtype=np.float64)
    pruned = np.zeros(weights.shape, dtype=bool)
    n = weights.shape[0]
    start = 0
    while start < n:
        stop = choice.block_end(start, blocksize)
        block, factor = weights[start:stop].copy(), upper[start:stop, start:stop]
        errors = np.zeros_like(block)
        windows = choice.windows(start, stop) + [stop]
        for w_start, w_stop in zip(windows[:-1], windows[1:]):
            rows = slice(w_start - start, w_stop - start)
            scores = np.square(block[rows]) / np.square(np.diag(factor)[rows])[:, None]
            scores[dead[w_start:w_stop]] = 0.0  # an input that is always zero costs nothing
            pruned[w_start:w_stop] = choice.choose(w_start, w_stop, scores)
            for r in range(rows.start, rows.stop):
                kept = np.where(pruned[start + r], 0.0, block[r])
                errors[r] = (block[r] - kept) / factor[r, r]
                block[r:] -= np.outer(factor[r, r:], errors[r])
                block[r] = kept
        weights[start:stop] = block
        weights[stop:] -= upper[start:stop, stop:].T @ errors
        start = stop
    return weights, pruned


#: Tenfold dampening increases tried before giving up on factoring `H`.
MAX_DAMPENINGS = 16


def inverse_factor(gram: np.ndarray, dampening: float, *,
                   overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`(U, dead)`: the upper Cholesky factor of the dampened `H^-1` (`H^-1 = U^T U`) and
    the features whose input was always zero. The dampening grows tenfold until the
    factorization succeeds (a nearly singular `H` from too few samples); a `H` holding
    NaN or Inf (inputs that overflowed) is refused, since no dampening can fix it.
    `overwrite`: `gram` is dampened in place (see `dampened`) rather than copied.

    One Cholesky factorization and one triangular inverse: with `J` the reversal of the
    features, `J H J = L L^T` gives `H = R R^T` for the upper triangular `R = J L J`, so
    `H^-1 = R^-T R^-1` and `U = R^-1 = J L^-1 J` (upper, positive diagonal: the factor).

    Example:

    >>> gram = np.array([[4.0, 2.0], [2.0, 3.0]])
    >>> upper, _ = inverse_factor(gram, 0.0)
    >>> bool(np.allclose(upper.T @ upper, np.linalg.inv(gram)))
    True
    """
    if not np.isfinite(gram).all():
        raise ValueError(
            "SparseGPT's input statistics X^T X hold NaN or Inf: a layer's calibration "
            "inputs are not finite (or too large for float32). Pass finite `data` of a "
            "normal scale.")
    hessian, dead = dampened(gram, 0.0, overwrite=overwrite)
    diagonal = np.diag_indices_from(hessian)
    unit, added = float(np.mean(hessian[diagonal])), 0.0  # dampening is in mean diagonals
    for _ in range(MAX_DAMPENINGS):
        hessian[diagonal] += (dampening - added) * unit
        added = dampening
        try:
            lower_inverse = np.linalg.inv(np.linalg.cholesky(hessian[::-1, ::-1]))
        except np.linalg.LinAlgError:
            dampening = max(dampening * 10, 1e-6)
            continue
        return np.ascontiguousarray(lower_inverse[::-1, ::-1]), dead
    raise ValueError(
        f"SparseGPT could not factor X^T X even dampened by {dampening:g} times its mean "
        "diagonal: the calibration inputs are degenerate. Pass more (and varied) `data`.")


def _cuts(units: np.ndarray) -> np.ndarray:
    """The features where a block may start: no unit spans across them."""
    n = units.shape[0]
    flat = units.ravel()
    rows = np.repeat(np.arange(n), units.shape[1])
    size = int(flat.max()) + 1
    first, last = np.full(size, n), np.full(size, -1)
    np.minimum.at(first, flat, rows)
    np.maximum.at(last, flat, rows)
    spanned = np.zeros(n + 2, dtype=np.int64)
    used = last >= 0
    np.add.at(spanned, first[used] + 1, 1)
    np.add.at(spanned, last[used] + 1, -1)
    inside = np.cumsum(spanned)[: n + 1] > 0
    return np.flatnonzero(~inside)
