"""Pruning under a distribution, run as `python -m tests.distributed_checks MODE OUT.npz`.

Trains the same small model on the same digits while pruning it, and saves its masks and
kernels to OUT.npz, so that tests/test_distributed.py can compare them with a one-device
run:

- `loop` / `multi_worker_loop` (TensorFlow): a custom training loop that calls
  `update_masks` on a GMP schedule, on one device or under `MultiWorkerMirroredStrategy`
  with this process as the worker TF_CONFIG names. Keras 3's `fit` cannot run under
  `MultiWorkerMirroredStrategy` (it fails building the model before the first step:
  keras-team/keras#20585), so the strategy is driven the way TensorFlow documents for
  custom loops, with the masks as hard constraints applied by the optimizer;
- `data_parallel_fit` (JAX): `fit` with `PruningCallback` on one device (saved to
  OUT.npz), then under Keras' distribution API, `DataParallel` over every JAX device
  (XLA_FLAGS=--xla_force_host_platform_device_count=2 gives two CPU devices), saved to
  OUT_parallel.npz.
"""

from __future__ import annotations

import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
from examples.datasets import load_embedded_mnist  # noqa: E402

GLOBAL_BATCH = 64
TARGET = 0.7


def digits():
    (x, y), _ = load_embedded_mnist(pool=4)
    return x[:512], y[:512]


def pruned_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((7, 7, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    return kerasprune.prune(model, scope="global")


def masks_and_kernels(model) -> dict[str, np.ndarray]:
    arrays = {}
    for i, wrapper in enumerate(kerasprune.prune_wrappers(model)):
        arrays[f"mask_{i}"] = np.asarray(wrapper.masks[0])
        arrays[f"kernel_{i}"] = np.asarray(wrapper.pruned_weights[0])
    return arrays


def train_with_fit(scope) -> keras.Model:
    x, y = digits()
    with scope:
        model = pruned_model()
        model.compile(keras.optimizers.SGD(0.05),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    gmp = kerasprune.PruningCallback(TARGET, stabilization_epochs=1, pruning_epochs=2,
                                     finetune_epochs=0)
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=3, shuffle=False, callbacks=[gmp],
              verbose=0)
    return model


def train_with_loop(strategy) -> keras.Model:
    import tensorflow as tf

    x, y = digits()
    with strategy.scope():
        model = pruned_model()
        optimizer = keras.optimizers.SGD(0.05)
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    steps = len(x) // GLOBAL_BATCH
    schedule = kerasprune.PolynomialDecay(0.05, TARGET, begin_step=steps, end_step=2 * steps,
                                          frequency=steps // 2)

    @tf.function
    def train_step(xb, yb):
        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True)) / GLOBAL_BATCH
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)

        strategy.run(replica_step, args=(xb, yb))

    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    data = strategy.experimental_distribute_dataset(data)
    step = 0
    for _ in range(3):
        for xb, yb in data:
            if schedule.updates_at(step):
                kerasprune.update_masks(model, schedule(step))
            train_step(xb, yb)
            step += 1
    return model


def save(path: str, model: keras.Model) -> None:
    np.savez(path, **masks_and_kernels(model))


def run(mode: str, out: str) -> None:
    if mode == "data_parallel_fit":
        import jax

        if len(jax.devices()) < 2:
            raise RuntimeError(f"DataParallel needs 2 devices; JAX has {jax.devices()}")
        save(out, train_with_fit(contextlib.nullcontext()))
        distribution = keras.distribution.DataParallel(devices=jax.devices())
        keras.distribution.set_distribution(distribution)
        save(out.replace(".npz", "_parallel.npz"), train_with_fit(distribution.scope()))
    elif mode == "multi_worker_loop":
        import tensorflow as tf

        save(out, train_with_loop(tf.distribute.MultiWorkerMirroredStrategy()))
    else:
        raise ValueError(f"Unknown mode {mode!r}")


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
