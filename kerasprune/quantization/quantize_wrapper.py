"""`QuantizeWrapper`: a layer run with int8 fake quantization around it and in its weights.

The wrapped layer runs its own `call`; only the values it reads change. Its kernel is read
fake-quantized (`keras.StatelessScope` maps the kernel variable to its quantized value for
the duration of the call, on TensorFlow and JAX alike), its inputs (when they are the
model's) and its output are fake-quantized over tracked ranges (`ActivationRange`). The
kernel variable itself stays float and is what the optimizer updates (straight-through),
so a `PruneWrapper` inside keeps its masks exactly as before: the mask is part of the
kernel's constraint, applied after every optimizer step, and a masked 0.0 quantizes to 0.
"""

from __future__ import annotations

import keras

from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.validation import is_bool
from kerasprune.quantization import layer_roles, modes
from kerasprune.quantization.activation_range import (
    DEFAULT_EMA_DECAY,
    ActivationRange,
    check_ema_decay,
)
from kerasprune.quantization.fake_quant import fake_quantize_weight


@keras.saving.register_keras_serializable(package="kerasprune")
class QuantizeWrapper(keras.layers.Wrapper):
    """Runs a layer quantization-aware: int8 fake quantization of its kernel (per output
    channel, symmetric) and of its output (and inputs, if asked) over tracked ranges.

    Usually created by `kerasprune.quantization.quantize_model(model)`, which wraps every
    layer of a model and decides which ones quantize their inputs.

    Args:
        layer: the layer to wrap: a layer type `kerasprune.quantization.layer_roles`
            knows, or a `PruneWrapper` around one (its masks stay exact).
        quantize_inputs: also fake-quantize the layer's input (for layers that read a
            model input: the TFLite file's input scale comes from this range).
        ema_decay: the moving-average decay of the activation ranges, in [0, 1).

    Example:

    >>> import numpy as np, keras
    >>> wrapper = QuantizeWrapper(keras.layers.Dense(3), quantize_inputs=True)
    >>> x = np.random.default_rng(0).normal(size=(200, 5)).astype("float32")
    >>> _ = wrapper(x, training=True)                  # a training batch sets the ranges
    >>> [r.name for r in wrapper.ranges]
    ['input_range', 'output_range']
    >>> len(np.unique(np.asarray(wrapper(x)))) <= 256   # 600 outputs on 256 int8 levels
    True
    """

    def __init__(
        self,
        layer: keras.layers.Layer,
        *,
        quantize_inputs: bool = False,
        ema_decay: float = DEFAULT_EMA_DECAY,
        **kwargs,
    ):
        inner = _check_layer(layer)
        if not is_bool(quantize_inputs):
            raise TypeError(
                "`quantize_inputs` must be True or False. "
                f"Received: quantize_inputs={quantize_inputs!r}")
        ema_decay = check_ema_decay(ema_decay)
        kwargs.setdefault("name", f"quant_{inner.name}")
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)
        self.quantize_inputs = bool(quantize_inputs)
        self.ema_decay = ema_decay
        self.input_range = (ActivationRange(ema_decay, name="input_range")
                            if quantize_inputs else None)
        self.output_range = (ActivationRange(ema_decay, name="output_range")
                             if layer_roles.has_output_range(inner) else None)

    @property
    def inner_layer(self) -> keras.layers.Layer:
        """The layer that computes: the wrapped one, or the one inside its PruneWrapper."""
        return self.layer.layer if isinstance(self.layer, PruneWrapper) else self.layer

    @property
    def quantized_weights(self) -> list:
        """`(variable, channel axes)` of the weights read fake-quantized (the kernel)."""
        axes = layer_roles.channel_axes(self.inner_layer)
        if axes is None or not self.inner_layer.built:
            return []
        return [(self.inner_layer.kernel, axes)]

    @property
    def ranges(self) -> list[ActivationRange]:
        """The activation ranges this wrapper tracks (input first)."""
        return [r for r in (self.input_range, self.output_range) if r is not None]

    def build(self, input_shape=None):
        if not self.layer.built and input_shape is not None:
            self.layer.build(input_shape)
        for quantizer in self.ranges:
            if not quantizer.built:
                quantizer.build(())
        self.built = True

    def get_build_config(self):
        # The wrapped layer's own build config: a PruneWrapper's holds its resume state.
        return {"layer": self.layer.get_build_config()}

    def build_from_config(self, config):
        if config.get("layer") and not self.layer.built:
            self.layer.build_from_config(config["layer"])
        self.build()

    def call(self, inputs, *args, **kwargs):
        if self.input_range is not None:
            inputs = self.input_range(inputs)
        weights = self.quantized_weights
        if weights and not modes.converter_tracing():
            quantized = {id(v): fake_quantize_weight(v, axes) for v, axes in weights}
            outputs, losses = _call_with_values(self.layer, quantized, inputs, *args, **kwargs)
            for loss in losses:
                self.add_loss(loss)
        else:  # the TFLite converter quantizes the float weights by the same rule
            outputs = self.layer(inputs, *args, **kwargs)
        if self.output_range is not None:
            outputs = self.output_range(outputs)
        return outputs

    def compute_mask(self, inputs, mask=None):
        return self.layer.compute_mask(inputs, mask)

    def get_config(self):
        return {**super().get_config(), "quantize_inputs": self.quantize_inputs,
                "ema_decay": self.ema_decay}


def _call_with_values(layer, values: dict, *args, **kwargs):
    """`layer(*args, **kwargs)` with some of its variables read as other values.

    Every variable of the layer is mapped (the others to their current value, which keeps
    JAX's traced values when the train step runs in its own stateless scope); updates the
    layer makes to its variables in the call (a normalization layer's statistics) are
    assigned after it, and the losses it adds are returned to be added again.
    """
    mapping = [(v, values.get(id(v), v.value)) for v in layer.variables]
    with keras.StatelessScope(mapping, collect_losses=True) as scope:
        outputs = layer(*args, **kwargs)
    for variable, value in mapping:
        current = scope.get_current_value(variable)
        if current is not None and current is not value and id(variable) not in values:
            variable.assign(current)
    return outputs, list(scope.losses)


def _check_layer(layer) -> keras.layers.Layer:
    """The computing layer of `layer` (inside a PruneWrapper), checked."""
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            "`layer` must be a keras.layers.Layer. "
            f"Received: layer={layer!r} of type {type(layer).__name__}")
    if isinstance(layer, QuantizeWrapper):
        raise ValueError(f"Layer '{layer.name}' is already a QuantizeWrapper; wrap it only once.")
    inner = layer.layer if isinstance(layer, PruneWrapper) else layer
    if not layer_roles.is_known(inner):
        raise ValueError(
            f"Layer '{inner.name}' of type {type(inner).__name__} cannot be quantized by "
            f"kerasprune.quantization. Known layer types: {layer_roles.known_types()}. "
            f"Received: layer={inner.name!r}")
    return inner
