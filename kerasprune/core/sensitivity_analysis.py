"""`sensitivity(model, x, y)`: how much each layer alone tolerates pruning.

Each prunable layer is pruned on its own, one-shot, to each sparsity of a grid, the model
is evaluated, and the layer's weights and masks are put back bit for bit before the next
measurement; one pruning-ready copy of the model serves every measurement. The result
holds one curve per layer (the metric's drop against sparsity) and turns them into
per-layer sparsities for a model-wide target with the least predicted drop
(`SensitivityResult.overrides`), ready for `prune(..., sparsity_overrides=...)`.

The prediction assumes the layers' drops add up, as sensitivity-guided pruning
(Han et al., 2015; Distiller) does; the allocation is the optimum of that additive model
over the lower convex hull of the measured curves, so it reaches the target exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import keras
import numpy as np

from kerasprune.core.criterion_data import CriterionData, needed_data
from kerasprune.core.mask_update import update, write_masks
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.selectors import LayerTargets
from kerasprune.core.validation import (
    check_model,
    check_samples,
    check_sparsity,
    check_verbose,
    require_targets,
)
from kerasprune.core.wrapping import prune

DEFAULT_SPARSITIES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
_LOWER_IS_BETTER = ("loss", "error", "crossentropy", "hinge", "divergence")


@dataclass(frozen=True)
class SensitivityResult:
    """Per-layer sensitivity curves: the metric's drop when one layer alone is pruned.

    `drops[layer][i]` is how much worse `metric` got (positive = worse, whatever the
    metric's direction) with `layer` pruned to `sparsities[i]` and every other layer
    dense; `sizes[layer]` is its number of prunable weights.
    """

    metric: str
    baseline: float
    sparsities: tuple[float, ...]
    drops: dict[str, np.ndarray]
    sizes: dict[str, int]

    def overrides(self, target: float) -> dict[str, float]:
        """Per-layer sparsities reaching the model-wide `target` with the least predicted drop.

        Pass them to `kerasprune.prune(model, sparsity_overrides=...)` and prune to
        `target`: each layer then ends at its own sparsity and the model at `target`.

        Example:

        >>> import numpy as np
        >>> result = SensitivityResult("loss", 0.1, (0.5, 0.9), {
        ...     "fragile": np.array([0.5, 2.0]), "robust": np.array([0.0, 0.1])},
        ...     {"fragile": 100, "robust": 100})
        >>> {k: round(v, 3) for k, v in result.overrides(0.5).items()}
        {'fragile': 0.1, 'robust': 0.9}
        """
        target = check_sparsity("target", target)
        budget = target * sum(self.sizes.values())
        reachable = sum(self.sparsities[-1] * n for n in self.sizes.values())
        if budget > reachable + 1e-9:
            raise ValueError(
                f"`target`={target} needs more pruning than the largest measured sparsity "
                f"({self.sparsities[-1]}) gives every layer. Measure higher sparsities."
            )
        pruned = {layer: 0.0 for layer in self.sizes}
        segments = [(slope, order, layer, width)
                    for order, layer in enumerate(self.sizes)
                    for slope, width in _hull_segments(self._points(layer))]
        left = budget
        for _, _, layer, width in sorted(segments):
            if left <= 0:
                break
            take = min(width, left)
            pruned[layer] += take
            left -= take
        return {layer: float(min(pruned[layer] / self.sizes[layer], self.sparsities[-1]))
                for layer in self.sizes}

    def predicted_drop(self, sparsities: dict[str, float]) -> float:
        """The additive model's drop for per-layer `sparsities` (linear between points).

        Example:

        >>> result = SensitivityResult("loss", 0.1, (0.5,), {"a": np.array([0.4])}, {"a": 10})
        >>> round(result.predicted_drop({"a": 0.25}), 3)
        0.2
        """
        grid = (0.0, *self.sparsities)
        return float(sum(np.interp(s, grid, (0.0, *self.drops[layer]))
                         for layer, s in sparsities.items()))

    def plot(self, ax=None):
        """Deprecated: `kerasprune.plot.sensitivity(result)` draws the curves."""
        import warnings

        from kerasprune import plot
        from kerasprune.core.caller import user_stacklevel
        from kerasprune.core.deprecation import REMOVED_IN

        warnings.warn(f"SensitivityResult.plot is deprecated and will be removed in kerasprune "
                      f"{REMOVED_IN}: use kerasprune.plot.sensitivity(result).",
                      DeprecationWarning, stacklevel=user_stacklevel())
        return plot.sensitivity(self, ax=ax)

    def _points(self, layer: str) -> np.ndarray:
        x = np.array((0.0, *self.sparsities)) * self.sizes[layer]
        return np.stack([x, np.array((0.0, *self.drops[layer]))], axis=1)

    def __str__(self) -> str:
        width = max(len("layer"), *(len(layer) for layer in self.drops))
        header = f"{'layer':<{width}}  " + "  ".join(f"{s:>8.0%}" for s in self.sparsities)
        lines = [f"{self.metric} drop when one layer alone is pruned "
                 f"(baseline {self.baseline:.4f})", header]
        lines += [f"{layer:<{width}}  " + "  ".join(f"{d:>8.4f}" for d in drops)
                  for layer, drops in self.drops.items()]
        return "\n".join(lines)


def _hull_segments(points: np.ndarray) -> list[tuple[float, float]]:
    """`(slope, width)` of the lower convex hull of points sorted by x, from the first."""
    hull: list[np.ndarray] = []
    for point in points:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) <= 0:
            hull.pop()
        hull.append(point)
    return [((b[1] - a[1]) / (b[0] - a[0]), b[0] - a[0])
            for a, b in zip(hull, hull[1:]) if b[0] > a[0]]


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def sensitivity(
    model: keras.Model,
    x,
    y,
    sparsities: Sequence[float] = DEFAULT_SPARSITIES,
    *,
    metric: str = "loss",
    batch_size: int = 256,
    verbose: int = 1,
    **prune_kwargs,
) -> SensitivityResult:
    """Prune each layer alone, one-shot, to each sparsity and record the metric's drop.

    A plain model is copied once with `kerasprune.prune(model, **prune_kwargs)` and
    compiled like `model` (which must be compiled); a pruning-ready model is measured in
    place. Either way every layer's weights and masks are restored bit for bit after each
    measurement, so the measured model ends exactly as it started.

    Args:
        model: a compiled Keras model (plain or pruning-ready).
        x: evaluation inputs (held-out data).
        y: their targets.
        sparsities: increasing sparsities in (0, 1) at which each layer is measured.
        metric: `"loss"` or the name of a compiled metric (e.g. `"accuracy"`). The drop is
            positive when the model gets worse: loss-like names ("loss", "error",
            "crossentropy", ...) are lower-is-better, others higher-is-better.
        batch_size: evaluation batch size.
        verbose: 1 shows a progress bar, 0 nothing.
        **prune_kwargs: `kerasprune.prune` options for the copy (`layers`, `exclude`,
            `pattern`, `block_shape`).

    Returns:
        A `SensitivityResult`; `.overrides(target)` gives per-layer sparsities.

    Example:

    >>> import keras, numpy as np, kerasprune
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="a"),
    ...                           keras.layers.Dense(2, name="b")])
    >>> model.compile(loss="mse")
    >>> x, y = np.random.rand(64, 8), np.random.rand(64, 2)
    >>> result = kerasprune.sensitivity(model, x, y, sparsities=(0.5, 0.9), verbose=0)
    >>> sorted(result.drops), sorted(result.overrides(0.8))
    (['a', 'b'], ['a', 'b'])
    """
    sparsities = _check_sparsities(sparsities)
    verbose = check_verbose(verbose, levels=(0, 1, 2))
    if not isinstance(metric, str):
        raise ValueError(f"`metric` must be 'loss' or the name of one of the model's compiled "
                         f"metrics. Received: metric={metric!r}")
    work = _measured_model(model, prune_kwargs)
    data = CriterionData(x, y, batch_size=batch_size)
    require_targets(y)
    check_samples(model, x if isinstance(x, (dict, list, tuple)) else np.asarray(x), "x")
    criterion_data = data.for_update(work) if needed_data(work) else {}

    def evaluate() -> float:
        values = work.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        if metric not in values:
            raise ValueError(
                f"`metric` must be 'loss' or one of the model's compiled metrics "
                f"{sorted(values)}. Received: metric={metric!r}"
            )
        return float(values[metric])

    baseline = evaluate()
    sign = -1.0 if any(word in metric for word in _LOWER_IS_BETTER) else 1.0
    wrappers = [w for w in prune_wrappers(work) if w.follows is None]
    followers = [w for w in prune_wrappers(work) if w.follows is not None]
    progress = keras.utils.Progbar(len(wrappers) * len(sparsities), verbose=verbose,
                                   stateful_metrics=["layer", "sparsity", "drop"],
                                   unit_name="measurement")
    drops = {}
    for wrapper in wrappers:
        own_followers = [f for f in followers if f.follows == wrapper.layer.name]
        saved = _snapshot([wrapper, *own_followers])
        curve = []
        for s in sparsities:
            update(work, LayerTargets({wrapper: s}, **criterion_data), s)
            curve.append(sign * (baseline - evaluate()))
            write_masks(saved)
            progress.add(1, [("layer", len(drops) + 1), ("sparsity", s), ("drop", curve[-1])])
        drops[wrapper.layer.name] = np.array(curve)
    sizes = {w.layer.name: sum(int(np.prod(v.shape)) for v in w.pruned_weights)
             for w in wrappers}
    return SensitivityResult(metric, baseline, sparsities, drops, sizes)


def _check_sparsities(sparsities) -> tuple[float, ...]:
    values = tuple(sparsities) if isinstance(sparsities, (list, tuple, np.ndarray)) else None
    if not values:
        raise ValueError(
            "`sparsities` must be a non-empty list of increasing floats in (0, 1). "
            f"Received: sparsities={sparsities!r}"
        )
    values = tuple(check_sparsity("sparsities", s, allow_zero=False) for s in values)
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(
            f"`sparsities` must be increasing. Received: sparsities={list(values)}"
        )
    return values


def _measured_model(model, prune_kwargs) -> keras.Model:
    check_model(model)
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if config is None:
        raise ValueError(
            f"Model '{model.name}' is not compiled: compile it with the loss (and metrics) "
            "that sensitivity should measure."
        )
    if prune_wrappers(model):
        if prune_kwargs:
            raise ValueError(
                "The model is already pruning-ready; its wrappers decide what is pruned. "
                f"Received extra options: {sorted(prune_kwargs)}"
            )
        return model
    work = prune(model, **prune_kwargs)
    work.compile_from_config(config)
    return work


def _snapshot(wrappers: list) -> list[tuple]:
    """`(wrapper, masks, weights)` of each wrapper now, for `write_masks` to put back."""
    return [(w, [np.array(m) for m in w.masks], [np.array(v) for v in w.pruned_weights])
            for w in wrappers]
