"""Small models and utilities shared by the tests."""

from __future__ import annotations

import keras
import numpy as np


def small_cnn(input_shape=(7, 7, 1), classes=10) -> keras.Model:
    """Conv8-Flatten-Dense32-Dense(classes): trains on 7x7 digits in a second."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(classes, name="logits"),
        ]
    )


class SubclassedDense(keras.Model):
    """One Dense layer in a subclassed model: no graph of layers to follow."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def subclassed_dense(name: str) -> SubclassedDense:
    """A built `SubclassedDense` called `name` (3 input features)."""
    model = SubclassedDense(name=name)
    model(np.zeros((1, 3)))
    return model


def pruning_ready(lr: float = 0.1, scope: str = "global") -> keras.Model:
    """`small_cnn()` wrapped by `kerasprune.prune(scope=scope)`, compiled with SGD(lr, 0.9)."""
    import kerasprune

    return compile_classifier(kerasprune.prune(small_cnn(), scope=scope),
                              keras.optimizers.SGD(lr, momentum=0.9))


def masks_of(model) -> list[np.ndarray]:
    """Copies of every mask of a pruning-ready model, wrapper by wrapper."""
    import kerasprune

    return [np.array(m) for w in kerasprune.prune_wrappers(model) for m in w.masks]


def first_masks(model) -> dict[str, np.ndarray]:
    """`{layer name: its first mask}` of every wrapper of a pruning-ready model."""
    import kerasprune

    return {w.layer.name: np.array(w.masks[0]) for w in kerasprune.prune_wrappers(model)}


def compile_classifier(model, optimizer=None):
    model.compile(
        optimizer or keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def weights_snapshot(model) -> list[np.ndarray]:
    return [np.array(w) for w in model.weights]


def read_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files of `folder`: `{tag: [(step, value)]}`."""
    from pathlib import Path

    import tensorflow as tf

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(folder).glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor) if value.HasField("tensor") else None
                if array is not None and (array.ndim or array.dtype.kind != "f"):
                    continue  # not a scalar (e.g. the model's config Keras writes)
                number = float(array) if array is not None else float(value.simple_value)
                scalars.setdefault(value.tag, []).append((int(event.step), number))
    return scalars


def imp_with_allr():
    """Two prune-retrain cycles of one epoch with ALLR: a resume state (cycles done, each
    cycle's ALLR factor) that `fit`'s step cannot recompute."""
    import kerasprune

    return kerasprune.IMPCallback(0.75, cycles=2, epochs_per_cycle=1, retrain_schedule="allr",
                                  original_learning_rate=0.05, original_epochs=4)


def training_state(model, x) -> dict:
    """What a resume needs, as arrays: predictions on `x`, weights, masks, the optimizer's
    variables and the pruning callbacks' state."""
    import kerasprune

    wrappers = kerasprune.prune_wrappers(model)
    state = getattr(wrappers[0], "pruning_state", None)
    return {
        "predictions": [np.array(t) for t in keras.tree.flatten(model(x, training=False))],
        "weights": [np.array(v) for v in model.weights],
        "masks": [np.array(m) for w in wrappers for m in w.masks],
        "optimizer": [np.array(v) for v in model.optimizer.variables],
        "pruning_state": {} if state is None else {n: state.read(n) for n in state.spec},
    }


def assert_same_state(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    assert actual["pruning_state"].keys() == expected["pruning_state"].keys()
    for key in actual:
        pairs = (zip(actual[key].values(), expected[key].values()) if key == "pruning_state"
                 else zip(actual[key], expected[key], strict=True))
        for a, b in pairs:
            np.testing.assert_array_equal(a, b, err_msg=key)


def assert_resumes_from_keras_file(pruned, x, y, folder, *, loss="mse", batch_size=16,
                                   custom_objects=None, run_eagerly=False) -> keras.Model:
    """IMP with ALLR over two epochs, a ModelCheckpoint `.keras` file after the first:
    `load_model` gives back the same predictions, weights, masks, optimizer state and
    pruning state, and its second epoch (`initial_epoch=1`) ends where the uninterrupted
    run ended (`run_eagerly` saves tracing a large model twice). Returns the loaded model."""
    pruned.compile(keras.optimizers.SGD(0.05, momentum=0.9), loss, jit_compile=False,
                   run_eagerly=run_eagerly)
    snapshots = []
    checkpoint = keras.callbacks.ModelCheckpoint(str(folder / "ckpt_{epoch}.keras"))
    snapshot = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(training_state(pruned, x)))
    fit = dict(batch_size=batch_size, shuffle=False, verbose=0)
    pruned.fit(x, y, epochs=2, callbacks=[imp_with_allr(), checkpoint, snapshot], **fit)

    loaded = keras.saving.load_model(folder / "ckpt_1.keras", custom_objects=custom_objects)
    assert type(loaded) is type(pruned)
    assert_same_state(training_state(loaded, x), snapshots[0])
    assert snapshots[0]["pruning_state"]["cycles_done"] == 1.0
    loaded.fit(x, y, initial_epoch=1, epochs=2, callbacks=[imp_with_allr()], **fit)
    assert_same_state(training_state(loaded, x), snapshots[1])
    return loaded


def xnnpack_net(size: int = 16, *, stem=None, middle=None, end=None) -> keras.Model:
    """A small net of the shape XNNPACK's sparse inference runs: ZeroPadding2D(1) and a
    3x3 stride-2 `stem` on 3 channels, a 1x1 `expand` (then `middle(x)`, by default a
    depthwise conv and a 1x1 `project` with a residual Add), a spatial mean keeping its
    dimensions (`end(x)`), then a Dense head after Flatten. Each argument replaces its part."""
    layers = keras.layers
    inputs = keras.Input((size, size, 3))
    x = (stem or (lambda t: layers.Conv2D(8, 3, strides=2, activation="relu", name="stem")(
        layers.ZeroPadding2D(1)(t))))(inputs)
    x = layers.Conv2D(8, 1, activation="relu6", name="expand")(x)
    if middle is None:
        y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="depthwise")(x)
        y = layers.BatchNormalization(name="bn")(y)
        x = layers.Add(name="residual")([x, layers.Conv2D(8, 1, name="project")(y)])
    else:
        x = middle(x)
    x = (end or (lambda t: layers.GlobalAveragePooling2D(keepdims=True, name="mean")(t)))(x)
    return keras.Model(inputs, layers.Dense(10, name="logits")(layers.Flatten()(x)))


def float16_block_sparse_file() -> bytes:
    """What TensorFlow's converter writes for float16 weights zero in blocks of 4 inputs
    (`convert` stores those dense, as LiteRT reads them wrong)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernels = [rng.normal(size=(n_in, n_out)).astype(np.float32) for n_in, n_out in
               [(32, 16), (16, 4)]]
    for kernel in kernels:  # [in, out]: every other block of 4 inputs zero, in each column
        kernel.reshape(-1, 4, kernel.shape[1])[::2] = 0

    @tf.function(input_signature=[tf.TensorSpec((None, 32), tf.float32)])
    def serve(x):
        return tf.matmul(tf.nn.relu(tf.matmul(x, kernels[0])), kernels[1])

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    converter.target_spec.supported_types = [tf.float16]
    return converter.convert()
