"""Group criteria: one importance score per output channel, unit or attention head.

A channel of a weight is the slice at one index of its channel axis: the last axis of a
Dense/EinsumDense/Conv kernel (`[..., in, out]`: a filter or unit) and axis -2 of a
depthwise kernel (`[h, w, channels, 1]`). Scores (higher = more important):

- `"l1"`: sum of |w| over the channel; `"l2"`: its Euclidean norm;
- `"taylor"`: |sum over the channel of gradient x weight|, the first-order Taylor
  estimate of the loss change when the channel is removed (Molchanov et al., 2019),
  with the gradient of the loss over a batch of data (see `TaylorImportance`);
- `"random"`: a fixed random order, the baseline every criterion must beat.
"""

from __future__ import annotations

import numpy as np
import keras
import tensorflow as tf

CRITERIA = ("l1", "l2", "taylor", "random")


def channel_axis(shape: tuple[int, ...]) -> int:
    """The axis of a kernel that indexes its output channels.

    The last axis, except for depthwise kernels `[..., channels, 1]` (rank >= 3 with a
    last axis of 1), whose channels are on axis -2.

    Example:

    >>> channel_axis((3, 3, 16, 32)), channel_axis((3, 3, 16, 1))
    (3, 2)
    """
    if len(shape) == 0:
        raise ValueError("A scalar weight has no channels. Received: shape=()")
    if len(shape) >= 3 and shape[-1] == 1:
        return len(shape) - 2
    return len(shape) - 1


def by_channel(array: np.ndarray, axis: int) -> np.ndarray:
    """`array` reshaped to `(channels, weights per channel)`.

    Example:

    >>> by_channel(np.zeros((5, 3)), 1).shape
    (3, 5)
    """
    return np.moveaxis(np.asarray(array), axis, 0).reshape(array.shape[axis], -1)


