"""`batch_gradients`: the compiled loss's gradients on one batch, on TensorFlow or JAX.

Keras 3 has no backend-neutral gradient call, so this is the one place that picks the
backend's own: a `tf.GradientTape` on TensorFlow, `jax.grad` over the model's stateless
loss on JAX (what Keras' JAX trainer differentiates).
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np


def batch_gradients(model: keras.Model, x, y, variables: Sequence) -> list[np.ndarray | None]:
    """Gradients of `model`'s compiled loss on `(x, y)` for each of `variables` (None if
    the loss does not depend on it), in inference mode.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss="mse")
    >>> [g.shape for g in batch_gradients(model, np.ones((4, 3)), np.zeros((4, 2)),
    ...                                   [model.layers[0].kernel])]
    [(3, 2)]
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        grads = _tensorflow_gradients(model, x, y, variables)
    elif backend == "jax":
        grads = _jax_gradients(model, x, y, variables)
    else:
        raise ValueError(
            "Loss gradients are computed on the TensorFlow and JAX backends of Keras 3. "
            f"Received: backend {backend!r}"
        )
    return [None if g is None else np.asarray(g, np.float64) for g in grads]


def _tensorflow_gradients(model, x, y, variables) -> list:
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
    return tape.gradient(loss, [v.value for v in variables])


def _jax_gradients(model, x, y, variables) -> list:
    import jax

    trainable = model.trainable_variables
    fixed = ([v.value for v in model.non_trainable_variables],
             [v.value for v in model.metrics_variables])

    def loss(values):
        return model.compute_loss_and_updates(values, *fixed, x, y, None, training=False)[0]

    grads = jax.grad(loss)([v.value for v in trainable])
    by_id = {id(v): g for v, g in zip(trainable, grads)}
    return [by_id.get(id(v)) for v in variables]
