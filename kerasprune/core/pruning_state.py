"""`PruningState`: what a pruning callback needs to resume, kept in the model's variables.

Most of a callback's progress is a pure function of fit's clock (the step) and of the
masks, which are variables already. What is not (ALLR's factor measured at each pruning,
how many cycles have pruned, Lottery-Ticket rewind weights, a learning rate read when the
run began) lives in a `PruningState` layer held by the model's first `PruneWrapper`. It is
part of that wrapper's config, so `model.save("x.keras")` / `keras.saving.load_model` and
`keras.callbacks.BackupAndRestore` (which saves the model's weights) carry it: a run
killed at any point resumes from exactly the state it had.
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
    >>> _ = state.values["d1"].assign([0.5, 0.0, 0.0])
    >>> float(state.values["d1"][0]), tuple(state.values["cycles_done"].shape)
    (0.5, ())
    """

    def __init__(self, spec: Mapping[str, list[int]], **kwargs):
        kwargs.setdefault("name", "pruning_state")
        kwargs.pop("trainable", None)  # in its own config; never trainable
        super().__init__(trainable=False, **kwargs)
        self.spec = {str(name): [int(d) for d in shape] for name, shape in spec.items()}
        self.values = {}
        for name, shape in self.spec.items():
            self.values[name] = self.add_weight(
                shape=tuple(shape), initializer="zeros", trainable=False, name=name
            )
        self.built = True

    def read(self, name: str) -> np.ndarray:
        """The current value of variable `name` as a numpy array."""
        return np.asarray(self.values[name])

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "spec": self.spec}


def attach_pruning_state(model: keras.Model, spec: Mapping[str, list[int]]) -> PruningState:
    """The model's `PruningState` with exactly `spec`, created on its first wrapper if needed.

    A state with the same spec (e.g. restored by `load_model`) is kept as it is; any
    other is replaced by a fresh one (a different run).

    Example:

    >>> import keras, kerasprune
    >>> pruned = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    >>> state = attach_pruning_state(pruned, {"cycles_done": []})
    >>> attach_pruning_state(pruned, {"cycles_done": []}) is state
    True
    """
    from kerasprune.core.model_walk import prune_wrappers

    wrappers = prune_wrappers(model)
    if not wrappers:
        raise ValueError(
            f"Model '{model.name}' has no PruneWrapper layers: call kerasprune.prune(model) "
            "first."
        )
    holder = wrappers[0]
    wanted = {str(k): [int(d) for d in v] for k, v in spec.items()}
    current = getattr(holder, "pruning_state", None)
    if current is not None and current.spec == wanted:
        return current
    state = PruningState(wanted, dtype="float32")
    _compat.attach_sublayer(holder, "pruning_state", state)
    return state
