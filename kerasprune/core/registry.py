"""Which weights of which layers are prunable.

Kernels of dense, convolution, embedding and recurrent layers are; biases and
normalization parameters never are. Composite layers (attention, RNN layers and their
cells, `TimeDistributed`, `Bidirectional`, any custom block) are pruned through the
layers they hold: their prunable weights are those of their sublayers, named by path
relative to the composite, e.g. `query/kernel` in a `MultiHeadAttention` or
`forward_lstm/lstm_cell/recurrent_kernel` in a `Bidirectional(LSTM)`. A custom layer
becomes prunable by defining a method `get_prunable_weights()` returning its variables,
or through `register_prunable`.
"""

from __future__ import annotations

import keras

from kerasprune import _compat

_PRUNABLE: dict[type, tuple[str, ...]] = {
    keras.layers.Dense: ("kernel",),
    keras.layers.EinsumDense: ("kernel",),
    keras.layers.Conv1D: ("kernel",),
    keras.layers.Conv2D: ("kernel",),
    keras.layers.Conv3D: ("kernel",),
    keras.layers.Conv1DTranspose: ("kernel",),
    keras.layers.Conv2DTranspose: ("kernel",),
    keras.layers.Conv3DTranspose: ("kernel",),
    keras.layers.DepthwiseConv1D: ("kernel",),
    keras.layers.DepthwiseConv2D: ("kernel",),
    keras.layers.SeparableConv1D: ("depthwise_kernel", "pointwise_kernel"),
    keras.layers.SeparableConv2D: ("depthwise_kernel", "pointwise_kernel"),
    keras.layers.Embedding: ("embeddings",),
    keras.layers.SimpleRNNCell: ("kernel", "recurrent_kernel"),
    keras.layers.LSTMCell: ("kernel", "recurrent_kernel"),
    keras.layers.GRUCell: ("kernel", "recurrent_kernel"),
    _compat.conv_lstm_cell_class(): ("kernel", "recurrent_kernel"),
}

# Layers of other packages, by their Keras registered name (no import needed).
_PRUNABLE_BY_REGISTERED_NAME: dict[str, tuple[str, ...]] = {
    "keras_hub>PositionEmbedding": ("embeddings",),
}

# Layers that create their prunable sublayers in `build`: known before they are built.
_COMPOSITE = (
    keras.layers.MultiHeadAttention,
    keras.layers.GroupQueryAttention,
    keras.layers.RNN,
)

# Layers whose weights are never pruned and deserve no warning.
_NEVER_PRUNED = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
    keras.layers.RMSNormalization,
    keras.layers.Normalization,
)

HOW_TO_MAKE_PRUNABLE = (
    "To make it prunable, give the layer a method `get_prunable_weights()` that returns "
    "the variables to prune, or call kerasprune.register_prunable(LayerClass, ['kernel'])."
)


def register_prunable(layer_class: type, weight_names: list[str] | tuple[str, ...]) -> None:
    """Declare which weights (by variable name) of `layer_class` are prunable.

    The layer then prunes in any model, whether or not it defines `compute_output_shape`.

    Example:

    >>> import keras, numpy as np, kerasprune
    >>> class Scale(keras.layers.Layer):
    ...     def build(self, shape):
    ...         self.kernel = self.add_weight(shape=shape[1:], name="kernel")
    ...     def call(self, x):
    ...         return x * self.kernel
    >>> kerasprune.register_prunable(Scale, ["kernel"])
    >>> inputs = keras.Input((8,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(Scale(name="scale")(inputs)))
    >>> pruned = kerasprune.prune(model)
    >>> _ = kerasprune.update_masks(pruned, 0.5)
    >>> kerasprune.sparsity_report(pruned).as_dict()["scale/kernel"]
    0.5
    """
    if not (isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer)):
        raise TypeError(
            "`layer_class` must be a subclass of keras.layers.Layer. "
            f"Received: layer_class={layer_class!r}"
        )
    if isinstance(weight_names, str) or not weight_names or not all(
        isinstance(n, str) for n in weight_names
    ):
        raise TypeError(
            "`weight_names` must be a non-empty list of variable names such as ['kernel']. "
            f"Received: weight_names={weight_names!r}"
        )
    _PRUNABLE[layer_class] = tuple(weight_names)


def named_variables(layer: keras.layers.Layer) -> dict[str, object]:
    """Every variable of `layer` and its sublayers, by name relative to `layer`.

    Example:

    >>> import keras
    >>> lstm = keras.layers.LSTM(2)
    >>> lstm.build((None, 3, 4))
    >>> list(named_variables(lstm))
    ['lstm_cell/kernel', 'lstm_cell/recurrent_kernel', 'lstm_cell/bias']
    """
    named = {v.name: v for v in _compat.own_variables(layer)}
    for sublayer in _compat.direct_sublayers(layer):
        for name, variable in named_variables(sublayer).items():
            named.setdefault(f"{sublayer.name}/{name}", variable)
    return named


def prunable_weight_names(layer: keras.layers.Layer) -> tuple[str, ...] | None:
    """Names (relative to `layer`) of its prunable variables, or None if none is known.

    An empty tuple means known but not built yet: the names exist once it is built.

    Example:

    >>> import keras
    >>> prunable_weight_names(keras.layers.Dense(3))
    ('kernel',)
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> mha.build((None, 3, 8), (None, 3, 8))
    >>> prunable_weight_names(mha)
    ('query/kernel', 'key/kernel', 'value/kernel', 'attention_output/kernel')
    """
    own = _own_prunable_names(layer)
    if own is not None:
        return own
    names = []
    for sublayer in _compat.direct_sublayers(layer):
        nested = prunable_weight_names(sublayer) or ()
        names += [f"{sublayer.name}/{name}" for name in nested]
    if names:
        return tuple(names)
    if not layer.built and (
        isinstance(layer, _COMPOSITE) or _wraps_known_layer(layer)
    ):
        return ()
    return None


def unprunable_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """`layer` and its sublayers that hold weights kerasprune does not know how to prune.

    Example:

    >>> import keras
    >>> unprunable_layers(keras.layers.Dense(2))
    []
    """
    if _own_prunable_names(layer) is not None or is_never_pruned(layer):
        return []
    found = [layer] if _compat.own_variables(layer) else []
    for sublayer in _compat.direct_sublayers(layer):
        found += unprunable_layers(sublayer)
    return found


def is_never_pruned(layer: keras.layers.Layer) -> bool:
    """True for layers whose weights are left dense on purpose (normalization)."""
    return isinstance(layer, _NEVER_PRUNED)


def _own_prunable_names(layer) -> tuple[str, ...] | None:
    """The names a layer declares itself (method or registry), or None."""
    if hasattr(layer, "get_prunable_weights"):
        if not layer.built:
            return ()
        paths = {id(v): name for name, v in named_variables(layer).items()}
        return tuple(paths[id(v)] for v in layer.get_prunable_weights())
    for cls in type(layer).__mro__:
        if cls in _PRUNABLE:
            return _PRUNABLE[cls]
    return _PRUNABLE_BY_REGISTERED_NAME.get(keras.saving.get_registered_name(type(layer)))


def _wraps_known_layer(layer) -> bool:
    inner = getattr(layer, "layer", None) if isinstance(layer, keras.layers.Wrapper) else None
    return inner is not None and prunable_weight_names(inner) is not None
