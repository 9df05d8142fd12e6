"""Linear views: every supported layer computes exactly `X @ W` (+ its bias) on its input."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.linear_views import linear_view, weight_layers

RNG = np.random.default_rng(0)


def built(layer, shape):
    x = RNG.normal(size=shape).astype("float32")
    return layer, x, np.asarray(layer(x))


LAYERS = {
    "dense": lambda: built(keras.layers.Dense(5), (2, 3, 4)),
    "query": lambda: built(keras.layers.EinsumDense("abc,cde->abde", (None, 2, 3),
                                                    bias_axes="de"), (2, 3, 4)),
    "attention output": lambda: built(keras.layers.EinsumDense("abcd,cde->abe", (None, 4),
                                                               bias_axes="e"), (2, 3, 2, 5)),
    "ellipsis": lambda: built(keras.layers.EinsumDense("...b,bc->...c", 3), (2, 4)),
    "conv2d same strided": lambda: built(keras.layers.Conv2D(3, (3, 2), strides=(2, 1),
                                                             padding="same"), (2, 7, 6, 4)),
    "conv2d valid dilated": lambda: built(keras.layers.Conv2D(3, 3, dilation_rate=2),
                                          (1, 9, 8, 2)),
    "conv1d causal": lambda: built(keras.layers.Conv1D(4, 3, padding="causal",
                                                       dilation_rate=2), (2, 9, 3)),
    "conv1d same strided": lambda: built(keras.layers.Conv1D(2, 4, strides=3, padding="same"),
                                         (2, 10, 3)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_the_view_reproduces_the_layer(name):
    layer, x, y = LAYERS[name]()
    view = linear_view(layer)
    features = view.features(x)
    assert features.shape[1] == view.in_features
    product = features @ view.matrix(np.asarray(layer.kernel))
    bias = 0.0 if layer.bias is None else np.asarray(layer.bias).reshape(-1)
    expected = y.reshape(-1, view.out_features)  # every output puts its features last
    np.testing.assert_allclose(product + bias, expected, rtol=1e-4, atol=1e-4)
    kernel = np.asarray(layer.kernel)
    np.testing.assert_array_equal(view.kernel(view.matrix(kernel)), kernel)


def test_a_channels_first_convolution_is_unfolded_on_its_channels_last_input():
    # TensorFlow runs no channels-first Conv2D eagerly on the CPU: the same kernel on the
    # channels-last input gives the expected outputs.
    layer = keras.layers.Conv2D(3, 2, data_format="channels_first")
    layer.build((2, 4, 5, 5))
    twin, x_last, y = built(keras.layers.Conv2D(3, 2), (2, 5, 5, 4))
    layer.set_weights(twin.get_weights())
    view = linear_view(layer)
    product = (view.features(np.moveaxis(x_last, -1, 1)) @ view.matrix(np.asarray(layer.kernel))
               + np.asarray(layer.bias))
    np.testing.assert_allclose(product, y.reshape(-1, 3), atol=1e-4)


def test_per_feature_values_broadcast_over_the_outputs_of_the_kernel():
    layer, _, _ = LAYERS["query"]()
    view = linear_view(layer)  # kernel [4 features, 2 heads, 3 dims]
    norms = view.per_feature(np.arange(4.0))
    assert norms.shape == (4, 1, 1)
    weighted = np.asarray(layer.kernel) * norms
    np.testing.assert_array_equal(view.matrix(weighted),
                                  view.matrix(np.asarray(layer.kernel)) * np.arange(4.0)[:, None])


@pytest.mark.parametrize("make", [
    lambda: built(keras.layers.Embedding(10, 4, name="emb"), (2, 3))[0],
    lambda: built(keras.layers.DepthwiseConv2D(3), (1, 5, 5, 2))[0],
    lambda: built(keras.layers.Conv2D(4, 3, groups=2), (1, 5, 5, 4))[0],
    lambda: built(keras.layers.Conv2DTranspose(2, 3), (1, 5, 5, 2))[0],
    lambda: built(keras.layers.EinsumDense("abc,acd->abd", (3, 2)), (2, 3, 4))[0],
    lambda: keras.layers.Dense(3),  # not built
])
def test_layers_without_a_single_matrix_have_no_view(make):
    assert linear_view(make()) is None


def test_weight_layers_name_the_sublayer_holding_each_pruned_weight():
    inputs = keras.Input((3, 8))
    outputs = keras.layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs)
    model = kerasprune.prune(keras.Model(inputs, outputs))
    (wrapper,) = kerasprune.prune_wrappers(model)
    found = weight_layers(wrapper)
    assert [layer.name for layer, _ in found] == ["query", "key", "value", "attention_output"]
    assert all(layer.kernel is weight for (layer, _), weight
               in zip(found, wrapper.pruned_weights))
