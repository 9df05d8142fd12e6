"""`plot_sensitivity(result)`: the per-layer sensitivity curves as a matplotlib Figure.

matplotlib is imported when a plot is drawn, never when kerasprune is imported.
"""

from __future__ import annotations


def plot_sensitivity(result, ax=None, *, target: float | None = None):
    """Draw one curve per layer: the metric's drop against that layer's sparsity.

    Args:
        result: a `kerasprune.SensitivityResult`.
        ax: a matplotlib Axes to draw on; a new Figure is made when None.
        target: if given, mark each layer's sparsity from `result.overrides(target)`.

    Returns:
        The matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> from kerasprune.core.sensitivity_analysis import SensitivityResult
    >>> result = SensitivityResult("loss", 0.1, (0.5, 0.9),
    ...     {"conv": np.array([0.0, 0.3]), "dense": np.array([0.0, 0.05])},
    ...     {"conv": 300, "dense": 3000})
    >>> figure = plot_sensitivity(result, target=0.8)
    >>> [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    ['conv', 'dense']
    """
    if ax is None:
        from matplotlib.figure import Figure  # no pyplot: no global state, no backend

        figure = Figure(figsize=(6, 4))
        ax = figure.add_subplot()
    else:
        figure = ax.figure
    grid = (0.0, *result.sparsities)
    chosen = result.overrides(target) if target is not None else {}
    for layer, drops in result.drops.items():
        (line,) = ax.plot(grid, (0.0, *drops), marker="o", label=layer)
        if layer in chosen:
            s = chosen[layer]
            ax.plot([s], [result.predicted_drop({layer: s})], marker="*", markersize=12,
                    color=line.get_color(), linestyle="none")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("sparsity of the layer (others dense)")
    ax.set_ylabel(f"{result.metric} drop")
    title = "Layer sensitivity"
    ax.set_title(title if target is None else f"{title}; stars: allocation for {target:.0%}")
    ax.legend(fontsize="small")
    return figure

