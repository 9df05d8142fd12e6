"""Subclassed models with substituted layers: rebuilt, copied, saved and loaded with them.

A subclassed model (KerasHub backbones and tasks among them) is rebuilt by its own class
from its config, and that config knows nothing of the layers kerasprune put in place of
the class's own: a `PruneWrapper`, a smaller layer from `shrink`. Saved as it is, such a
model would load with the class's plain layers, and its weights would not fit them.

So a model holding substitutes becomes an instance of a subclass of its class (same name
and module, `isinstance` holds) that records where each substitute sits: a path of
positions among the sublayers, which the class rebuilds identically from its config. Its
config is the class's own plus each substitute's, so `keras.saving.load_model` (after
`import kerasprune`) rebuilds the class, puts the substitutes back, then loads weights,
masks, optimizer state and pruning state into the same structure.

Rebuilding from a config also goes through the class's own constructor when Keras'
`from_config` cannot (an `__init__(self)` without `**kwargs`, the most common form).
"""

from __future__ import annotations

import functools
import importlib
import inspect

import keras

from kerasprune import _compat

#: The name under which every substituted model is saved and loaded.
LOADER_NAME = "kerasprune>SubstitutedModel"

Path = tuple[int, ...]


def construct(cls: type, config: dict) -> keras.Model:
    """An instance of subclassed model class `cls` from its Keras config.

    `cls.from_config(config)` first. Keras' default `from_config` calls `cls(**config)`,
    which fails for an `__init__` without `**kwargs`: the config always holds `trainable`
    and `dtype`. Then the constructor is called with the arguments it accepts.

    Example:

    >>> import keras
    >>> class Plain(keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.dense = keras.layers.Dense(2)
    ...     def call(self, x):
    ...         return self.dense(x)
    >>> type(construct(Plain, Plain().get_config())).__name__
    'Plain'
    """
    try:
        return cls.from_config(config)
    except TypeError as error:
        if not _default_from_config(cls) or _takes_any_keyword(cls):
            raise
        first_error = error
    parameters = inspect.signature(cls.__init__).parameters
    accepted = {k: v for k, v in config.items() if k in parameters}
    try:
        model = cls(**accepted)
    except TypeError as error:  # a ValueError: Keras rewraps TypeErrors of from_config
        missing = [
            name for name, p in list(parameters.items())[1:]
            if p.default is inspect.Parameter.empty and name not in config
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        raise ValueError(
            f"{cls.__name__}.__init__ needs arguments its config does not hold: {missing} "
            f"({error}). Give the class a get_config() that returns them "
            "({**super().get_config(), 'units': self.units, ...}); with `**kwargs` in "
            "__init__, passed on to super().__init__(**kwargs), Keras' own from_config "
            f"works too. Keras' from_config said: {first_error}"
        ) from None
    if config.get("trainable") is False:
        model.trainable = False
    return model


def _default_from_config(cls: type) -> bool:
    return getattr(cls.from_config, "__func__", None) is keras.Model.from_config.__func__


def _takes_any_keyword(cls: type) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())


def layer_at(model: keras.layers.Layer, path: Path) -> keras.layers.Layer:
    """The sublayer at `path`: positions among the direct sublayers, level by level."""
    layer = model
    for position in path:
        layer = _compat.direct_sublayers(layer)[position]
    return layer


def swap_in(parent: keras.layers.Layer, old: keras.layers.Layer, new: keras.layers.Layer) -> None:
    """Make `parent` hold and call `new` wherever it held `old` (attributes, lists, dicts,
    and the nodes of its graph: a Functional subclass's, or the one a built Sequential
    calls instead of its layer list)."""
    for name, value in list(vars(parent).items()):
        if value is old:
            object.__setattr__(parent, name, new)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    _compat.set_list_item(value, i, new)
        elif isinstance(value, dict):
            for key, item in value.items():
                if item is old:
                    dict.__setitem__(value, key, new)
    graph = _compat.functional_graph(parent)
    if graph is not None:
        _compat.substitute_operation(graph, old, new)


def substitute_at(model: keras.Model, path: Path, new: keras.layers.Layer) -> keras.layers.Layer:
    """Put `new` in place of the sublayer at `path`, in every layer that holds it;
    returns the layer it replaced."""
    old = layer_at(model, path)
    holders = {id(model): model}
    for layer in _compat.flatten_layers(model):
        holders.setdefault(id(layer), layer)
    for holder in holders.values():
        swap_in(holder, old, new)
    return old


