"""Linear views: a layer's kernel as a matrix acting on the features of its input.

Criteria that read a layer's inputs (Wanda's `|w| * ||x_j||`, the `X^T X` of OBS and
SparseGPT, least-squares reconstruction) see every supported layer as `X @ W`: `X` holds
one row per position the kernel is applied at (a token, a pixel of the output) and one
column per input feature, `W` is `[in_features, out_features]`.

- `Dense`: the input's last axis; every other axis is a row.
- `EinsumDense` (attention projections): the axes the equation contracts (in the
  kernel's order); the input's other axes are rows. Equations whose kernel shares an axis
  with the input and the output (a batched product) have no such view.
- `Conv1D`, `Conv2D` (`groups=1`): the unfolded input (im2col): one row per output
  position, one feature per kernel entry `[*kernel_size, in_channels]`, so that
  `W = kernel.reshape(-1, filters)`; strides, dilation and `"valid"`, `"same"` or
  `"causal"` padding as the layer applies them.

`linear_view(layer, weight_name)` returns the view of a layer's weight, or None.
"""

from __future__ import annotations

import math
import re

import keras
import numpy as np

from kerasprune import _compat


class LinearView:
    """A kernel seen as `[in_features, out_features]`, and the input seen as `X`.

    Args:
        kernel_shape: the kernel's shape.
        in_axes: the kernel axes contracted with the input, in the order of the flattened
            feature index; the other axes (in their order) are the outputs.

    Example:

    >>> view = LinearView((5, 2, 3), in_axes=(0,))   # a query kernel [hidden, heads, dim]
    >>> view.in_features, view.out_features, view.matrix(np.zeros((5, 2, 3))).shape
    (5, 6, (5, 6))
    >>> view.per_feature(np.arange(5)).shape
    (5, 1, 1)
    """

    def __init__(self, kernel_shape: tuple[int, ...], in_axes: tuple[int, ...]):
        self.kernel_shape = tuple(int(n) for n in kernel_shape)
        self.in_axes = tuple(in_axes)
        self.out_axes = tuple(a for a in range(len(self.kernel_shape)) if a not in in_axes)
        self.order = self.in_axes + self.out_axes
        self.in_features = math.prod(self.kernel_shape[a] for a in self.in_axes)
        self.out_features = math.prod(self.kernel_shape[a] for a in self.out_axes)

    def features(self, inputs: np.ndarray) -> np.ndarray:
        """`X`: `[rows, in_features]` from the layer's input."""
        raise NotImplementedError

    @property
    def signature(self) -> tuple:
        """Views with equal signatures make the same `X` from the same input."""
        return (type(self).__name__, self.in_features)

    def matrix(self, kernel: np.ndarray) -> np.ndarray:
        """The kernel as `W`, `[in_features, out_features]`."""
        return np.transpose(np.asarray(kernel), self.order).reshape(
            self.in_features, self.out_features)

    def kernel(self, matrix: np.ndarray) -> np.ndarray:
        """The inverse of `matrix`: `W` back in the kernel's shape."""
        shaped = np.asarray(matrix).reshape([self.kernel_shape[a] for a in self.order])
        return np.transpose(shaped, np.argsort(self.order))

    def per_feature(self, values: np.ndarray) -> np.ndarray:
        """A vector over the input features, shaped to broadcast against the kernel."""
        shape = [self.kernel_shape[a] if a in self.in_axes else 1
                 for a in range(len(self.kernel_shape))]
        return np.asarray(values).reshape(shape)  # `in_axes` are in the kernel's order


class DenseView(LinearView):
    """`Dense`: features along the input's last axis."""

    def features(self, inputs):
        return np.asarray(inputs).reshape(-1, self.in_features)


class EinsumView(LinearView):
    """`EinsumDense`: the contracted axes of the input, in the kernel's order."""

    def __init__(self, kernel_shape, in_axes, input_axes: list[str], contracted: list[str]):
        super().__init__(kernel_shape, in_axes)
        self.input_axes = input_axes  # the input spec with "." for the ellipsis
        self.contracted = contracted

    def features(self, inputs):
        inputs = np.asarray(inputs)
        letters = _expand_ellipsis(self.input_axes, inputs.ndim)
        moved = [letters.index(c) for c in self.contracted]
        rest = [i for i in range(inputs.ndim) if i not in moved]
        return np.transpose(inputs, rest + moved).reshape(-1, self.in_features)

    @property
    def signature(self):
        return (*super().signature, tuple(self.input_axes), tuple(self.contracted))


