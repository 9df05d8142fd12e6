"""TFMOT's default prunable weights per built-in layer (`PruneRegistry`), on Keras 3.

The weights a wrapper prunes come from kerasprune's layer specs (their `tfmot_prunable`
facts, `kerasprune.core.registry`); this module keeps TFMOT's table itself, which also
lists the layers TFMOT wraps with nothing to prune, and TFMOT's `PruneRegistry` API.

TFMOT prunes by default the kernels of Dense, Conv1D/2D/3D (and transposed) and the
projections of MultiHeadAttention, the embeddings of Embedding, only the `pointwise_kernel`
of SeparableConv1D/2D, nothing of DepthwiseConv2D, the kernel and recurrent kernel of the
cells of GRU/LSTM/SimpleRNN/RNN, and wraps layers without weights (Dropout, Flatten,
pooling, ...) with nothing to prune. Like TFMOT, `prune_low_magnitude` refuses a layer it
does not list (ConvLSTM*, Bidirectional, TimeDistributed, EinsumDense, a subclass of a listed
layer, a custom block) unless it has `get_prunable_weights()`; `kerasprune.prune` prunes
them all. The wrapper gives the layer TFMOT's `get_prunable_weights()` method, as TFMOT
does, so user code that calls it keeps working.
"""

from __future__ import annotations

import keras

from kerasprune.core.registry import named_variables, prunable_weight_names

layers = keras.layers

_NOTHING: list = []
# TFMOT's table, in its order; the Keras 2 layers Keras 3 removed (ThresholdedReLU,
# LocallyConnected1D/2D, the compat.v1 and experimental layers) are left out.
_TFMOT_TABLE = [
    ("ELU", _NOTHING), ("LeakyReLU", _NOTHING), ("ReLU", _NOTHING), ("Softmax", _NOTHING),
    ("ThresholdedReLU", _NOTHING),
    ("Conv1D", ["kernel"]), ("Conv2D", ["kernel"]), ("Conv2DTranspose", ["kernel"]),
    ("Conv3D", ["kernel"]), ("Conv3DTranspose", ["kernel"]),
    ("Cropping1D", _NOTHING), ("Cropping2D", _NOTHING), ("Cropping3D", _NOTHING),
    ("DepthwiseConv2D", _NOTHING),
    ("SeparableConv1D", ["pointwise_kernel"]), ("SeparableConv2D", ["pointwise_kernel"]),
    ("UpSampling1D", _NOTHING), ("UpSampling2D", _NOTHING), ("UpSampling3D", _NOTHING),
    ("ZeroPadding1D", _NOTHING), ("ZeroPadding2D", _NOTHING), ("ZeroPadding3D", _NOTHING),
    ("Activation", _NOTHING), ("ActivityRegularization", _NOTHING),
    ("Dense", ["kernel"]), ("Dropout", _NOTHING), ("Flatten", _NOTHING),
    ("Lambda", _NOTHING), ("Masking", _NOTHING), ("Permute", _NOTHING),
    ("RepeatVector", _NOTHING), ("Reshape", _NOTHING),
    ("SpatialDropout1D", _NOTHING), ("SpatialDropout2D", _NOTHING),
    ("SpatialDropout3D", _NOTHING),
    ("Embedding", ["embeddings"]),
    ("LocallyConnected1D", ["kernel"]), ("LocallyConnected2D", ["kernel"]),
    ("Add", _NOTHING), ("Average", _NOTHING), ("Concatenate", _NOTHING), ("Dot", _NOTHING),
    ("Maximum", _NOTHING), ("Minimum", _NOTHING), ("Multiply", _NOTHING),
    ("Subtract", _NOTHING),
    ("AlphaDropout", _NOTHING), ("GaussianDropout", _NOTHING), ("GaussianNoise", _NOTHING),
    ("BatchNormalization", _NOTHING), ("LayerNormalization", _NOTHING),
    ("AveragePooling1D", _NOTHING), ("AveragePooling2D", _NOTHING),
    ("AveragePooling3D", _NOTHING),
    ("GlobalAveragePooling1D", _NOTHING), ("GlobalAveragePooling2D", _NOTHING),
    ("GlobalAveragePooling3D", _NOTHING),
    ("GlobalMaxPooling1D", _NOTHING), ("GlobalMaxPooling2D", _NOTHING),
    ("GlobalMaxPooling3D", _NOTHING),
    ("MaxPooling1D", _NOTHING), ("MaxPooling2D", _NOTHING), ("MaxPooling3D", _NOTHING),
    ("MultiHeadAttention",
     ["query/kernel", "key/kernel", "value/kernel", "attention_output/kernel"]),
]


