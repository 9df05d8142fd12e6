"""How each layer type is quantized: which weights, and whether its output gets a range.

Three roles, as TFLite's int8 kernels need them:

- weighted layers (Dense, Conv1D/2D/3D, DepthwiseConv1D/2D): their kernel is fake-quantized
  per output channel and their output (after their activation) gets an int8 range;
- layers that only move or select values (Flatten, Reshape, max pooling, Dropout,
  padding, ...): their output keeps their input's range, as TFLite's int8 kernels for them
  require, so they get none;
- other layers without weights (activations, merges such as Add or Concatenate, average
  pooling, normalization, rescaling): their output gets its own range.

Any other layer type is refused by `quantize_model`, named with its type.
"""

from __future__ import annotations

import keras

layers = keras.layers

#: Layer type -> the axes of its kernel's output channels (TFLite's per-channel axis).
WEIGHTED = {
    layers.Dense: (-1,),
    layers.Conv1D: (-1,),
    layers.Conv2D: (-1,),
    layers.Conv3D: (-1,),
    layers.DepthwiseConv1D: (-2, -1),
    layers.DepthwiseConv2D: (-2, -1),
}
#: Layers whose output values are some of their input's values (or zeros).
PASS_THROUGH = (
    layers.Flatten, layers.Reshape, layers.Permute, layers.RepeatVector,
    layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D,
    layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalMaxPooling3D,
    layers.Dropout, layers.SpatialDropout1D, layers.SpatialDropout2D, layers.SpatialDropout3D,
    layers.GaussianDropout, layers.GaussianNoise, layers.AlphaDropout,
    layers.ZeroPadding1D, layers.ZeroPadding2D, layers.ZeroPadding3D,
    layers.Cropping1D, layers.Cropping2D, layers.Cropping3D,
    layers.UpSampling1D, layers.Identity, layers.ActivityRegularization,
)
#: Layers without weights (or with per-channel affine ones) whose output gets a range.
RANGED = (
    layers.Activation, layers.ReLU, layers.LeakyReLU, layers.ELU, layers.PReLU,
    layers.Softmax, layers.Add, layers.Subtract, layers.Multiply, layers.Average,
    layers.Maximum, layers.Minimum, layers.Concatenate,
    layers.AveragePooling1D, layers.AveragePooling2D, layers.AveragePooling3D,
    layers.GlobalAveragePooling1D, layers.GlobalAveragePooling2D,
    layers.GlobalAveragePooling3D, layers.BatchNormalization, layers.LayerNormalization,
    layers.Rescaling, layers.Normalization,
)


def channel_axes(layer: keras.layers.Layer) -> tuple[int, ...] | None:
    """The kernel's output-channel axes of a weighted layer, None for other layers.

    >>> channel_axes(keras.layers.Dense(2)), channel_axes(keras.layers.Flatten())
    ((-1,), None)
    """
    for cls in type(layer).__mro__:
        if cls in WEIGHTED:
            return WEIGHTED[cls]
    return None


def is_known(layer: keras.layers.Layer) -> bool:
    """True for every layer type a role is stated for (subclasses too)."""
    return channel_axes(layer) is not None or isinstance(layer, PASS_THROUGH + RANGED)


def has_output_range(layer: keras.layers.Layer) -> bool:
    """True when the layer's output gets its own int8 range (not a pass-through layer)."""
    return not isinstance(layer, PASS_THROUGH)


def known_types() -> list[str]:
    """The names of the layer types with a role, for error messages."""
    return sorted(cls.__name__ for cls in (*WEIGHTED, *PASS_THROUGH, *RANGED))
