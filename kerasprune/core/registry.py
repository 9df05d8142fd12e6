"""The layer specs: one `LayerSpec` per layer type, everything kerasprune knows about it.

A spec says which weights of a layer are prunable (kerasprune's defaults and, where they
differ, TFMOT's, side by side), how its multiply-accumulates are counted (the weights
applied once per position, where it is applied, and products without weights such as
attention scores), and, once `kerasprune.structured` registers them, its channel rules
(how channels flow through it, which weights hold them, how to rebuild it smaller).
`sparsity_report`'s MAC counts, the channel costs of structured pruning and its FLOPs
targets all read the same spec, so a new layer type is taught once.

Specs are looked up along the class hierarchy (a subclass inherits its base's facts,
each fact from the nearest class that states it) or by Keras registered name for layers
of other packages. Kernels of dense, convolution, embedding and recurrent layers are
prunable; biases and normalization parameters never are. Composite layers (attention,
RNN layers and their cells, `TimeDistributed`, `Bidirectional`, any custom block) are
pruned through the layers they hold: their prunable weights are those of their
sublayers, named by path relative to the composite, e.g. `query/kernel` in a
`MultiHeadAttention` or `forward_lstm/lstm_cell/recurrent_kernel` in a
`Bidirectional(LSTM)`. A custom layer becomes prunable by defining a method
`get_prunable_weights()` returning its variables, or through `register_prunable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np

from kerasprune import _compat

#: `(layer, input shapes, output shape) -> int`, shapes without the batch axis.
Counter = Callable[[keras.layers.Layer, list, tuple], int]


@dataclass
class LayerSpec:
    """What kerasprune knows about one layer type; each fact is None when not stated.

    Attributes:
        prunable: the names of the variables pruned by default.
        tfmot_prunable: TFMOT's default where it differs from `prunable`
            (`kerasprune.tfmot` reads it).
        mac_weights: the variables (attribute paths, `"cell.kernel"`) each of whose
            entries is one multiply-accumulate per position the layer is applied at
            (`()`: its weights take none, as an embedding's lookup).
        positions: where the layer applies those weights, per example.
        extra_macs: multiply-accumulates without weights (attention's score products).
        composite: the layer creates its prunable sublayers in `build`.
        never_pruned: its weights are left dense on purpose (normalization): no warning.
        channel_rules: `kerasprune.structured.layer_rules.LayerRule`s, first match used.
    """

    prunable: tuple[str, ...] | None = None
    tfmot_prunable: tuple[str, ...] | None = None
    mac_weights: tuple[str, ...] | None = None
    positions: Counter | None = None
    extra_macs: Counter | None = None
    composite: bool | None = None
    never_pruned: bool | None = None
    channel_rules: list = field(default_factory=list)


_SPECS: dict[type | str, LayerSpec] = {}


def spec_of(layer_class: type | str) -> LayerSpec:
    """The spec stated for exactly `layer_class` (a class or a registered name), created
    empty if there is none yet: register facts by setting its attributes."""
    return _SPECS.setdefault(layer_class, LayerSpec())


def specs_along(layer_or_class) -> list[LayerSpec]:
    """The specs of a layer's class and its bases, nearest first (registered names too)."""
    cls = layer_or_class if isinstance(layer_or_class, type) else type(layer_or_class)
    found = []
    for base in cls.__mro__:
        for key in (base, keras.saving.get_registered_name(base)):
            if key in _SPECS:
                found.append(_SPECS[key])
    return found


def fact(layer_or_class, name: str):
    """The nearest stated value of the spec fact `name` for a layer (None if none).

    Example:

    >>> fact(keras.layers.Conv2D(2, 3), "prunable"), fact(keras.layers.ReLU(), "prunable")
    (('kernel',), None)
    """
    for spec in specs_along(layer_or_class):
        value = getattr(spec, name)
        if value is not None:
            return value
    return None


# -- where a layer applies its weights ---------------------------------------------------

def each_position(layer, inputs: list, output: tuple) -> int:
    """Dense, EinsumDense-style layers: every position but the output's last axis."""
    return int(np.prod(output[:-1], dtype=np.int64))


def per_output_channel(layer, inputs: list, output: tuple) -> int:
    """Convolutions: every output position (the output's size over its channels)."""
    return _per_channel(output, getattr(layer, "data_format", "channels_last"))


def per_input_channel(layer, inputs: list, output: tuple) -> int:
    """Transposed convolutions: every input position."""
    return _per_channel(inputs[0], getattr(layer, "data_format", "channels_last"))


def per_time_step(layer, inputs: list, output: tuple) -> int:
    """Recurrent layers: every time step of the input."""
    return int(inputs[0][0])


def conv_recurrent_positions(layer, inputs: list, output: tuple) -> int:
    """ConvLSTM: every output position of every time step (its input and recurrent
    convolutions both give the step's output positions)."""
    step = output[1:] if layer.return_sequences else output
    return per_time_step(layer, inputs, output) * _per_channel(step, layer.data_format)


def einsum_positions(layer, inputs: list, output: tuple) -> int:
    """EinsumDense: the output's size over the part of it that the kernel spans."""
    inputs_spec, output_spec = layer.equation.split("->")
    kernel_letters = set(inputs_spec.split(",")[1])
    letters = output_spec.replace("...", "")
    # The shape has no batch axis: align its axes with the equation's from the right.
    in_kernel = [d for letter, d in zip(letters[::-1], output[::-1]) if letter in kernel_letters]
    return int(np.prod(output, dtype=np.int64) // max(int(np.prod(in_kernel)), 1))


def attention_scores(layer, inputs: list, output: tuple) -> int:
    """MultiHeadAttention's products without weights: scores and their weighted sum."""
    query, value = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    t_q = int(np.prod(query[:-1], dtype=np.int64))
    t_v = int(np.prod(value[:-1], dtype=np.int64))
    return score_macs(t_q, t_v, layer.num_heads, layer.key_dim, layer.value_dim or layer.key_dim)


def score_macs(t_q: int, t_v: int, heads: int, key_dim: int, value_dim: int) -> int:
    """Attention of `t_q` queries over `t_v` values: `q . k` scores, then their weighted
    sum of the values, per head."""
    return t_q * t_v * heads * (key_dim + value_dim)


def _per_channel(shape: tuple, data_format: str) -> int:
    channels = shape[0] if data_format == "channels_first" else shape[-1]
    return int(np.prod(shape, dtype=np.int64) // max(int(channels), 1))


def _state() -> None:
    layers = keras.layers
    kernel = ("kernel",)
    for cls in (layers.Dense, layers.Conv1D, layers.Conv2D, layers.Conv3D,
                layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose):
        spec_of(cls).prunable = spec_of(cls).mac_weights = kernel
    spec_of(layers.Dense).positions = each_position
    for cls in (layers.Conv1D, layers.Conv2D, layers.Conv3D):
        spec_of(cls).positions = per_output_channel
    for cls in (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose):
        spec_of(cls).positions = per_input_channel
    spec_of(layers.Conv1DTranspose).tfmot_prunable = ()  # not in TFMOT's registry
    einsum = spec_of(layers.EinsumDense)
    einsum.prunable = einsum.mac_weights = kernel
    einsum.positions = einsum_positions
    for cls in (layers.DepthwiseConv1D, layers.DepthwiseConv2D):
        spec = spec_of(cls)
        spec.prunable = spec.mac_weights = kernel
        spec.positions = per_output_channel
        spec.tfmot_prunable = ()  # TFMOT wraps it but prunes nothing
    for cls in (layers.SeparableConv1D, layers.SeparableConv2D):
        spec = spec_of(cls)
        spec.prunable = spec.mac_weights = ("depthwise_kernel", "pointwise_kernel")
        spec.positions = per_output_channel
        spec.tfmot_prunable = ("pointwise_kernel",)
    for cls in (layers.Embedding, "keras_hub>PositionEmbedding"):
        spec_of(cls).prunable = ("embeddings",)
        spec_of(cls).mac_weights = ()  # a lookup: no multiply-accumulates
    cells = (layers.SimpleRNNCell, layers.LSTMCell, layers.GRUCell,
             _compat.conv_lstm_cell_class())
    for cls in cells:
        spec_of(cls).prunable = ("kernel", "recurrent_kernel")
    for cls in (layers.SimpleRNN, layers.LSTM, layers.GRU,
                layers.ConvLSTM1D, layers.ConvLSTM2D, layers.ConvLSTM3D):
        spec = spec_of(cls)
        spec.mac_weights = ("cell.kernel", "cell.recurrent_kernel")
        spec.positions = per_time_step
    for cls in (layers.ConvLSTM1D, layers.ConvLSTM2D, layers.ConvLSTM3D):
        spec_of(cls).positions = conv_recurrent_positions
    for cls in (layers.MultiHeadAttention, layers.GroupQueryAttention, layers.RNN):
        spec_of(cls).composite = True
    spec_of(layers.MultiHeadAttention).extra_macs = attention_scores
    for cls in (layers.BatchNormalization, layers.LayerNormalization,
                layers.GroupNormalization, layers.UnitNormalization,
                layers.RMSNormalization, layers.Normalization):
        spec_of(cls).never_pruned = True


_state()

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
    if not isinstance(weight_names, (list, tuple)) or not weight_names or not all(
        isinstance(n, str) and n for n in weight_names
    ):
        raise TypeError(
            "`weight_names` must be a non-empty list of variable names such as ['kernel']. "
            f"Received: weight_names={weight_names!r}"
        )
    spec_of(layer_class).prunable = tuple(weight_names)


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


def prunable_weight_names(layer: keras.layers.Layer, *,
                          convention: str = "kerasprune") -> tuple[str, ...] | None:
    """Names (relative to `layer`) of its prunable variables, or None if none is known.

    An empty tuple means known but not built yet: the names exist once it is built.
    `convention="tfmot"` gives TFMOT's defaults where they differ (a `DepthwiseConv2D`
    prunes nothing, a `SeparableConv2D` only its pointwise kernel).

    Example:

    >>> import keras
    >>> prunable_weight_names(keras.layers.Dense(3))
    ('kernel',)
    >>> prunable_weight_names(keras.layers.SeparableConv2D(2, 3), convention="tfmot")
    ('pointwise_kernel',)
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> mha.build((None, 3, 8), (None, 3, 8))
    >>> prunable_weight_names(mha)
    ('query/kernel', 'key/kernel', 'value/kernel', 'attention_output/kernel')
    """
    own = _own_prunable_names(layer, convention)
    if own is not None:
        return own
    names = []
    for sublayer in _compat.direct_sublayers(layer):
        nested = prunable_weight_names(sublayer, convention=convention) or ()
        names += [f"{sublayer.name}/{name}" for name in nested]
    if names:
        return tuple(names)
    if not layer.built and (fact(layer, "composite") or _wraps_known_layer(layer)):
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
    return bool(fact(layer, "never_pruned"))


def mac_variables(layer: keras.layers.Layer) -> list:
    """The variables of a built `layer` each of whose entries is one multiply-accumulate
    per position (see `LayerSpec.mac_weights`); empty for other layers."""
    if not layer.built:
        return []
    variables = []
    for path in fact(layer, "mac_weights") or ():
        value = layer
        for attribute in path.split("."):
            value = getattr(value, attribute)
        variables.append(value)
    return variables


def layer_macs(layer: keras.layers.Layer, inputs: list, output: tuple,
               weights: int | None = None) -> int:
    """Multiply-accumulates of one call of `layer` (shapes without the batch axis):
    its positions times `weights` (by default its MAC weights' size), plus its products
    without weights. What `sparsity_report` and the channel costs both count."""
    if weights is None:
        weights = sum(int(np.prod(v.shape)) for v in mac_variables(layer))
    positions = fact(layer, "positions")
    extra = fact(layer, "extra_macs")
    total = positions(layer, inputs, output) * weights if positions and weights else 0
    return total + (extra(layer, inputs, output) if extra else 0)


def _own_prunable_names(layer, convention: str = "kerasprune") -> tuple[str, ...] | None:
    """The names a layer declares itself (method or spec), or None."""
    if hasattr(layer, "get_prunable_weights"):
        if not layer.built:
            return ()
        paths = {id(v): name for name, v in named_variables(layer).items()}
        return tuple(paths[id(v)] for v in layer.get_prunable_weights())
    for spec in specs_along(layer):
        names = spec.tfmot_prunable if convention == "tfmot" else None
        names = spec.prunable if names is None else names
        if names is not None:
            return names
    return None


def _wraps_known_layer(layer) -> bool:
    inner = getattr(layer, "layer", None) if isinstance(layer, keras.layers.Wrapper) else None
    return inner is not None and prunable_weight_names(inner) is not None
