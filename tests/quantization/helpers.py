"""Small models and data shared by the quantization tests."""

import keras
import numpy as np

import kerasprune

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def data(n=64, shape=(8, 8, 1), seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape), dtype=np.float32), rng.integers(0, 4, n)


def cnn() -> keras.Model:
    """Conv, pooling, Flatten (32 inputs) and two Dense layers whose inputs are
    multiples of 16 (what TFLite's int8 sparse kernel reads right)."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(name="pool"),
        keras.layers.Conv2D(8, 2, activation="relu", name="squeeze"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(32, activation="relu", name="hidden"),
        keras.layers.Dense(4, name="logits"),
    ])


def pruned_cnn(sparsity=0.75) -> keras.Model:
    """The CNN with its Dense layers pruned in (16, 1) blocks, masks set."""
    pruned = kerasprune.prune(cnn(), layers=["hidden", "logits"], block_shape=(16, 1))
    kerasprune.update_masks(pruned, sparsity)
    return pruned


def masked_weights_are_zero(model) -> bool:
    return all(np.all(np.asarray(v)[np.asarray(m) == 0] == 0)
               for w in kerasprune.prune_wrappers(model)
               for v, m in zip(w.pruned_weights, w.masks))


class MasksChecked(keras.callbacks.Callback):
    """Records, after every training batch, whether every masked weight is exactly 0."""

    def __init__(self):
        super().__init__()
        self.checks = []

    def on_train_batch_end(self, batch, logs=None):
        self.checks.append(masked_weights_are_zero(self.model))
