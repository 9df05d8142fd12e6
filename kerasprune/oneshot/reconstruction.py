"""Reconstruction: refit the layers that consume removed channels, by least squares.

Removing channels (filters, units, heads) zeroes some input features of the layers after
them; without retraining, their outputs drift. Each such layer `X @ W + b` (its linear
view: Dense, EinsumDense, Conv1D/2D) is refit on calibration data to reproduce what the
dense model's layer computes from the dense model's inputs:

    min ||X_dense W_dense + b_dense - X_pruned W - b||^2 + lambda ||W - W_now||^2,

with `X_pruned` computed through the model already pruned and refit before it (layers in
call order), `lambda` a small dampening times the mean of `diag(X^T X)` (pulling an
underdetermined fit toward the current weights, not toward zero). When `X_pruned` is
`X_dense` with the removed features zeroed this is OBS's removal of those inputs with the
optimal update of the others (`kerasprune.oneshot.obs.remove_inputs`). A layer whose
inputs did not change is left as it is; a pruned layer keeps its removed outputs at zero.
Only the refit layers' weights change, never a mask.
"""

from __future__ import annotations

import numpy as np
import keras

from kerasprune.core.linear_views import linear_view
from kerasprune.core.model_walk import all_layers
from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.oneshot.calibration import Calibration


def reconstruct(pruned: keras.Model, dense: keras.Model, x, *, batch_size: int = 32,
                dampening: float = 0.01) -> list[str]:
    """Refit, in call order, every layer of `pruned` whose inputs differ from `dense`'s.

    Args:
        pruned: the model with channels removed (masks written), changed in place.
        dense: the same model before pruning (layers of the same names).
        x: calibration inputs.
        batch_size: examples per forward pass.
        dampening: the ridge strength, times the mean diagonal of `X^T X`.

    Returns:
        The names of the refit layers.

    Example:

    >>> import kerasprune
    >>> dense = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="a"),
    ...                           keras.layers.Dense(3, name="out")])
    >>> pruned = kerasprune.prune(dense, pattern=kerasprune.Channels(), exclude=["out"])
    >>> _ = kerasprune.update_masks(pruned, 0.5)
    >>> reconstruct(pruned, dense, np.random.default_rng(0).normal(size=(64, 6)))
    ['out']
    """
    layers = _linear_layers(pruned)
    dense_layers = {layer.name: layer for layer in all_layers(dense)}
    twins = {id(outer): dense_layers.get(layer.name) for layer, outer in layers}
    calibration = Calibration(pruned, x, batch_size=batch_size)
    reference = Calibration(dense, x, batch_size=batch_size)
    order = calibration.call_order([outer for _, outer in layers])
    reference.call_order([t for t in twins.values() if t is not None])
    inner = {id(outer): layer for layer, outer in layers}
    refit = []
    for outer in order:
        layer, twin = inner[id(outer)], twins[id(outer)]
        if twin is None or linear_view(twin) is None:
            continue
        if _refit(layer, outer, twin, calibration, reference, dampening):
            refit.append(layer.name)
    return refit


def _linear_layers(model) -> list[tuple]:
    """`(layer, what the model calls for it)`: every layer with a linear view, with its
    `PruneWrapper` when it is wrapped."""
    wrapped = {id(w.layer): w for w in all_layers(model) if isinstance(w, PruneWrapper)}
    return [(layer, wrapped.get(id(layer), layer)) for layer in all_layers(model)
            if not isinstance(layer, PruneWrapper) and linear_view(layer) is not None]


def _refit(layer, outer, twin, calibration, reference, dampening) -> bool:
    """Refit `layer` toward `twin` (its dense self); False when its inputs are unchanged
    (or its bias is not one value per output)."""
    view = linear_view(layer)
    bias, dense_b = _bias(layer, view), _bias(twin, view)
    if (bias is None) != (getattr(layer, "bias", None) is None):
        return False
    dense_w = view.matrix(np.asarray(twin.kernel, np.float64))
    size = view.in_features + int(bias is not None)
    gram, cross = np.zeros((size, size)), np.zeros((size, view.out_features))
    changed = False
    for now, before in zip(calibration.inputs(outer, [layer]), reference.inputs(twin, [twin])):
        for x_now, x_before in zip(now.get(id(layer), []), before.get(id(twin), [])):
            changed = changed or not np.array_equal(x_now, x_before)
            features = view.features(x_now).astype(np.float32)
            target = view.features(x_before) @ dense_w + (0.0 if dense_b is None else dense_b)
            if bias is not None:
                features = np.concatenate([features, np.ones((len(features), 1), np.float32)], 1)
            gram += (features.T @ features).astype(np.float64)
            cross += features.T.astype(np.float64) @ target
        if not changed:
            return False
    current = view.matrix(np.asarray(layer.kernel, np.float64))
    if bias is not None:
        current = np.concatenate([current, bias[None]], 0)
    ridge = dampening * float(np.mean(np.diag(gram)))
    solution = np.linalg.solve(gram + ridge * np.eye(size), cross + ridge * current)
    layer.kernel.assign(view.kernel(solution[: view.in_features]).astype(layer.kernel.dtype))
    if bias is not None:
        layer.bias.assign(solution[-1].reshape(layer.bias.shape).astype(layer.bias.dtype))
    if isinstance(outer, PruneWrapper):
        outer.apply_masks()  # a pruned layer's removed outputs stay exactly zero
    return True


def _bias(layer, view) -> np.ndarray | None:
    """The layer's bias as one value per output of its view, or None."""
    bias = getattr(layer, "bias", None)
    if bias is None or int(np.prod(bias.shape)) != view.out_features:
        return None
    return np.asarray(bias, np.float64).reshape(-1)
