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

import warnings
from typing import Mapping

import numpy as np
import keras

from kerasprune import _compat
from kerasprune.core.caller import user_stacklevel


@keras.saving.register_keras_serializable(package="kerasprune")
class PruningState(keras.layers.Layer):
    """Named non-trainable variables, created from a `{name: shape}` spec.

    Created by the pruning callbacks (`attach_pruning_state`), not by users. It has no
    call: it only holds values, and the settings of the callback they belong to.

    Args:
        spec: `{name: shape}` of the variables to hold (float32, zeros at first).
        owner: `{"class_name": ..., "config": ...}` of the callback whose run it holds.

    Example:

    >>> state = PruningState({"d1": [3], "cycles_done": []})
    >>> state.write("d1", [0.5, 0.0, 0.0])
    >>> float(state.read("d1")[0]), state.read("cycles_done").shape
    (0.5, ())
    """

    def __init__(self, spec: Mapping[str, list[int]], owner: dict | None = None, **kwargs):
        kwargs.setdefault("name", "pruning_state")
        kwargs["trainable"] = False  # also when a config (which holds it) is loaded
        super().__init__(**kwargs)
        self.spec = {str(name): [int(d) for d in shape] for name, shape in spec.items()}
        self.owner = owner
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

    @property
    def started(self) -> bool:
        """Whether a run wrote anything yet (some value is not zero)."""
        return any(np.any(self.read(name)) for name in self.values)

    @property
    def finished(self) -> bool:
        """Whether its run did all the epochs its callback needed (when both are known)."""
        total = (self.owner or {}).get("total_epochs")
        return total is not None and "epochs_done" in self.values and (
            float(self.read("epochs_done")) >= total)

    def call(self, inputs):
        return inputs

    def attach_to(self, holder: keras.layers.Layer) -> None:
        """Become `holder.pruning_state`, a tracked sublayer whose values its saves carry
        (a state it held before is no longer tracked: its values leave the model)."""
        if isinstance(getattr(holder, "pruning_state", None), PruningState):
            _compat.replace_sublayer(holder, "pruning_state", self)
        else:
            _compat.attach_sublayer(holder, "pruning_state", self)

    def get_config(self):
        return {**super().get_config(), "spec": self.spec, "owner": self.owner}


def attach_pruning_state(holder: keras.layers.Layer, spec: Mapping[str, list[int]],
                         owner: dict | None = None) -> PruningState:
    """The `PruningState` held by `holder` (the model's first `PruneWrapper`) with exactly
    `spec`, for the callback `owner`, created if needed.

    The state of the same callback with the same settings (e.g. restored by `load_model`)
    is kept as it is. A finished run's state, or one not started, is replaced by a fresh
    one. An unfinished run's state is replaced with a warning when another kind of callback
    takes over, and refused when the same kind of callback comes with other settings:
    resuming it so would silently drop what it holds (`clear_pruning_state` starts again
    on purpose). `owner["total_epochs"]` and the state's `epochs_done` tell a finished run.

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
    if current is not None and current.spec == wanted and current.owner == owner:
        return current
    if current is not None and current.started and not current.finished:
        _check_same_run(current.owner, owner, current.spec, wanted)
    state = PruningState(wanted, owner, dtype="float32")
    state.attach_to(holder)
    return state


def clear_pruning_state(model: keras.Model) -> None:
    """Forget the resume state a pruning callback left in `model`, to start a new run (with
    other settings) on it; its masks stay.

    Example:

    >>> import keras, kerasprune
    >>> pruned = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    >>> holder = kerasprune.prune_wrappers(pruned)[0]
    >>> attach_pruning_state(holder, {"cycles_done": []}).write("cycles_done", 2)
    >>> clear_pruning_state(pruned)
    >>> holder.pruning_state.started
    False
    """
    for layer in _compat.flatten_layers(model):
        state = getattr(layer, "pruning_state", None)
        if isinstance(state, PruningState):
            PruningState(state.spec, None, dtype="float32").attach_to(layer)


def _check_same_run(saved: dict | None, new: dict | None, saved_spec, new_spec) -> None:
    saved_name = (saved or {}).get("class_name")
    new_name = (new or {}).get("class_name")
    if saved_name != new_name:
        warnings.warn(
            f"The model holds the resume state of a {saved_name or 'pruning callback'} run; "
            f"{new_name} starts a new run and replaces it.", stacklevel=user_stacklevel())
        return
    old, now = (saved or {}).get("config", {}), (new or {}).get("config", {})
    changed = {k: (old.get(k), now.get(k)) for k in sorted(set(old) | set(now))
               if old.get(k) != now.get(k)}
    if not changed and saved_spec != new_spec:
        changed = {"resume state": (saved_spec, new_spec)}
    described = ", ".join(f"{k}={a!r} when saved, {k}={b!r} now" for k, (a, b) in changed.items())
    raise ValueError(
        f"The model holds the resume state of a {saved_name} run that has started, with other "
        f"settings than this {new_name}: {described}. Resume with the settings it was saved "
        "with, or start a new run on purpose with "
        "kerasprune.core.pruning_state.clear_pruning_state(model) first."
    )
