"""L0 regularization with hard-concrete gates on output channels (Louizos et al. 2018).

Louizos, Welling & Kingma (2018), "Learning Sparse Neural Networks through L0
Regularization": every channel `c` gets a gate `z_c` in [0, 1] that multiplies its output,
drawn from a hard-concrete distribution with a learned location `log_alpha_c`:

    u ~ U(0, 1),  s = sigmoid((log u - log(1 - u) + log_alpha) / beta),
    z = min(1, max(0, s * (zeta - gamma) + gamma))

(a stretched, clipped concrete variable: exactly 0 or 1 with finite probability, and
differentiable in `log_alpha`). The model trains on its loss plus

    strength * sum_c |c| * P(z_c != 0),  P(z_c != 0) = sigmoid(log_alpha_c - beta * log(-gamma / zeta))

the expected number of nonzero weights (`|c|`: the weights of channel `c`), so `strength`
means the same as an L1 strength per weight. At inference the gate is deterministic:
`min(1, max(0, sigmoid(log_alpha) * (zeta - gamma) + gamma))`.

`L0Gates` is the penalty kind (`kerasprune.prune(model, pattern=Channels(), penalty=
L0Gates(1e-4))`); the wrapper holds one `HardConcreteGates` layer. Gates act on output
channels of Dense and Conv layers whose activation is linear or ReLU, so a gate folds
exactly into the channel's kernel and bias (`relu(a) * z == relu(a * z)` for `z >= 0`):
`L0PruningCallback` ranks the channels by `P(z != 0)`, keeps the top fraction as hard
masks at the exact target, folds the deterministic gates into the weights and turns the
gates off.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.core.validation import check_positive, is_int, is_number

_EPSILON = 1e-6  # keeps log(u) and log(1 - u) finite


@keras.saving.register_keras_serializable(package="kerasprune")
class L0Gates:
    """The L0 penalty kind: hard-concrete gates on every pruned layer's output channels.

    Args:
        strength: the factor of the expected-L0 penalty (> 0), per expected nonzero weight.
        initial_keep: the gates' deterministic value `sigmoid(log_alpha)` at the start,
            in (0, 1) (Louizos et al. start from a dropout rate of 0.5: 0.5; a pruned
            trained model: near 1).
        beta: the concrete temperature (2/3 in the paper).
        gamma, zeta: the stretch interval (-0.1, 1.1 in the paper), gamma < 0 < 1 < zeta.
        seed: seed of the gates' noise.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(
    ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu",
    ...                                          name="hidden"),
    ...                       keras.layers.Dense(1)]),
    ...     layers=["hidden"], pattern=kerasprune.Channels(), penalty=L0Gates(1e-3))
    >>> gates = kerasprune.prune_wrappers(model)[0].gates
    >>> gates.open_probability().round(3).tolist()
    [0.978, 0.978, 0.978]
    """

    def __init__(self, strength: float, *, initial_keep: float = 0.9, beta: float = 2 / 3,
                 gamma: float = -0.1, zeta: float = 1.1, seed: int = 0):
        self.strength = check_positive("strength", strength)
        if not (is_number(initial_keep) and 0.0 < initial_keep < 1.0):
            raise ValueError("`initial_keep` must be a float in (0, 1). "
                             f"Received: initial_keep={initial_keep!r}")
        self.initial_keep = float(initial_keep)
        self.beta = check_positive("beta", beta)
        if not (is_number(gamma) and is_number(zeta) and gamma < 0 and zeta > 1):
            raise ValueError("The stretch interval needs gamma < 0 and zeta > 1. "
                             f"Received: gamma={gamma!r}, zeta={zeta!r}")
        self.gamma, self.zeta = float(gamma), float(zeta)
        if not is_int(seed):
            raise TypeError(f"`seed` must be an int. Received: seed={seed!r}")
        self.seed = int(seed)

    def make_gates(self, layer: keras.layers.Layer, pruned_weights: list,
                   name: str) -> "HardConcreteGates":
        """The gates of `layer`'s output channels (checked: a Dense or Conv layer with a
        linear or ReLU activation), one per channel, sized by the channel's weights."""
        check_gated_layer(layer)
        channels = int(pruned_weights[0].shape[-1])
        sizes = sum(np.full(channels, int(np.prod(w.shape)) // channels) for w in pruned_weights)
        return HardConcreteGates(channels, sizes.tolist(), **self.get_config(),
                                 name=f"{name}_gates")

    def get_config(self) -> dict:
        return {"strength": self.strength, "initial_keep": self.initial_keep,
                "beta": self.beta, "gamma": self.gamma, "zeta": self.zeta, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict) -> "L0Gates":
        return cls(**config)

    def __repr__(self) -> str:
        return f"L0Gates({self.strength})"


GATED_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D,
                keras.layers.Conv3D)


def check_gated_layer(layer: keras.layers.Layer) -> None:
    """Refuse a layer whose output channels a gate cannot scale and fold exactly."""
    if not isinstance(layer, GATED_LAYERS) or getattr(
            layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(
            f"L0 gates scale the output channels of Dense and Conv1D/2D/3D layers "
            f"(channels_last). Received: layer '{layer.name}' of type {type(layer).__name__}; "
            "exclude it from pruning (`layers=` / `exclude=`).")
    activation = getattr(layer, "activation", None)
    if activation not in (None, keras.activations.linear, keras.activations.relu):
        raise ValueError(
            f"L0 gates fold into a channel's weights only after a linear or ReLU "
            f"activation. Received: layer '{layer.name}' with activation "
            f"{getattr(activation, '__name__', activation)!r}; give it a separate "
            "Activation layer.")


@keras.saving.register_keras_serializable(package="kerasprune")
class HardConcreteGates(keras.layers.Layer):
    """One hard-concrete gate per output channel, multiplying a layer's output.

    Held by a `PruneWrapper` whose penalty is `L0Gates` (not created by users). In
    training the gates are sampled (one draw per channel and step); in inference they
    are deterministic. The layer adds the expected-L0 penalty to the model's losses.
    Once turned off (`active` 0: after `L0PruningCallback` folded them into the
    weights) it passes outputs through and adds no loss.

    Args:
        channels: the number of gates.
        group_sizes: the weights each gate switches off (one int per channel).
        strength, initial_keep, beta, gamma, zeta, seed: as for `L0Gates`.

    Example:

    >>> gates = HardConcreteGates(2, [3, 3], strength=0.1)
    >>> round(gates.expected_l0(), 3)  # 2 channels x 3 weights x P(open)
    5.868
    """

    def __init__(self, channels: int, group_sizes: list[int], *, strength: float,
                 initial_keep: float = 0.9, beta: float = 2 / 3, gamma: float = -0.1,
                 zeta: float = 1.1, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.group_sizes = [int(n) for n in group_sizes]
        self.options = L0Gates(strength, initial_keep=initial_keep, beta=beta, gamma=gamma,
                               zeta=zeta, seed=seed)
        self.log_alpha = self.add_weight(
            shape=(self.channels,), name="log_alpha", trainable=True,
            initializer=keras.initializers.Constant(np.log(initial_keep / (1 - initial_keep))))
        self.active = self.add_weight(shape=(), name="active", trainable=False,
                                      initializer="ones")
        self.seed_generator = keras.random.SeedGenerator(seed, name="gate_noise")
        self.built = True

    def call(self, outputs, training=None):
        o = self.options
        if training:
            u = keras.random.uniform((self.channels,), _EPSILON, 1 - _EPSILON,
                                     seed=self.seed_generator)
            s = keras.ops.sigmoid((keras.ops.log(u) - keras.ops.log(1 - u)
                                   + self.log_alpha) / o.beta)
        else:
            s = keras.ops.sigmoid(self.log_alpha)
        z = keras.ops.clip(s * (o.zeta - o.gamma) + o.gamma, 0.0, 1.0)
        z = self.active * z + (1.0 - self.active)
        self.add_loss(self.active * o.strength * keras.ops.sum(
            np.asarray(self.group_sizes, "float32") * self._open(self.log_alpha)))
        return outputs * keras.ops.cast(z, outputs.dtype)

    def _open(self, log_alpha):
        o = self.options
        return keras.ops.sigmoid(log_alpha - float(o.beta * np.log(-o.gamma / o.zeta)))

    def open_probability(self) -> np.ndarray:
        """`P(z_c != 0)` per channel: `sigmoid(log_alpha - beta * log(-gamma / zeta))`."""
        return np.asarray(self._open(np.asarray(self.log_alpha, np.float64)))

    def expected_l0(self) -> float:
        """The expected number of nonzero weights the gates let through."""
        return float(np.sum(np.asarray(self.group_sizes) * self.open_probability()))

    def deterministic(self) -> np.ndarray:
        """The inference gates: `min(1, max(0, sigmoid(log_alpha) * (zeta - gamma) + gamma))`."""
        o = self.options
        s = 1.0 / (1.0 + np.exp(-np.asarray(self.log_alpha, np.float64)))
        return np.clip(s * (o.zeta - o.gamma) + o.gamma, 0.0, 1.0)

    @property
    def is_active(self) -> bool:
        """Whether the gates still scale the outputs (before `L0PruningCallback` folds them)."""
        return bool(np.asarray(self.active) > 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    # Keras saves no seed generator's state, so a resumed run would draw other noise:
    # the gates save it with their own variables (`BackupAndRestore`, `.keras` files).
    def _saved_variables(self) -> list:
        return [self.log_alpha, self.active, self.seed_generator.state]

    def save_own_variables(self, store):
        for i, variable in enumerate(self._saved_variables()):
            store[f"{i}"] = variable

    def load_own_variables(self, store):
        saved = self._saved_variables()
        if len(store.keys()) != len(saved):
            raise ValueError(
                f"Layer '{self.name}' expects {len(saved)} saved variables (log_alpha, "
                f"active, noise state). Received: {len(store.keys())} variables")
        for i, variable in enumerate(saved):
            variable.assign(store[f"{i}"])

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": self.channels,
                "group_sizes": self.group_sizes, **self.options.get_config()}


def fold_gates(wrapper) -> None:
    """Multiply each output channel's kernel column and bias by its deterministic gate
    and turn the gates off: the wrapper computes what it computed with its gates in
    inference (exact for linear and ReLU activations, the only ones gated)."""
    gates = wrapper.gates
    if gates is None or not gates.is_active:
        return
    z = gates.deterministic()
    for name in ("kernel", "bias"):
        variable = getattr(wrapper.layer, name, None)
        if variable is not None:
            variable.assign((np.asarray(variable, np.float64) * z).astype(variable.dtype))
    gates.active.assign(0.0)


def open_probabilities(wrapper) -> dict[str, np.ndarray]:
    """`{weight path: P(z != 0) of its channel, per weight}` for a gated wrapper's pruned
    weights: the learned scores the final masks rank."""
    p = wrapper.gates.open_probability()
    return {w.path: np.broadcast_to(p, tuple(w.shape)).astype(np.float64)
            for w in wrapper.pruned_weights}