def revive(serialized: dict) -> keras.layers.Layer:
    """A layer from its full serialization (class, config, build config): built."""
    return keras.saving.deserialize_keras_object(serialized)


def plain_class(model: keras.Model) -> type:
    """The model's own class (the one its config rebuilds)."""
    return getattr(type(model), "_substituted_base", type(model))


def plain_config(model: keras.Model) -> dict:
    """The config of the model's own class, without its substitutes."""
    return plain_class(model).get_config(model)


def substitute_paths(model: keras.Model) -> frozenset:
    """The paths of the model's substitutes (empty for a model as its class builds it)."""
    return getattr(model, "_substitute_paths", frozenset())


def mark_substituted(model: keras.Model, paths) -> keras.Model:
    """Record `paths` as the model's substitutes (its class becomes the substituted
    subclass of its own), or make it a plain instance again when there are none."""
    base = plain_class(model)
    object.__setattr__(model, "__class__", substituted_class(base) if paths else base)
    object.__setattr__(model, "_substitute_paths", frozenset(tuple(p) for p in paths))
    return model


def serialized_substitutes(model: keras.Model) -> list[dict]:
    """`[{"path": [...], "layer": full serialization}]` of the model's substitutes."""
    return [
        {"path": list(path), "layer": keras.saving.serialize_keras_object(layer_at(model, path))}
        for path in sorted(substitute_paths(model))
    ]


def load(config: dict) -> keras.Model:
    """The model a substituted model's `get_config()` describes (weights not loaded)."""
    spec = config["model"]
    cls = _registered_class(spec)
    if cls is None:
        raise ValueError(
            f"Could not locate class '{spec['class']}' of the pruned model. Register it "
            "with @keras.saving.register_keras_serializable() and import the module that "
            f"defines it before loading, or pass custom_objects={{'{spec['class']}': "
            "TheClass} to keras.saving.load_model."
        )
    model = construct(cls, spec["config"])
    if not model.built and spec.get("build_config"):
        model.build_from_config(spec["build_config"])
        model.built = True  # building by a symbolic run leaves the flag unset
    for item in config["substitutes"]:
        substitute_at(model, tuple(item["path"]), revive(item["layer"]))
    return mark_substituted(model, [tuple(item["path"]) for item in config["substitutes"]])


def _registered_class(spec: dict) -> type | None:
    """The class saved under `spec["class"]`; a Keras or KerasHub class is imported first
    if need be (as Keras' own loading does for those packages, and only for them)."""
    cls = keras.saving.get_registered_object(spec["class"])
    module = spec.get("module") or ""
    if cls is None and module.split(".")[0] in ("keras", "keras_hub"):
        importlib.import_module(module)
        cls = keras.saving.get_registered_object(spec["class"])
    return cls


@functools.cache
def substituted_class(base: type) -> type:
    """The subclass of `base` whose instances save and load their substitutes."""

    def get_config(self) -> dict:
        registered = keras.saving.get_registered_name(base)
        return {
            "model": {
                "class": registered,
                "module": base.__module__,
                "config": keras.saving.serialize_keras_object(base.get_config(self)),
                "build_config": self.get_build_config(),
            },
            "substitutes": serialized_substitutes(self),
        }

    def from_config(cls, config: dict) -> keras.Model:
        return load(config)

    def compile_from_config(self, config: dict) -> None:
        # Keras skips classes with their own `compile` (KerasHub tasks: the optimizer
        # state would not load); the standard arguments it saved suit theirs too.
        try:
            self.compile(**keras.saving.deserialize_keras_object(config))
        except TypeError:
            return base.compile_from_config(self, config)  # Keras' warning
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def save(self, filepath, *args, **kwargs):
        # Keras opens (and empties) the file before it serializes the model: any error
        # of the config must come first.
        self.get_config()
        return base.save(self, filepath, *args, **kwargs)

    namespace = {
        "__module__": base.__module__,
        "__qualname__": base.__qualname__,
        "__doc__": base.__doc__,
        "_substituted_base": base,
        "get_config": get_config,
        "from_config": classmethod(from_config),
        "compile_from_config": compile_from_config,
        "save": save,
    }
    cls = type(base.__name__, (base,), namespace)
    _compat.register_serialization_name(cls, LOADER_NAME)
    return cls


@keras.saving.register_keras_serializable("kerasprune", "SubstitutedModel")
class _Loader:
    """What Keras finds under `LOADER_NAME`: builds the saved model from its config."""

    @classmethod
    def from_config(cls, config: dict) -> keras.Model:
        return load(config)

    def get_config(self) -> dict:
        raise NotImplementedError("only substituted models are ever saved under this name")
