"""Small stand-ins for the datasets the ported scripts download, in the same formats.

`mnist_load_data` is `keras.datasets.mnist.load_data()` on the 3,000 real digits shipped
in `examples/data` (uint8 images, integer labels); `get_preprocessed_mnist_data` and
`eval_mnist_tflite` are TFMOT's test helpers of those names on them; `imdb_load_data` and
`cifar10_datasets` are random data shaped like `keras.datasets.imdb.load_data()` and
`tfds.load("cifar10", as_supervised=True, with_info=True)`.
"""

from __future__ import annotations

import types

import keras
import numpy as np

from examples.datasets import EMBEDDED_MNIST

def mnist_load_data(n_train=640, n_test=128):
    """`((x_train, y_train), (x_test, y_test))`: uint8 `(n, 28, 28)` images, int labels."""
    with np.load(EMBEDDED_MNIST) as data:
        x, y = data["x"].astype(np.uint8), data["y"].astype(np.int64)
    x = x.reshape(len(x), 28, 28)
    test = slice(n_train, n_train + n_test)
    return (x[:n_train], y[:n_train]), (x[test], y[test])


def get_preprocessed_mnist_data(img_rows=28, img_cols=28, num_classes=10,
                                is_quantized_model=False):
    """TFMOT's `keras/test_utils.get_preprocessed_mnist_data` on the embedded digits."""
    (x_train, y_train), (x_test, y_test) = mnist_load_data()
    x_train = x_train.reshape(-1, img_rows, img_cols, 1)
    x_test = x_test.reshape(-1, img_rows, img_cols, 1)
    if not is_quantized_model:
        x_train, x_test = x_train.astype("float32") / 255, x_test.astype("float32") / 255
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)
    return (x_train, y_train), (x_test, y_test), (img_rows, img_cols, 1)


def eval_mnist_tflite(model_path=None, model_content=None, is_quantized=False):
    """TFMOT's `keras/test_utils.eval_mnist_tflite`: accuracy of a TFLite MNIST model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=model_path, model_content=model_content)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    _, (x_test, y_test), _ = get_preprocessed_mnist_data(is_quantized_model=is_quantized)
    correct = 0
    for image, label in zip(x_test, y_test):
        interpreter.set_tensor(input_index, image.reshape((1, 28, 28, 1)))
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_tensor(output_index)) == np.argmax(label))
    return correct / len(x_test)


def imdb_load_data(num_words=20000, n_train=96, n_test=32, seed=0):
    """Like `keras.datasets.imdb.load_data(num_words=...)`: lists of word indices of
    different lengths, 0/1 labels; random, so only the shapes matter."""
    rng = np.random.default_rng(seed)

    def reviews(n):
        x = [list(rng.integers(1, num_words, rng.integers(20, 150))) for _ in range(n)]
        return np.array(x, dtype=object), rng.integers(0, 2, n)

    return reviews(n_train), reviews(n_test)


def cifar10_datasets(split=None, as_supervised=True, with_info=True, n=256, seed=0):
    """Like `tfds.load("cifar10", split=[train 90%, train 10%, test], as_supervised=True,
    with_info=True)`: three `(uint8 image, label)` datasets and their info."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    sizes = (n * 9 // 10, n // 10, n // 4)

    def dataset(count):
        images = rng.integers(0, 256, (count, 32, 32, 3)).astype(np.uint8)
        return tf.data.Dataset.from_tensor_slices((images, rng.integers(0, 10, count)))

    info = types.SimpleNamespace(splits={"train": types.SimpleNamespace(num_examples=n)})
    return tuple(dataset(c) for c in sizes), info
