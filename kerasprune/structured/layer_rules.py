"""One rule per layer type: how channels flow through a layer, how it groups, how it shrinks.

A `LayerRule` answers, in one class, everything structured pruning asks about one kind
of layer:

- `propagate`: given the channels of the layer's inputs (their atoms, and the constant each
  carries, NaN when not constant), which channels does its output hold and with what
  constants? (see `kerasprune.structured.channel_analysis`);
- `slots`: which of the layer's weights hold a channel, along which axis, so that
  pruning a channel group writes every member's mask (`ChannelSlot`);
- `cost`: the layer's multiply-accumulates and parameters for the channels kept;
- `timed_channels` and `timed_layer`: which kept channel counts its latency depends on,
  and the layer alone with those counts, to time it (`kerasprune.structured.latency_cost`);
- `rebuild`: given the channels that survive, the config and weights of the smaller copy.

The rules are the channel facts of a layer type's spec (`kerasprune.core.registry`, the
one place everything kerasprune knows about a layer type lives: its prunable weights and
its multiply-accumulates too, which `cost` reads). `rule_for(layer, inputs)` finds the
rule of a layer there (looked up along the class hierarchy, so subclasses inherit their
base's rule).
A layer without a rule is opaque: all of its input channels are kept, its outputs get
new channels. Adding a layer type is one `LayerRule` subclass and one registration. The
built-in rules live in `conv_rules`, `channelwise_rules` and `attention_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import keras

from kerasprune.core.registry import layer_macs, spec_of, specs_along


@dataclass(frozen=True)
class ChannelSlot:
    """Where a layer's weights hold channels: channel `j` along `axes[name]` of the weight
    `name` belongs to atom `atoms[j]`.

    `scored` names the weights whose values score the channel (kernels); the others
    (biases, normalization parameters) only follow the decision.
    """

    layer: keras.layers.Layer
    atoms: np.ndarray
    axes: dict[str, int]
    scored: tuple[str, ...] = field(default_factory=tuple)


class LayerRule:
    """Base class: how one kind of layer moves channels and is rebuilt with fewer.

    Subclasses implement `propagate`; the other methods default to a layer without
    per-channel weights: no slots, no cost, an unchanged copy. A rule only sees layers
    for which `rule_for` chose it: channels-last layers with the number of inputs given
    by `single_input`, and for which `applies` returns True. `layer` is the Keras layer
    (unwrapped if the model holds a `PruneWrapper`), `inputs` its input tensors and
    `output` its output tensor.

    Example:

    >>> class Negate(keras.layers.Layer):
    ...     def call(self, x):
    ...         return -x
    >>> class NegateRule(LayerRule):
    ...     def propagate(self, analysis, layer, inputs, output):
    ...         x = inputs[0]
    ...         analysis.assign(output, analysis.atoms(x), -analysis.values(x))
    >>> register_layer_rule(Negate, NegateRule())
    >>> type(rule_for(Negate(), [keras.Input((3,))])).__name__
    'NegateRule'
    """

    #: True for layers called on one tensor, False for layers merging several, None: any.
    single_input: bool | None = True

    def applies(self, layer, inputs) -> bool:
        """Whether this rule understands this particular layer (its arguments)."""
        return True

    def condition(self, layer) -> str:
        """What `applies` asks of a layer of this kind, in words ("depth_multiplier=1"),
        for the warning that names a layer no rule follows; "" if nothing is asked."""
        return ""

    def propagate(self, analysis, layer, inputs, output) -> None:
        """Give `output` its atoms and constants (`analysis.assign` or `analysis.fresh`)."""
        raise NotImplementedError

    def slots(self, analysis, layer, inputs, output) -> list[ChannelSlot]:
        """The layer's weights that hold channels (empty: nothing to mask)."""
        return []

    def cost(self, decision, layer, inputs, output) -> tuple[int, int]:
        """`(multiply-accumulates, parameters)` for the channels `decision.keep` keeps
        (the MACs through `macs`, the spec's count)."""
        return 0, 0

    def rebuild(self, decision, layer, inputs, output, config: dict, weights: dict):
        """`(config, weights)` of the smaller copy; `weights` maps names to arrays."""
        return config, weights

    def timed_channels(self, decision, layer, inputs, output) -> tuple[int, ...] | None:
        """The kept channel counts the layer's latency depends on under `decision`
        (`(inputs, outputs)` of a convolution), or None when its time is not modeled."""
        return None

    def timed_layer(self, layer, inputs, counts: tuple[int, ...]) -> tuple[dict, tuple]:
        """`(serialized layer, input shape without the batch axis)` of `layer` with the
        channel counts `counts` (as `timed_channels` orders them), to time it alone."""
        raise NotImplementedError

    def rebuilt_class(self, decision, layer) -> type:
        """The class of the smaller copy (the layer's own unless its config cannot say it)."""
        return type(layer)


def register_layer_rule(layer_class: type | str, rule: LayerRule) -> None:
    """Use `rule` for `layer_class` and its subclasses, before any earlier rule of the class
    (the first rule whose `applies` accepts a layer is used).

    `layer_class` is a Keras layer class, a `keras.Operation` class (for the `keras.ops`
    calls a Functional graph records), or the Keras registered name of a class of another
    package (`"keras_hub>TransformerEncoder"`), which then need not be imported.

    Example:

    >>> class Identity(keras.layers.Layer):
    ...     def call(self, x):
    ...         return x
    >>> from kerasprune.structured.channelwise_rules import PassThroughRule
    >>> register_layer_rule(Identity, PassThroughRule())
    """
    if not isinstance(layer_class, str) and not (
            isinstance(layer_class, type) and issubclass(layer_class, keras.Operation)):
        raise TypeError(
            "`layer_class` must be a subclass of keras.layers.Layer (or keras.Operation), "
            f"or a registered class name. Received: layer_class={layer_class!r}"
        )
    if not isinstance(rule, LayerRule):
        raise TypeError(f"`rule` must be a LayerRule instance. Received: rule={rule!r}")
    spec_of(layer_class).channel_rules.insert(0, rule)