class ConvView(LinearView):
    """`Conv1D`/`Conv2D`: the unfolded input (im2col), one row per output position."""

    def __init__(self, kernel_shape, layer):
        super().__init__(kernel_shape, tuple(range(len(kernel_shape) - 1)))
        self.strides = tuple(layer.strides)
        self.dilation = tuple(layer.dilation_rate)
        self.padding = layer.padding
        self.channels_first = layer.data_format == "channels_first"

    def features(self, inputs):
        x = np.asarray(inputs)
        if self.channels_first:
            x = np.moveaxis(x, 1, -1)
        x = self._padded(x)
        sizes = self.kernel_shape[:-2]
        spatial = x.shape[1:-1]
        outs = [(n - (k - 1) * d - 1) // s + 1
                for n, k, d, s in zip(spatial, sizes, self.dilation, self.strides)]
        columns = []
        for offset in np.ndindex(*sizes):
            window = tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                           for o, d, s, n in zip(offset, self.dilation, self.strides, outs))
            columns.append(x[(slice(None), *window, slice(None))])
        # [batch, *outs, kernel entries, channels]: a feature index is (entry, channel)
        return np.stack(columns, axis=-2).reshape(-1, self.in_features)

    @property
    def signature(self):
        return (*super().signature, self.kernel_shape[:-1], self.strides, self.dilation,
                self.padding, self.channels_first)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        sizes = self.kernel_shape[:-2]
        if self.padding == "valid":
            return x
        pads = []
        for n, k, d, s in zip(x.shape[1:-1], sizes, self.dilation, self.strides):
            span = (k - 1) * d + 1
            if self.padding == "causal":
                pads.append((span - 1, 0))
                continue
            total = max((-(-n // s) - 1) * s + span - n, 0)
            pads.append((total // 2, total - total // 2))
        return np.pad(x, [(0, 0), *pads, (0, 0)])


def linear_view(layer: keras.layers.Layer, weight_name: str = "kernel") -> LinearView | None:
    """The linear view of `layer`'s weight `weight_name`, or None if it has none.

    Example:

    >>> conv = keras.layers.Conv2D(4, 3)
    >>> conv.build((None, 8, 8, 2))
    >>> view = linear_view(conv)
    >>> view.in_features, view.features(np.zeros((1, 8, 8, 2))).shape
    (18, (36, 18))
    """
    kernel = getattr(layer, "kernel", None) if weight_name == "kernel" else None
    if kernel is None or not getattr(layer, "built", False):
        return None
    shape = tuple(kernel.shape)
    if type(layer) is keras.layers.Dense or (
            isinstance(layer, keras.layers.Dense) and len(shape) == 2):
        return DenseView(shape, (0,))
    if isinstance(layer, keras.layers.EinsumDense):
        return _einsum_view(layer.equation, shape)
    if (isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D))
            and not isinstance(layer, (keras.layers.Conv1DTranspose,
                                       keras.layers.Conv2DTranspose))
            and getattr(layer, "groups", 1) == 1):
        return ConvView(shape, layer)
    return None


def _einsum_view(equation: str, shape: tuple[int, ...]) -> EinsumView | None:
    match = re.fullmatch(r"([a-z.]+),([a-z]+)->([a-z.]+)", equation.replace(" ", ""))
    if match is None:
        return None
    input_spec, kernel_spec, output_spec = (s.replace("...", ".") for s in match.groups())
    contracted = [c for c in kernel_spec if c in input_spec and c not in output_spec]
    outputs = [c for c in kernel_spec if c not in contracted]
    if not contracted or any(c in input_spec or c not in output_spec for c in outputs):
        return None  # a batched product: no single matrix
    in_axes = tuple(kernel_spec.index(c) for c in contracted)
    return EinsumView(shape, in_axes, list(input_spec), contracted)


def _expand_ellipsis(spec: list[str], ndim: int) -> list[str]:
    if "." not in spec:
        return spec
    at = spec.index(".")
    return spec[:at] + ["."] * (ndim - len(spec) + 1) + spec[at + 1:]


def weight_layers(wrapper) -> list[tuple[keras.layers.Layer, str]]:
    """Per pruned weight of a built `PruneWrapper`: the layer holding it (the wrapped
    layer or one of its sublayers, `"self_attention/query/kernel"`) and its name there.

    Example:

    >>> import kerasprune
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")
    >>> wrapper = kerasprune.PruneWrapper(mha)
    >>> _ = wrapper(np.zeros((1, 3, 8)), np.zeros((1, 3, 8)))
    >>> [(layer.name, name) for layer, name in weight_layers(wrapper)][:2]
    [('query', 'kernel'), ('key', 'kernel')]
    """
    found = []
    for name in wrapper.weight_names or ():
        layer, (*path, own) = wrapper.layer, name.split("/")
        for part in path:
            layer = {sub.name: sub for sub in _compat.direct_sublayers(layer)}[part]
        found.append((layer, own))
    return found


def output_axes(wrapper, index: int) -> tuple[int, ...]:
    """The axes of `wrapper`'s pruned weight `index` that index its output units: its
    linear view's outputs, else (biases, embeddings, recurrent kernels) its last axis.

    Example:

    >>> import kerasprune
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")
    >>> wrapper = kerasprune.PruneWrapper(mha)
    >>> _ = wrapper(np.zeros((1, 3, 8)), np.zeros((1, 3, 8)))
    >>> output_axes(wrapper, 0), output_axes(wrapper, 3)   # query [8, 2, 4], output [2, 4, 8]
    ((1, 2), (2,))
    """
    layer, name = weight_layers(wrapper)[index]
    view = linear_view(layer, name)
    return view.out_axes if view is not None else (len(wrapper.pruned_weights[index].shape) - 1,)



def pattern_axes(wrapper, index: int) -> tuple[int, ...]:
    """The axes of `wrapper`'s pruned weight `index` in the `[..., in, out]` order weight
    patterns read (N:M runs, blocks): the other axes, then the last of its linear view's
    input axes (the fastest-varying input feature: a convolution's input channels) and
    the last of its output axes. A weight without a view keeps its own order.

    Example:

    >>> import kerasprune
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")
    >>> wrapper = kerasprune.PruneWrapper(mha)
    >>> _ = wrapper(np.zeros((1, 3, 8)), np.zeros((1, 3, 8)))
    >>> pattern_axes(wrapper, 0), pattern_axes(wrapper, 3)   # query [8, 2, 4], output [2, 4, 8]
    ((1, 0, 2), (0, 1, 2))
    """
    layer, name = weight_layers(wrapper)[index]
    view = linear_view(layer, name)
    ndim = len(wrapper.pruned_weights[index].shape)
    if view is None:
        return tuple(range(ndim))
    last = (view.in_axes[-1], view.out_axes[-1])
    return tuple(a for a in range(ndim) if a not in last) + last
