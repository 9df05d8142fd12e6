"""Input statistics: `X^T X` of each pruned weight's linear view, over calibration batches.

A layer's Gram matrix `H = X^T X` (`X`: its input features, one row per position; im2col
for convolutions) is all that OBS, SparseGPT and least-squares reconstruction need of
the calibration data: `||X W - X W'||^2 = tr((W - W')^T H (W - W'))`. It is summed batch
by batch (each batch's product in float32, the sum in float64), so a layer's calibration
costs one `in_features x in_features` matrix, whatever the number of samples. Weights of
one pruned layer that read the same input (an attention's query, key and value
projections) share one matrix.
"""

from __future__ import annotations

import numpy as np

from kerasprune.core.linear_views import linear_view, weight_layers
from kerasprune.oneshot.calibration import Calibration


def weight_grams(calibration: Calibration, wrapper) -> list[np.ndarray]:
    """Per pruned weight of `wrapper`, the Gram matrix `X^T X` of its input features over
    the calibration data (computed through the model as it is now).

    Raises:
        ValueError: naming a weight without a linear view (see
            `kerasprune.core.linear_views`) or a layer the calibration data never reaches.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]))
    >>> x = np.array([[1.0, 2.0], [3.0, 0.0]])
    >>> weight_grams(Calibration(model, x), model.layers[0])[0].tolist()
    [[10.0, 2.0], [2.0, 4.0]]
    """
    pairs = weight_layers(wrapper)
    views = check_views(wrapper)
    layers = list({id(layer): layer for layer, _ in pairs}.values())
    grams: dict[int, np.ndarray] = {}
    owner = None  # per weight: the weight whose matrix it shares
    for batch in calibration.inputs(wrapper, layers):
        if owner is None:
            owner = _sharing(pairs, views, batch)
        for i in sorted(set(owner)):
            for inputs in batch.get(id(pairs[i][0]), []):
                features = views[i].features(inputs).astype(np.float32, copy=False)
                product = features.T @ features
                if i not in grams:
                    grams[i] = np.zeros(product.shape)
                grams[i] += product  # in place: no float64 copy of the product, no new sum
    missing = [f"{wrapper.layer.name}/{name}" for i, name in enumerate(wrapper.weight_names)
               if owner is None or owner[i] not in grams]
    if missing:
        raise ValueError(
            f"The calibration data never reaches the layers of {missing} (layer "
            f"'{wrapper.layer.name}'): the forward pass does not call them.")
    return [grams[owner[i]] for i in range(len(pairs))]


def check_views(wrapper) -> list:
    """The linear views of `wrapper`'s pruned weights; a weight without one is refused."""
    views = []
    for (layer, name), full_name in zip(weight_layers(wrapper), wrapper.weight_names):
        view = linear_view(layer, name)
        if view is None:
            raise ValueError(
                f"SparseGPT reads the input features of the weights it prunes; "
                f"'{wrapper.layer.name}/{full_name}' ({type(layer).__name__}) has none "
                "kerasprune knows (Dense, EinsumDense, Conv1D and Conv2D have). Exclude the "
                f"layer: exclude=[{wrapper.layer.name!r}] (embeddings are usually left "
                "dense).")
        views.append(view)
    return views


def _sharing(pairs, views, batch) -> list[int]:
    """Per weight, the first weight reading the same inputs through the same view."""
    owner = []
    for i, (layer, _) in enumerate(pairs):
        inputs = batch.get(id(layer), [])
        same = next((j for j in range(i) if views[j].signature == views[i].signature
                     and _equal(batch.get(id(pairs[j][0]), []), inputs)), i)
        owner.append(same)
    return owner


def _equal(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y)
                                    for x, y in zip(a, b))
