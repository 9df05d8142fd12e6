"""Which weights of which layers are prunable.

Kernels of dense, convolution and embedding layers are; biases and normalization
parameters never are. A custom layer becomes prunable by defining a method
`get_prunable_weights()` returning its variables, or through `register_prunable`.
"""

from __future__ import annotations

import keras

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
}

# Layers whose weights are never pruned and deserve no warning.
_NEVER_PRUNED = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
    keras.layers.Normalization,
)

HOW_TO_MAKE_PRUNABLE = (
    "To make it prunable, give the layer a method `get_prunable_weights()` that returns "
    "the variables to prune, or call kerasprune.register_prunable(LayerClass, ['kernel'])."
)


def register_prunable(layer_class: type, weight_names: list[str] | tuple[str, ...]) -> None:
    """Declare which weights (by variable name) of `layer_class` are prunable.

    Example:

    >>> import keras, kerasprune
    >>> class Scale(keras.layers.Layer):
    ...     def build(self, shape):
    ...         self.kernel = self.add_weight(shape=shape[1:], name="kernel")
    ...     def call(self, x):
    ...         return x * self.kernel
    >>> kerasprune.register_prunable(Scale, ["kernel"])
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


def prunable_weight_names(layer: keras.layers.Layer) -> tuple[str, ...] | None:
    """Names of the prunable variables of `layer`, or None if the layer is not known.

    Example:

    >>> import keras
    >>> prunable_weight_names(keras.layers.Dense(3))
    ('kernel',)
    """
    if hasattr(layer, "get_prunable_weights"):
        # Before the layer is built its variables do not exist yet: known, names pending.
        return tuple(v.name for v in layer.get_prunable_weights()) if layer.built else ()
    for cls in type(layer).__mro__:
        if cls in _PRUNABLE:
            return _PRUNABLE[cls]
    return None


def is_never_pruned(layer: keras.layers.Layer) -> bool:
    """True for layers whose weights are left dense on purpose (normalization)."""
    return isinstance(layer, _NEVER_PRUNED)
