"""`PruningState`: what a pruning callback needs to resume, kept in the model's variables.

Most of a callback's progress is a pure function of fit's clock (the step) and of the
masks, which are variables already. What is not (ALLR's factor measured at each pruning,
how many cycles have pruned, Lottery-Ticket rewind weights, a learning rate read when the
run began) lives in a `PruningState` layer held by the model's first `PruneWrapper`. Its spec is
part of that wrapper's build config and its values are variables, so
`model.save("x.keras")` / `keras.saving.load_model` and `keras.callbacks.BackupAndRestore`
(which saves the model's weights) carry it: a run killed at any point resumes from exactly
the state it had. A callback reads it with `read` and writes it with `write`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import keras

from kerasprune import _compat


@keras.saving.register_keras_serializable(package="kerasprune")
class PruningState(keras.layers.Layer):
    """Named non-trainable variables, created from a `{name: shape}` spec.

    Created by the pruning callbacks (`attach_pruning_state`), not by users. It has no
    call: it only holds values.

    Args:
        spec: `{name: shape}` of the variables to hold (float32, zeros at first).

    Example:

    >>> state = PruningState({"d1": [3], "cycles_done": []})
    >>> state.write("d1", [0.5, 0.0, 0.0])
    >>> float(state.read("d1")[0]), state.read("cycles_done").shape
    (0.5, ())
    """

    def __init__(self, spec: Mapping[str, list[int]], **kwargs):
        kwargs.setdefault("name", "pruning_state")
        kwargs["trainable"] = False  # also when a config (which holds it) is loaded
        super().__init__(**kwargs)
        self.spec = {str(name): [int(d) for d in shape] for name, shape in spec.items()}
        self.values = {}
        for name, shape in self.spec.items():
            self.values[name] = self.add_weight(
                shape=tuple(shape), initializer="zeros", trainable=False, name=name
            )
        self.built = True

    def read(self, name: str) -> np.ndarray:
        """The current value of variable `name` as a numpy array."""
        return np.array(self.values[name])  # a writable copy (JAX arrays are read-only)

    def write(self, name: str, value) -> None:
        """Set variable `name` to `value` (its shape)."""
        self.values[name].assign(np.asarray(value, dtype="float32"))

    def call(self, inputs):
        return inputs

    def attach_to(self, holder: keras.layers.Layer) -> None:
        """Become `holder.pruning_state`, a tracked sublayer whose values its saves carry."""
        _compat.attach_sublayer(holder, "pruning_state", self)

    def get_config(self):
        return {**super().get_config(), "spec": self.spec}


def attach_pruning_state(holder: keras.layers.Layer,
                         spec: Mapping[str, list[int]]) -> PruningState:
    """The `PruningState` held by `holder` (the model's first `PruneWrapper`) with exactly
    `spec`, created if needed.

    A state with the same spec (e.g. restored by `load_model`) is kept as it is; any
    other is replaced by a fresh one (a different run).

    Example:

    >>> import keras, kerasprune
    >>> pruned = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    >>> holder = kerasprune.prune_wrappers(pruned)[0]
    >>> state = attach_pruning_state(holder, {"cycles_done": []})
    >>> attach_pruning_state(holder, {"cycles_done": []}) is state
    True
    """
    wanted = {str(k): [int(d) for d in v] for k, v in spec.items()}
    current = getattr(holder, "pruning_state", None)
    if current is not None and current.spec == wanted:
        return current
    state = PruningState(wanted, dtype="float32")
    state.attach_to(holder)
    return state