def rule_for(layer, inputs) -> LayerRule | None:
    """The rule that understands `layer` called on `inputs`, or None (opaque layer).

    Example:

    >>> from kerasprune.structured import channel_analysis  # registers the built-in rules
    >>> type(rule_for(keras.layers.Dense(4), [keras.Input((3,))])).__name__
    'MixerRule'
    >>> rule_for(keras.layers.LayerNormalization(), [keras.Input((3,))]) is None
    True
    """
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    for spec in specs_along(layer):
        for rule in spec.channel_rules:
            arity = rule.single_input is None or rule.single_input == (len(inputs) == 1)
            if arity and rule.applies(layer, inputs):
                return rule
    return None


def why_no_rule(layer, inputs) -> str:
    """Why `rule_for(layer, inputs)` finds no rule, in words for a warning.

    Example:

    >>> from kerasprune.structured import channel_analysis  # registers the built-in rules
    >>> why_no_rule(keras.layers.DepthwiseConv2D(3, depth_multiplier=2), [keras.Input((4, 4, 2))])
    'structured pruning follows DepthwiseConv2D layers only with depth_multiplier=1'
    """
    kind = type(layer).__name__
    data_format = getattr(layer, "data_format", "channels_last")
    if data_format != "channels_last":
        return (f"structured pruning follows channels_last layers only, and this {kind} has "
                f"data_format={data_format!r}")
    conditions = [rule.condition(layer) for spec in specs_along(layer)
                  for rule in spec.channel_rules]
    if any(conditions) and all(conditions):
        return f"structured pruning follows {kind} layers only with {', or '.join(conditions)}"
    if conditions:
        return f"structured pruning does not follow this {kind} called on {len(inputs)} inputs"
    return f"structured pruning has no rule for {kind} layers"


def macs(layer, inputs, output, weights: int) -> int:
    """Multiply-accumulates of `layer` applying `weights` kernel entries (the channels it
    keeps), as `sparsity_report` counts them (`kerasprune.core.registry.layer_macs`)."""
    return layer_macs(layer, [tuple(t.shape[1:]) for t in inputs], tuple(output.shape[1:]),
                      weights)


def kept(decision, tensor) -> int:
    """The channels of `tensor` a decision keeps."""
    return int(decision.keep(tensor).sum())


def resized(layer, inputs, n_in: int, changes: dict) -> tuple[dict, tuple]:
    """`layer` serialized with `changes` in its config (and no name), and its input shape
    with `n_in` channels: what `timed_layer` returns."""
    serialized = keras.saving.serialize_keras_object(layer)
    config = {k: v for k, v in serialized["config"].items() if not _untimed(k)}
    kept_keys = ("module", "class_name", "registered_name")  # not the built shapes
    return {**{k: serialized.get(k) for k in kept_keys}, "config": {**config, **changes}}, (
        *tuple(inputs[0].shape[1:-1]), int(n_in))


def _untimed(key: str) -> bool:
    """Config entries that do not change how long a layer takes (its name, how its
    weights are made and trained)."""
    return key in ("name", "trainable", "dtype", "lora_rank", "lora_alpha") or key.endswith(
        ("_initializer", "_regularizer", "_constraint"))


def variables_by_name(layer: keras.layers.Layer) -> dict:
    """The variables of `layer` by their path below it: `"kernel"`, `"query/kernel"`."""
    prefix = f"{layer.path}/"
    return {v.path[len(prefix):] if v.path.startswith(prefix) else v.path.split("/")[-1]: v
            for v in layer.weights}


def channels(tensor) -> int:
    """The size of a tensor's last (channel) axis, 0 when unknown or scalar."""
    shape = tensor.shape
    return 0 if len(shape) == 0 or shape[-1] is None else int(shape[-1])


def positions(tensor) -> int:
    """Positions per example of a tensor: the product of its axes between batch and channels."""
    return int(np.prod([d or 1 for d in tensor.shape[1:-1]], dtype=np.int64))


_POINTWISE_ACTIVATION_NAMES = {
    "linear", "relu", "relu6", "sigmoid", "tanh", "swish", "silu", "gelu", "elu", "selu",
    "softplus", "softsign", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu",
    "mish", "exponential",
}


def is_pointwise(activation) -> bool:
    """True for an activation function applied to each value on its own (not softmax)."""
    name = keras.activations.serialize(activation)  # a config dict for a layer or object
    return isinstance(name, str) and name in _POINTWISE_ACTIVATION_NAMES


def apply_known(function, values: np.ndarray) -> np.ndarray:
    """`function` on the known constants of `values`; unknown ones (NaN) stay unknown."""
    known = np.nan_to_num(values).astype(np.float32)[None, :]
    result = np.asarray(function(known), dtype=np.float64)[0]
    result[np.isnan(values)] = np.nan
    return result


def activate(layer, values: np.ndarray) -> np.ndarray:
    """The layer's own activation (Conv/Dense `activation=`) applied to its constants."""
    activation = getattr(layer, "activation", None)
    if activation is None:
        return values
    if not is_pointwise(activation):
        return np.full(values.shape, np.nan)
    return apply_known(activation, values)
