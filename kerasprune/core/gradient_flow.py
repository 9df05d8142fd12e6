"""Gradient flow at initialization: the data of GraSP and SynFlow, two weight criteria for
pruning before training (`kerasprune.core.weight_criteria`).

- `hessian_gradients`: GraSP's Hessian-gradient product `H g` (Wang et al., 2020), `g` the
  loss gradient of the pruned weights summed over a sample's batches, `H` the loss's
  Hessian over the same weights. It is a central finite difference of loss gradients,
  `(grad L(w + e g) - grad L(w - e g)) / 2e` (exact for a quadratic loss), so that it runs
  wherever loss gradients run (TensorFlow and JAX) without a second backward pass.
- `synflow_gradients`: SynFlow's `dR/dw` (Tanaka et al., 2020), data-free: `R` is the sum
  of the outputs of the network with every weight replaced by its absolute value, on an
  input of ones. A softmax output activation is left out of `R` (it would make the sum
  constant).

Both set the model's weights for the time of the computation and restore them exactly.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.criterion_data import loss_gradients
from kerasprune.core.gradients import output_gradients

#: Rounds of SynFlow's iterative pruning (the paper's 100), on an exponential schedule.
SYNFLOW_ROUNDS = 100
#: GraSP's finite-difference step, relative to the norm of the pruned weights.
RELATIVE_STEP = 1e-2


def hessian_gradients(model: keras.Model, x, y, wrappers: list, *,
                      batch_size: int = 64) -> dict[str, list[np.ndarray]]:
    """`{weight path: [H g]}` for the pruned weights of `wrappers` on the sample `(x, y)`.

    `g` is the loss gradient summed over the batches (zero where a mask prunes), `H g`
    summed over the batches too.

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]))
    >>> model.compile(loss="mse")
    >>> x, y = np.array([[1.0, 0.0], [0.0, 2.0]]), np.zeros((2, 1))
    >>> hg = hessian_gradients(model, x, y, kerasprune.prune_wrappers(model))
    >>> np.round(hg[model.layers[0].layer.kernel.path][0], 4).tolist()  # H = X^T X, g = H w
    [[1.0], [16.0]]
    """
    variables = [v for w in wrappers for v in w.pruned_weights]
    masks = [np.asarray(m) for w in wrappers for m in w.masks]
    paths = [v.path for v in variables]
    summed = {p: np.sum(g, axis=0) for p, g in loss_gradients(
        model, x, y, batch_size=batch_size, paths=paths).items()}
    direction = [summed[v.path] * m for v, m in zip(variables, masks)]
    norm = np.sqrt(sum(np.square(d).sum() for d in direction))
    if not norm > 0:
        return {p: [np.zeros_like(summed[p])] for p in paths}
    weights = [np.asarray(v) for v in variables]
    scale = np.sqrt(sum(np.square(w).sum() for w in weights))
    step = RELATIVE_STEP * max(float(scale), 1.0) / float(norm)
    sides = []
    with _restored(variables, weights):
        for sign in (1.0, -1.0):
            for variable, weight, d in zip(variables, weights, direction):
                variable.assign((weight + sign * step * d).astype(weight.dtype))
            sides.append(loss_gradients(model, x, y, batch_size=batch_size, paths=paths))
    return {p: [(np.sum(sides[0][p], axis=0) - np.sum(sides[1][p], axis=0)) / (2 * step)]
            for p in paths}


def synflow_gradients(model: keras.Model, wrappers: list, x=None) -> dict[str, list]:
    """`{weight path: [dR/dw]}` for the pruned weights of `wrappers` (data-free).

    `x`: an input sample, read only for its shape and dtype (default: the model's input
    shape, which must be known).

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(2, use_bias=False, kernel_initializer="ones"),
    ...     keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]))
    >>> grads = synflow_gradients(model, kerasprune.prune_wrappers(model))
    >>> grads[model.layers[0].layer.kernel.path][0].tolist()  # dR/dW1 = 1 (W2 = 1)
    [[1.0, 1.0], [1.0, 1.0]]
    """
    ones = _ones_input(model, x)
    variables = [v for w in wrappers for v in w.pruned_weights]
    every = [v for v in model.variables if "float" in str(v.dtype)]
    values = [np.asarray(v) for v in every]
    with _restored(every, values), _compat.linear_softmax_outputs(model):
        for variable, value in zip(every, values):
            variable.assign(np.abs(value))
        grads = output_gradients(model, ones, variables)
    return {v.path: [np.zeros(v.shape) if g is None else g] for v, g in zip(variables, grads)}


def synflow_targets(sparsity: float, rounds: int = SYNFLOW_ROUNDS) -> list[float]:
    """SynFlow's exponential schedule: after round `k` of `rounds` a density of
    `(1 - sparsity) ** (k / rounds)`.

    Example:

    >>> [round(s, 3) for s in synflow_targets(0.75, 2)]
    [0.5, 0.75]
    """
    return [1.0 - (1.0 - sparsity) ** (k / rounds) for k in range(1, rounds + 1)]


def _ones_input(model: keras.Model, x):
    if x is not None:
        return keras.tree.map_structure(lambda a: np.ones_like(np.asarray(a)[:1]), x)
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    shapes = [] if not inputs else [tuple(i.shape[1:]) for i in inputs]
    if not shapes or any(None in s for s in shapes):
        raise ValueError(
            "The 'synflow' criterion runs the model on an input of ones, and the shape of "
            f"model '{model.name}''s input is not known: pass `data=(x,)` to one_shot_prune "
            "or `data=kerasprune.CriterionData(x)` to the callback (read for the shape only).")
    ones = [np.ones((1, *s), dtype=i.dtype) for s, i in zip(shapes, inputs)]
    return ones[0] if len(ones) == 1 else ones


@contextlib.contextmanager
def _restored(variables: list, values: list):
    try:
        yield
    finally:
        for variable, value in zip(variables, values):
            variable.assign(value)
