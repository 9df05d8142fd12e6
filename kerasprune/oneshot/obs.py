"""Optimal Brain Surgeon on one layer: the closed forms SparseGPT and reconstruction use.

For a linear layer `X @ W` (`W`: `[in_features, out_features]`) and the layer-wise loss
`||X W - X W'||^2`, the Hessian of every output column is `H = 2 X^T X` (the factor 2
cancels below, so `gram = X^T X` is used). Removing input `q` of a column `w` and
updating the others optimally (Hassibi & Stork 1993) increases that loss by
`w_q^2 / [H^-1]_qq` and changes the column by `-w_q / [H^-1]_qq * H^-1[:, q]`; removing a
set `R` of inputs from every column changes `W` by `-H^-1[:, R] [H^-1]_RR^-1 W_R`. Each
is the exact least-squares solution for the weights that remain.
"""

from __future__ import annotations

import numpy as np


def dampened(gram: np.ndarray, dampening: float, *,
             overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`(H, dead)`: `gram` with `dampening` times its mean diagonal added to the diagonal
    (so that it is invertible with few samples), and the features whose input was always
    zero (`dead`; their diagonal set to 1: their weights do not matter). `overwrite`:
    `gram` (float64) becomes `H` in place, for a caller that no longer needs it (a large
    layer's `X^T X` is not copied)."""
    gram = gram if overwrite else np.array(gram, dtype=np.float64)
    dead = np.diag(gram) == 0
    gram[dead, dead] = 1.0
    diagonal = np.diag(gram)
    gram[np.diag_indices_from(gram)] += dampening * float(np.mean(diagonal))
    return gram, dead


def saliencies(column: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """The loss increase `w_q^2 / [H^-1]_qq` of removing each weight of `column` alone
    (with the optimal update of the others).

    Example:

    >>> saliencies(np.array([1.0, 2.0]), np.array([[0.5, 0.0], [0.0, 2.0]])).tolist()
    [2.0, 2.0]
    """
    return np.square(column) / np.diag(inverse)


def remove_one(column: np.ndarray, inverse: np.ndarray, q: int) -> np.ndarray:
    """`column` with weight `q` removed and the others updated optimally."""
    updated = column - column[q] / inverse[q, q] * inverse[:, q]
    updated[q] = 0.0
    return updated


def remove_inputs(matrix: np.ndarray, inverse: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """`matrix` (`[in, out]`) with the input features `removed` (boolean over `in`) taken out
    of every column and the others updated optimally: the least-squares refit.

    Example:

    >>> x = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])   # 3 samples, 2 features
    >>> inverse = np.linalg.inv(x.T @ x)
    >>> remove_inputs(np.array([[1.0], [1.0]]), inverse, np.array([True, False])).tolist()
    [[0.0], [1.6666666666666665]]
    """
    removed = np.asarray(removed, dtype=bool)
    block = inverse[np.ix_(removed, removed)]
    updated = matrix - inverse[:, removed] @ np.linalg.solve(block, matrix[removed])
    updated[removed] = 0.0
    return updated
