"""`Recipe`: a whole pruning run described in YAML, from the model to the export settings.

A recipe has five sections:

```yaml
method: gmp                # gmp (PruningCallback), imp (IMPCallback), bimp (BIMPCallback)
callback:                  # the callback's arguments: exactly its get_config()
  target_sparsity: 0.9
  stabilization_epochs: 1
  pruning_epochs: 6
  finetune_epochs: 3
prune:                     # kerasprune.prune's arguments: layer selection and overrides
  scope: global
  exclude: [logits]
  block_shape: [4, 1]
training:                  # compile and fit settings
  optimizer: adam          # a Keras name or a serialized optimizer
  learning_rate: 0.001
  loss: {class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}
  metrics: [accuracy]
  batch_size: 64
export:                    # read by `kerasprune prune` (tflite_export.convert's options)
  sparse: true
  quantize: null
```

`Recipe.from_callback(callback)` writes the `callback` section from `get_config()`, and
`recipe.make_callback()` builds it back with `from_config`, so a recipe and a callback
round-trip. Everything is checked when the recipe is made, before any training.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

import keras
import yaml

from kerasprune.callbacks.bimp_callback import BIMPCallback
from kerasprune.callbacks.imp_callback import IMPCallback
from kerasprune.callbacks.pruning_callback import PruningCallback
from kerasprune.core.validation import check_choice, check_int, check_learning_rate
from kerasprune.core.wrapping import prune

METHODS = {"gmp": PruningCallback, "imp": IMPCallback, "bimp": BIMPCallback}
PRUNE_KEYS = ("scope", "layers", "exclude", "sparsity_overrides", "block_shape", "pattern")
TRAINING_DEFAULTS = {
    "optimizer": "adam",
    "learning_rate": None,
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
    "batch_size": 32,
    "epochs": None,
    "validation_split": 0.0,
}
EXPORT_DEFAULTS = {"sparse": True, "quantize": None}
SECTIONS = ("method", "callback", "prune", "training", "export")


@dataclasses.dataclass
class Recipe:
    """One pruning run: method, callback arguments, layer selection, training, export.

    Args:
        method: `"gmp"`, `"imp"` or `"bimp"`.
        callback: the callback's constructor arguments (its `get_config()`).
        prune: `kerasprune.prune` arguments (`scope`, `layers`, `exclude`,
            `sparsity_overrides`, `block_shape`, `pattern`).
        training: `optimizer`, `learning_rate`, `loss`, `metrics`, `batch_size`, `epochs`
            (default: the callback's `total_epochs`), `validation_split`.
        export: `sparse` and `quantize` for the TFLite file `kerasprune prune` writes.

    Example:

    >>> import kerasprune
    >>> gmp = kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=2,
    ...                                  finetune_epochs=1)
    >>> recipe = Recipe.from_callback(gmp, prune={"scope": "global"})
    >>> Recipe.from_yaml(recipe.to_yaml()).make_callback().get_config() == gmp.get_config()
    True
    """

    method: str
    callback: dict
    prune: dict = dataclasses.field(default_factory=dict)
    training: dict = dataclasses.field(default_factory=dict)
    export: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        check_choice("method", self.method, tuple(METHODS))
        for name in ("callback", "prune", "training", "export"):
            if not isinstance(getattr(self, name), Mapping):
                raise ValueError(
                    f"Recipe section `{name}` must be a mapping. "
                    f"Received: {name}={getattr(self, name)!r}"
                )
        self.callback = _plain(self.callback)
        self.prune = _plain(_known("prune", self.prune, PRUNE_KEYS))
        self.training = {**TRAINING_DEFAULTS, **_known("training", self.training,
                                                       tuple(TRAINING_DEFAULTS))}
        self.export = {**EXPORT_DEFAULTS, **_known("export", self.export,
                                                   tuple(EXPORT_DEFAULTS))}
        try:
            self.make_callback()  # the callback checks its own arguments now
        except TypeError as error:
            raise ValueError(
                f"Recipe section `callback` does not fit method {self.method!r} "
                f"({METHODS[self.method].__name__}): {error}"
            ) from error
        _check_training(self.training)

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_callback(cls, callback, *, prune: dict | None = None,
                      training: dict | None = None, export: dict | None = None) -> "Recipe":
        """The recipe of a configured callback (its `get_config()`) plus the other sections."""
        for method, callback_class in METHODS.items():
            if type(callback) is callback_class:
                return cls(method, callback.get_config(), prune or {}, training or {},
                           export or {})
        raise TypeError(
            "`callback` must be a PruningCallback, IMPCallback or BIMPCallback. "
            f"Received: callback of type {type(callback).__name__}"
        )

    @classmethod
    def from_dict(cls, data: Mapping) -> "Recipe":
        if not isinstance(data, Mapping):
            raise ValueError(f"A recipe must be a mapping of sections. Received: {data!r}")
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise ValueError(f"Unknown recipe sections {unknown}. Known: {list(SECTIONS)}")
        if "method" not in data or "callback" not in data:
            raise ValueError("A recipe needs `method` and `callback` sections.")
        return cls(**{key: data[key] for key in SECTIONS if key in data})

    @classmethod
    def from_yaml(cls, text: str) -> "Recipe":
        return cls.from_dict(yaml.safe_load(text))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recipe":
        """Read a recipe from a YAML file."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No recipe file at {os.fspath(path)!r}.")
        with open(path) as f:
            return cls.from_yaml(f.read())

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in SECTIONS}

    def to_yaml(self) -> str:
        return yaml.safe_dump(_plain(self.as_dict()), sort_keys=False)

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            f.write(self.to_yaml())

    # -- running -----------------------------------------------------------------------

    def make_callback(self):
        """The pruning callback, from the `callback` section."""
        return METHODS[self.method].from_config(dict(self.callback))

    def prune_model(self, model: keras.Model) -> keras.Model:
        """`kerasprune.prune(model, **prune)`: the pruning-ready copy."""
        arguments = dict(self.prune)
        if isinstance(arguments.get("block_shape"), list):
            arguments["block_shape"] = tuple(arguments["block_shape"])
        if isinstance(arguments.get("pattern"), Mapping):
            arguments["pattern"] = keras.saving.deserialize_keras_object(arguments["pattern"])
        return prune(model, **arguments)

    def compile(self, model: keras.Model) -> keras.Model:
        """Compile `model` with the `training` section's optimizer, loss and metrics."""
        training = self.training
        optimizer = keras.optimizers.get(training["optimizer"])
        if training["learning_rate"] is not None:
            optimizer.learning_rate = training["learning_rate"]
        model.compile(optimizer=optimizer, loss=keras.losses.get(training["loss"]),
                      metrics=list(training["metrics"]))
        return model

    def run(self, model: keras.Model, x, y, *, validation_data=None, callbacks=(),
            verbose: int | str = "auto"):
        """Prune `model` by this recipe: returns `(pruned model, callback, history)`."""
        pruned = self.compile(self.prune_model(model))
        callback = self.make_callback()
        epochs = self.training["epochs"] or callback.total_epochs
        history = pruned.fit(
            x, y, epochs=epochs, batch_size=self.training["batch_size"],
            validation_split=self.training["validation_split"] if validation_data is None else 0.0,
            validation_data=validation_data, callbacks=[*callbacks, callback], verbose=verbose,
        )
        return pruned, callback, history


def _known(section: str, values: Mapping, keys: tuple[str, ...]) -> dict:
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise ValueError(f"Unknown keys {unknown} in recipe section `{section}`. "
                         f"Known: {list(keys)}")
    return dict(values)


def _check_training(training: dict) -> None:
    keras.optimizers.get(training["optimizer"])
    keras.losses.get(training["loss"])
    check_learning_rate("learning_rate", training["learning_rate"], optional=True)
    check_int("batch_size", training["batch_size"], minimum=1)
    if training["epochs"] is not None:
        check_int("epochs", training["epochs"], minimum=1)
    split = training["validation_split"]
    if not isinstance(split, (int, float)) or not 0.0 <= split < 1.0:
        raise ValueError(f"`validation_split` must be in [0, 1). Received: {split!r}")


def _plain(value: Any) -> Any:
    """Plain YAML types: tuples become lists, numpy scalars become numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value