class PruneRegistry:
    """TFMOT's registry: which weights of which built-in layers are pruned by default.

    Example:

    >>> PruneRegistry._LAYERS_WEIGHTS_MAP[keras.layers.SeparableConv2D]
    ['pointwise_kernel']
    >>> PruneRegistry.supports(keras.layers.ConvLSTM2D(2, 3))  # kerasprune.prune prunes it
    False
    """

    _LAYERS_WEIGHTS_MAP = {getattr(layers, name): weights for name, weights in _TFMOT_TABLE
                           if hasattr(layers, name)}
    _RNN_CELLS_WEIGHTS_MAP = {
        layers.GRUCell: ["kernel", "recurrent_kernel"],
        layers.LSTMCell: ["kernel", "recurrent_kernel"],
        layers.SimpleRNNCell: ["kernel", "recurrent_kernel"],
    }
    _RNN_LAYERS = frozenset({layers.GRU, layers.LSTM, layers.RNN, layers.SimpleRNN})

    @classmethod
    def supports(cls, layer: keras.layers.Layer) -> bool:
        """Whether `prune_low_magnitude` can wrap `layer`, as in TFMOT: a layer with
        `get_prunable_weights()`, a class of TFMOT's table (exactly: not a subclass), or
        a GRU/LSTM/SimpleRNN/RNN whose cells are. (`kerasprune.prune` prunes more.)"""
        if hasattr(layer, "get_prunable_weights") or type(layer) in cls._LAYERS_WEIGHTS_MAP:
            return True
        if type(layer) not in cls._RNN_LAYERS:
            return False
        cells = getattr(layer.cell, "cells", [layer.cell])
        return all(type(c) in cls._RNN_CELLS_WEIGHTS_MAP or hasattr(c, "get_prunable_weights")
                   for c in cells)

    @classmethod
    def make_prunable(cls, layer: keras.layers.Layer) -> keras.layers.Layer:
        """Give `layer` a `get_prunable_weights()` method returning its default weights.

        Example:

        >>> dense = PruneRegistry.make_prunable(keras.layers.Dense(2))
        >>> dense.build((None, 3))
        >>> [w.name for w in dense.get_prunable_weights()]
        ['kernel']
        """
        if not cls.supports(layer):
            raise ValueError(unsupported_message(layer))
        give_prunable_weights(layer)
        return layer


def unsupported_message(layer) -> str:
    return (
        f"Layer '{layer.name}' of type {type(layer).__name__} cannot be pruned: neither "
        "TFMOT's table nor kerasprune knows its prunable weights. Give it a "
        "`get_prunable_weights()` method (tfmot.sparsity.keras.PrunableLayer) returning "
        "the variables to prune."
    )


def give_prunable_weights(layer: keras.layers.Layer) -> None:
    """Attach TFMOT's `get_prunable_weights()` to `layer` unless it has one.

    The weights are TFMOT's defaults from kerasprune's layer specs
    (`prunable_weight_names(..., convention="tfmot")`). A layer whose weights are known
    only once built (attention, a custom block) gets the method when built: call again
    then.
    """
    if hasattr(layer, "get_prunable_weights"):
        return
    names = prunable_weight_names(layer, convention="tfmot")
    if names:
        getter = lambda: _named(layer, names)  # noqa: E731
    elif layer.built or _table_entry(layer) == []:
        getter = lambda: []  # noqa: E731  (TFMOT wraps it and prunes nothing)
    else:
        return
    object.__setattr__(layer, "get_prunable_weights", getter)


def _table_entry(layer) -> list | None:
    """TFMOT's weight names for `layer`'s class (or a base class), or None if unlisted."""
    for cls in type(layer).__mro__:
        if cls in PruneRegistry._LAYERS_WEIGHTS_MAP:
            return PruneRegistry._LAYERS_WEIGHTS_MAP[cls]
        if cls in PruneRegistry._RNN_LAYERS:
            return ["cell"]
    return None


def _named(layer, names) -> list:
    variables = named_variables(layer)
    return [variables[n] for n in names if n in variables]