def channel_scores(
    weight: np.ndarray,
    criterion: str = "l1",
    *,
    axis: int | None = None,
    gradient: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """One importance score per channel of `weight` (higher = keep).

    Args:
        weight: a kernel.
        criterion: one of `"l1"`, `"l2"`, `"taylor"`, `"random"`.
        axis: the channel axis; default `channel_axis(weight.shape)`.
        gradient: the loss gradient w.r.t. `weight` (same shape); needed for `"taylor"`.
        seed: seed of the `"random"` order.

    Example:

    >>> w = np.array([[1.0, 0.0, -2.0], [1.0, 0.0, 2.0]])
    >>> channel_scores(w, "l1").tolist(), channel_scores(w, "l2").round(3).tolist()
    ([2.0, 0.0, 4.0], [1.414, 0.0, 2.828])
    """
    weight = np.asarray(weight, dtype=np.float64)
    axis = channel_axis(weight.shape) if axis is None else axis % weight.ndim
    groups = by_channel(weight, axis)
    if criterion == "l1":
        return np.abs(groups).sum(axis=1)
    if criterion == "l2":
        return np.sqrt(np.square(groups).sum(axis=1))
    if criterion == "random":
        # Same order on every call (the masks only grow), zero for channels already gone.
        order = np.random.default_rng([seed, *weight.shape]).random(groups.shape[0])
        return np.where(groups.any(axis=1), order + 1e-3, 0.0)
    if criterion == "taylor":
        if gradient is None or np.shape(gradient) != weight.shape:
            raise ValueError(
                "The 'taylor' criterion needs the loss gradient of the weight, of the same "
                f"shape {weight.shape}. Received: gradient of shape "
                f"{None if gradient is None else np.shape(gradient)}. Add a "
                "kerasprune.channel_scores.TaylorImportance callback before the pruning "
                "callback."
            )
        products = by_channel(weight * np.asarray(gradient, dtype=np.float64), axis)
        return np.abs(products.sum(axis=1))
    raise ValueError(f"`criterion` must be one of {CRITERIA}. Received: criterion={criterion!r}")


def head_scores(layer: keras.layers.MultiHeadAttention, criterion: str = "l1") -> np.ndarray:
    """One score per attention head of a built `MultiHeadAttention` layer.

    Sums the head's channel scores over the query, key, value and output projections
    (query/key/value kernels are `[d_model, heads, head_dim]`, the output kernel
    `[heads, head_dim, d_model]`). `"taylor"` is not available here.

    Example:

    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.zeros((1, 3, 8), "float32")
    >>> _ = mha(x, x)
    >>> head_scores(mha).shape
    (2,)
    """
    if not isinstance(layer, keras.layers.MultiHeadAttention) or not layer.built:
        raise TypeError(
            "`layer` must be a built keras.layers.MultiHeadAttention. "
            f"Received: layer={layer!r}"
        )
    if criterion not in ("l1", "l2", "random"):
        raise ValueError(
            f"`criterion` must be 'l1', 'l2' or 'random' for heads. Received: criterion={criterion!r}"
        )
    projections = [(layer._query_dense, 1), (layer._key_dense, 1), (layer._value_dense, 1),
                   (layer._output_dense, 0)]
    return sum(channel_scores(np.asarray(p.kernel), criterion, axis=axis)
               for p, axis in projections)


def loss_gradients(model: keras.Model, x, y, *, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Gradients of `model`'s compiled loss over `(x, y)` for every trainable variable.

    Returns a dict from variable path to the gradient summed over the batches.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss="mse")
    >>> grads = loss_gradients(model, np.ones((4, 3)), np.zeros((4, 2)))
    >>> grads[model.layers[0].kernel.path].shape
    (3, 2)
    """
    if getattr(model, "loss", None) is None:
        raise ValueError(
            f"Model '{model.name}' has no loss: compile it before computing Taylor scores."
        )
    variables = model.trainable_variables
    totals = [np.zeros(v.shape, dtype=np.float64) for v in variables]
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with tf.GradientTape() as tape:
            y_pred = model(xb, training=False)
            loss = model.compute_loss(x=xb, y=yb, y_pred=y_pred, training=False)
        for total, grad in zip(totals, tape.gradient(loss, [v.value for v in variables])):
            if grad is not None:
                total += np.asarray(grad)
    return {v.path: total for v, total in zip(variables, totals)}


class TaylorImportance(keras.callbacks.Callback):
    """Feeds loss gradients to the `Channels("taylor")` patterns of a pruned model.

    Before each mask update of the pruning callback, the Taylor score needs the gradient
    of the loss w.r.t. each pruned kernel. This callback computes it on a fixed sample
    `(x, y)` at the start of every epoch (or every `update_every` steps) and hands it to
    each wrapper's pattern. List it before the pruning callback in `callbacks`, with the
    same `update_every`.

    Args:
        x: input sample (a few hundred examples are enough).
        y: its targets.
        batch_size: batch size of the gradient computation.
        update_every: `"epoch"` or an int number of steps.

    Example:

    >>> import keras, numpy as np, kerasprune
    >>> from kerasprune.structured_patterns import Channels
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(8), keras.layers.Dense(2)]), pattern=Channels("taylor"))
    >>> model.compile("adam", "mse")
    >>> x, y = np.ones((16, 4)), np.zeros((16, 2))
    >>> callbacks = [TaylorImportance(x, y), kerasprune.PruningCallback(
    ...     0.5, stabilization_epochs=0, pruning_epochs=1, finetune_epochs=0)]
    >>> _ = model.fit(x, y, epochs=1, callbacks=callbacks, verbose=0)
    """

    def __init__(self, x, y, *, batch_size: int = 64, update_every: str | int = "epoch"):
        super().__init__()
        if update_every != "epoch" and not (
            isinstance(update_every, int) and not isinstance(update_every, bool) and update_every >= 1
        ):
            raise ValueError(
                "`update_every` must be 'epoch' or a positive int. "
                f"Received: update_every={update_every!r}"
            )
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"`x` and `y` must be non-empty and of equal length. Received: {len(x)} "
                f"and {len(y)} examples"
            )
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.update_every = update_every
        self._step = 0

    def on_epoch_begin(self, epoch, logs=None):
        if self.update_every == "epoch":
            self.refresh()

    def on_train_batch_begin(self, batch, logs=None):
        if self.update_every != "epoch" and self._step % self.update_every == 0:
            self.refresh()
        self._step += 1

    def refresh(self) -> None:
        """Compute the gradients now and give each Taylor pattern those of its wrapper."""
        from kerasprune.model_walk import prune_wrappers

        grads = loss_gradients(self.model, self.x, self.y, batch_size=self.batch_size)
        for wrapper in prune_wrappers(self.model):
            if getattr(wrapper.pattern, "criterion", None) != "taylor":
                continue
            # Each wrapper gets its own pattern copy holding its own gradients.
            if getattr(wrapper.pattern, "owner", None) is not wrapper:
                wrapper.pattern = type(wrapper.pattern).from_config(wrapper.pattern.get_config())
                wrapper.pattern.owner = wrapper
            wrapper.pattern.gradients = [grads.get(w.path) for w in wrapper.pruned_weights]
