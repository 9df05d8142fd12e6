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


def output_gradients(model: keras.Model, x, variables: Sequence) -> list[np.ndarray | None]:
    """Gradients of the sum of `model`'s outputs on `x` (inference mode) for each of
    `variables` (None where the sum does not depend on it): SynFlow's `dR/dw`.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False)])
    >>> output_gradients(model, np.ones((1, 3)), [model.layers[0].kernel])[0].tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            total = tf.add_n([tf.reduce_sum(o) for o in tf.nest.flatten(
                model(x, training=False))])
        grads = tape.gradient(total, [v.value for v in variables])
    elif backend == "jax":
        import jax

        trainable = model.trainable_variables
        fixed = [v.value for v in model.non_trainable_variables]

        def total(values):
            outputs = model.stateless_call(values, fixed, x, training=False)[0]
            return sum(o.sum() for o in jax.tree_util.tree_leaves(outputs))

        by_id = dict(zip(map(id, trainable),
                         jax.grad(total)([v.value for v in trainable])))
        grads = [by_id.get(id(v)) for v in variables]
    else:
        raise ValueError("Output gradients are computed on the TensorFlow and JAX backends of "
                         f"Keras 3. Received: backend {backend!r}")
    return [None if g is None else np.asarray(g, np.float64) for g in grads]
