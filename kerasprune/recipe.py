"""`Recipe`: a whole pruning run described in YAML, from the model to the export settings.

A recipe has seven sections; only `method` and `callback` are required:

```yaml
method: gmp                # gmp, imp, bimp, rigl, penalty, movement, l0 or one-shot
callback:                  # the method's arguments: its callback's get_config()
  target_sparsity: 0.9
  stabilization_epochs: 1
  pruning_epochs: 6
  finetune_epochs: 3
prune:                     # kerasprune.prune's arguments
  scope: global
  exclude: [logits]
  pattern: {blocks: [4, 1]}   # or: channels, {channels: l2}, {nm: "2:4"}, unstructured
training:                  # compile and fit settings
  optimizer: adam          # a Keras name or a serialized optimizer
  learning_rate: 0.001
  loss: {class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}
  metrics: accuracy        # a name, a serialized metric, or a list of these
  batch_size: 64
shrink: false              # remove the pruned channels after training (channels patterns)
distillation:              # learn from the input model while pruning (kerasprune.callbacks.distillation)
  temperature: 4.0
  weight: 1.0
export:                    # read by `kerasprune prune` (tflite_export.convert's options)
  sparse: true             # default: true, false after shrink (no zeros are left)
  quantize: null           # null, float16, dynamic or int8
```

Methods and their `callback` section:

- `gmp`, `imp`, `bimp`: `PruningCallback`, `IMPCallback`, `BIMPCallback`; the section is
  the callback's `get_config()`;
- `rigl`: `RigLCallback` (its `get_config()`), its gradients from the training data;
  `training.epochs` is required;
- `penalty`: `PenaltyPruningCallback` (its `get_config()`); needs `prune.penalty`: a
  group-lasso strength, or a penalty kind spelled `{class_name: ElasticNet, config:
  {strength: 1e-4, l1_ratio: 0.5}}` (`ElasticNet`, `SparseGroupLasso`);
- `movement`: `MovementPruningCallback` (movement pruning on GMP's schedule; its
  `get_config()`);
- `l0`: `L0PruningCallback` (its `get_config()`); needs `prune.penalty: {class_name:
  L0Gates, config: {strength: 1e-4}}` and a channels pattern;
- `one-shot`: `one_shot_prune` with `sparsity`, `criterion` (`magnitude`, `snip`, `obd`,
  `wanda`, `grasp`, `synflow`, `random` or `sparsegpt`, on `training.criterion_samples`
  examples) and `reconstruct` (channels patterns), then `training.epochs` of fine-tuning
  (0: none).

The `prune` section's `criterion` scores the weights of every method (`gmp` with `wanda`,
`imp` with `sparsegpt`, gradual random removal: `gmp` with `random` and a `seed`, ...),
from `training.criterion_samples` examples.

Patterns are spelled by name, with their first argument or their arguments as a mapping:
`channels`, `{channels: taylor}`, `{channels: {criterion: l1, min_channels: 4}}`,
`{blocks: [4, 1]}`, `{blocks: {block_shape: [4, 1], pooling: max}}`, `{nm: "2:4"}`,
`unstructured`, `{unstructured: snip}` (a serialized Keras object is accepted too).
`shrink` defaults to true for a channels pattern (the exported model is then the smaller
dense one `kerasprune.shrink` builds) and must stay false for any other pattern.

`Recipe.from_callback(callback)` writes the `callback` section from `get_config()`, and
`recipe.make_callback()` builds it back with `from_config`, so a recipe and a callback
round-trip. Everything that can be checked without the model is checked when the recipe is
made, before any training; a recipe file that is not valid YAML, or not a valid recipe, is
an error naming the file.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from typing import Any, Mapping

import keras
import numpy as np
import yaml

from kerasprune.callbacks.bimp_callback import BIMPCallback
from kerasprune.callbacks.distillation import Distillation, check_distillation
from kerasprune.callbacks.imp_callback import IMPCallback
from kerasprune.callbacks.l0_pruning_callback import L0PruningCallback
from kerasprune.callbacks.movement_pruning_callback import MovementPruningCallback
from kerasprune.callbacks.penalty_pruning_callback import PenaltyPruningCallback
from kerasprune.callbacks.pruning_callback import PruningCallback
from kerasprune.callbacks.rigl_callback import RigLCallback
from kerasprune.core.criterion_data import CriterionData
from kerasprune.core.deprecation import renamed_argument
from kerasprune.core.weight_criteria import CRITERIA as ONE_SHOT_CRITERIA
from kerasprune.core.weight_criteria import NEEDS
from kerasprune.oneshot.one_shot import one_shot_prune
from kerasprune.core.l0_gates import L0Gates
from kerasprune.core.patterns import Blocks, MaskPattern, Unstructured, get as get_pattern
from kerasprune.core.penalties import check_penalty
from kerasprune.core.prune_wrapper import check_mask_dtype, check_min_density
from kerasprune.core.validation import (
    check_choice,
    check_int,
    check_learning_rate,
    check_model,
    check_samples,
    check_sparsity,
    check_targets,
    sample_slice,
)
from kerasprune.core.wrapping import POLICIES, prune
from kerasprune.structured.channel_patterns import NM, Channels
from kerasprune.structured.surgery import shrink

CALLBACKS = {"gmp": PruningCallback, "imp": IMPCallback, "bimp": BIMPCallback,
             "rigl": RigLCallback, "penalty": PenaltyPruningCallback,
             "movement": MovementPruningCallback, "l0": L0PruningCallback}
ONE_SHOT = "one-shot"
METHODS = (*CALLBACKS, ONE_SHOT)
ONE_SHOT_KEYS = ("sparsity", "criterion", "reconstruct")


def _method_spelling(method):
    """`GMP`, `One_Shot`, `oneshot`: a method's name as the papers write it, in any case."""
    if not isinstance(method, str):
        return method
    spelled = method.strip().lower().replace("_", "-")
    return ONE_SHOT if spelled == "oneshot" else spelled
PRUNE_KEYS = ("scope", "layers", "exclude", "sparsity_overrides", "block_shape", "pattern",
              "min_density", "mask_dtype", "penalty", "criterion", "policy", "seed")
# Pattern names of the YAML spelling, and the argument a short value stands for.
PATTERNS = {"unstructured": (Unstructured, "criterion"), "blocks": (Blocks, "block_shape"),
            "channels": (Channels, "criterion"), "nm": (NM, None)}
TRAINING_DEFAULTS = {
    "optimizer": "adam",
    "learning_rate": None,
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
    "batch_size": 32,
    "epochs": None,
    "validation_split": 0.0,
    "criterion_samples": 256,
}
EXPORT_DEFAULTS = {"sparse": None, "quantize": None}
DISTILLATION_DEFAULTS = {"temperature": 4.0, "weight": 1.0, "features": None,
                         "feature_weight": 1.0}
QUANTIZE_MODES = (None, "float16", "dynamic", "int8")
SECTIONS = ("method", "callback", "prune", "training", "shrink", "export", "distillation")


@dataclasses.dataclass
class Recipe:
    """One pruning run: method, its arguments, layer selection, training, shrink, export.

    Args:
        method: `"gmp"`, `"imp"`, `"bimp"`, `"rigl"`, `"penalty"`, `"movement"`, `"l0"`
            or `"one-shot"`.
        callback: the callback's constructor arguments (its `get_config()`); for
            `"one-shot"`, `sparsity`, `criterion` and `reconstruct` of
            `kerasprune.one_shot_prune`.
        prune: `kerasprune.prune` arguments (`scope`, `layers`, `exclude`,
            `sparsity_overrides`, `block_shape`, `pattern`, `min_density`, `mask_dtype`,
            `penalty`, `criterion`); `pattern` in the YAML spelling of the module
            docstring, or a `MaskPattern`.
        training: `optimizer`, `learning_rate`, `loss`, `metrics`, `batch_size`, `epochs`
            (default: the callback's `total_epochs`), `validation_split`, and
            `criterion_samples` (training examples that data-driven criteria and RigL
            compute on, default 256).
        shrink: remove the pruned channels after training (`kerasprune.shrink`); None
            means true for a channels pattern, false otherwise.
        export: `sparse` (default: true, false when `shrink` is on) and `quantize` for
            the TFLite file `kerasprune prune` writes.
        distillation: None (default), or the arguments of
            `kerasprune.callbacks.distillation.Distillation` (`temperature`, `weight`,
            `features`, `feature_weight`; `{}` for its defaults): the model given to
            `run` is the teacher of the whole fit.

    Example:

    >>> import kerasprune
    >>> gmp = kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=2,
    ...                                  finetune_epochs=1)
    >>> recipe = Recipe.from_callback(gmp, prune={"scope": "global"})
    >>> Recipe.from_yaml(recipe.to_yaml()).make_callback().get_config() == gmp.get_config()
    True
    >>> Recipe.from_yaml("method: one-shot\\ncallback: {sparsity: 0.5}\\n"
    ...                  "prune: {pattern: channels}\\ntraining: {epochs: 2}").shrink
    True
    """

    method: str
    callback: dict
    prune: dict = dataclasses.field(default_factory=dict)
    training: dict = dataclasses.field(default_factory=dict)
    shrink: bool | None = None
    export: dict = dataclasses.field(default_factory=dict)
    distillation: dict | None = None

    def __post_init__(self):
        spelled = _method_spelling(self.method)
        self.method = spelled if spelled in METHODS else check_choice("method", self.method, METHODS)
        for name in ("callback", "prune", "training", "export"):
            if not isinstance(getattr(self, name), Mapping):
                raise ValueError(
                    f"Recipe section `{name}` must be a mapping. "
                    f"Received: {name}={getattr(self, name)!r}"
                )
        self.callback = _plain(self.callback)
        self.prune = _known("prune", self.prune, PRUNE_KEYS)
        if "pattern" in self.prune:
            self.prune["pattern"] = pattern_spelling(self.prune["pattern"])
        penalty = self.prune.get("penalty")
        if hasattr(penalty, "get_config"):  # a penalty kind: its YAML spelling
            self.prune["penalty"] = {"class_name": type(penalty).__name__,
                                     "config": penalty.get_config()}
        self.prune = _plain(self.prune)
        self.training = {**TRAINING_DEFAULTS, **_known("training", self.training,
                                                       tuple(TRAINING_DEFAULTS))}
        if isinstance(self.training["metrics"], (str, Mapping)):
            self.training["metrics"] = [self.training["metrics"]]
        self.export = {**EXPORT_DEFAULTS, **_known("export", self.export,
                                                   tuple(EXPORT_DEFAULTS))}
        if self.distillation is not None:
            if not isinstance(self.distillation, Mapping):
                raise ValueError("Recipe section `distillation` must be a mapping. "
                                 f"Received: distillation={self.distillation!r}")
            self.distillation = _plain({**DISTILLATION_DEFAULTS, **_known(
                "distillation", self.distillation, tuple(DISTILLATION_DEFAULTS))})
            check_distillation(**self.distillation)
        self._check_method()
        _check_prune(self.prune)
        _check_training(self.training, self.method)
        _check_export(self.export)
        self.shrink = self._check_shrink()
        if self.export["sparse"] is None:  # a shrunk model has no zeros left to encode
            self.export["sparse"] = not self.shrink

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_callback(cls, callback, *, prune: dict | None = None,
                      training: dict | None = None, shrink: bool | None = None,
                      export: dict | None = None,
                      distillation: dict | None = None) -> "Recipe":
        """The recipe of a configured callback (its `get_config()`) plus the other sections."""
        for method, callback_class in CALLBACKS.items():
            if type(callback) is callback_class:
                return cls(method, callback.get_config(), prune or {}, training or {},
                           shrink, export or {}, distillation)
        raise TypeError(
            f"`callback` must be one of {[c.__name__ for c in CALLBACKS.values()]}. "
            f"Received: callback of type {type(callback).__name__}"
        )

    @classmethod
    def from_dict(cls, data: Mapping) -> "Recipe":
        if not isinstance(data, Mapping):
            raise ValueError(f"A recipe must be a mapping of sections. Received: {data!r}")
        unknown = sorted(set(data) - set(SECTIONS), key=str)
        if unknown:
            raise ValueError(f"Unknown recipe sections {unknown}. Known: {list(SECTIONS)}")
        if "method" not in data or "callback" not in data:
            raise ValueError("A recipe needs `method` and `callback` sections.")
        return cls(**{key: data[key] for key in SECTIONS if key in data})

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "Recipe text") -> "Recipe":
        if isinstance(text, os.PathLike) or (isinstance(text, str) and "\n" not in text and (
                text.strip().endswith((".yaml", ".yml")) or os.path.exists(text))):
            raise ValueError(
                "`text` must be the YAML text of a recipe, and this looks like a path: "
                f"read a recipe file with Recipe.load(path). Received: text={text!r}")
        try:
            data = yaml.load(text, Loader=_RecipeLoader)
        except yaml.YAMLError as error:
            raise ValueError(f"{source} is not valid YAML: {_yaml_problem(error)}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recipe":
        """Read a recipe from a YAML file; any error names the file."""
        name = os.fspath(path)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"No recipe file at {name!r}.")
        with open(name) as f:
            text = f.read()
        try:
            return cls.from_yaml(text, source=f"Recipe file {name!r}")
        except (ValueError, TypeError) as error:
            if str(error).startswith(f"Recipe file {name!r}"):
                raise
            raise type(error)(f"Recipe file {name!r}: {error}") from error

    def as_dict(self) -> dict:
        """The sections; `distillation` only when the recipe has one."""
        return {key: getattr(self, key) for key in SECTIONS
                if key != "distillation" or self.distillation is not None}

    def to_yaml(self) -> str:
        plain = _plain(self.as_dict())
        try:
            return yaml.safe_dump(plain, sort_keys=False)
        except yaml.representer.RepresenterError:
            field, value = _unrepresentable(plain)
            raise ValueError(f"Recipe field `{field}` cannot be written as YAML. Received: "
                             f"{value!r}; give plain values (a pattern as its string, not a "
                             "compiled regex or a callable).") from None

    def save(self, path: str | os.PathLike) -> None:
        text = self.to_yaml()  # before opening: a failure never truncates an existing file
        with open(path, "w") as f:
            f.write(text)

    # -- running -----------------------------------------------------------------------

    def make_callback(self, data: CriterionData | None = None,
                      importance: CriterionData | None = None):
        """The pruning callback of the `callback` section (None for `"one-shot"`), given
        `data` for its criterion if it takes any (`importance=` is its deprecated name)."""
        data = renamed_argument("Recipe.make_callback", "importance", importance, "data", data)
        if self.method == ONE_SHOT:
            return None
        config = dict(self.callback)
        callback_class = CALLBACKS[self.method]
        if data is not None and _takes(callback_class, "data"):
            config["data"] = data
        return callback_class.from_config(config)

    def pattern(self) -> MaskPattern | None:
        """The `prune` section's pattern as an object (None when it names none)."""
        spelling = self.prune.get("pattern")
        return None if spelling is None else make_pattern(spelling)

    def prune_arguments(self) -> dict:
        """`kerasprune.prune`'s keyword arguments from the `prune` section."""
        arguments = dict(self.prune)
        if isinstance(arguments.get("block_shape"), list):
            arguments["block_shape"] = tuple(arguments["block_shape"])
        if "pattern" in arguments:
            arguments["pattern"] = self.pattern()
        return arguments

    def prune_model(self, model: keras.Model) -> keras.Model:
        """`kerasprune.prune(model, **prune)`: the pruning-ready copy."""
        return prune(model, **self.prune_arguments())

    def compile(self, model: keras.Model) -> keras.Model:
        """Compile `model` with the `training` section's optimizer, loss and metrics."""
        training = self.training
        optimizer = keras.optimizers.get(training["optimizer"])
        if training["learning_rate"] is not None:
            optimizer.learning_rate = training["learning_rate"]
        # A serialized metric is built here: Keras' compile reads a dict in the list as
        # {output name: metric}.
        metrics = [keras.metrics.get(m) if isinstance(m, Mapping) else m
                   for m in training["metrics"]]
        model.compile(optimizer=optimizer, loss=keras.losses.get(training["loss"]),
                      metrics=metrics)
        return model

    def epochs(self, callback=None) -> int:
        """Epochs of the fit: `training.epochs`, else the callback's `total_epochs`."""
        if self.training["epochs"] is not None:
            return self.training["epochs"]
        return (callback or self.make_callback()).total_epochs

    def run(self, model: keras.Model, x, y, *, validation_data=None, callbacks=(),
            verbose: int | str = "auto"):
        """Prune `model` by this recipe: returns `(pruned model, callback, history)`.

        The callback is None for `"one-shot"`; the pruned model still holds its wrappers
        (see `exported_model` for what to export). With a `distillation` section, `model`
        (left as it is) is the teacher.
        """
        sample = self.criterion_data(x, y)  # x not empty, y as long
        self._check_data(model, x, y, validation_data)
        if self.method == ONE_SHOT:
            pruned, callback = self._one_shot(model, sample), None
        else:
            pruned, callback = self.prune_model(model), self.make_callback(sample)
        pruned = self.compile(pruned)
        epochs = self.epochs(callback)
        teacher = ([Distillation(model, **self.distillation)]
                   if self.distillation is not None else [])
        history = pruned.fit(
            x, y, epochs=epochs, batch_size=self.training["batch_size"],
            validation_split=self.training["validation_split"] if validation_data is None else 0.0,
            validation_data=validation_data,
            callbacks=[*callbacks, *([callback] if callback else []), *teacher],
            verbose=verbose,
        )
        return pruned, callback, history

    def _check_data(self, model, x, y, validation_data) -> None:
        """Refuse, before any training, data the model or the loss cannot use."""
        check_model(model)
        loss = keras.losses.get(self.training["loss"])

        def as_sample(v):  # an array-like as an array; a dict or list of arrays as it is
            return v if isinstance(v, (dict, list, tuple)) else np.asarray(v)

        check_samples(model, as_sample(x), "x")
        check_targets(model, loss, x, y)
        if validation_data is not None:
            x_val, y_val = validation_data[0], validation_data[1]
            check_samples(model, as_sample(x_val), "validation_data")
            check_targets(model, loss, x_val, y_val, "validation_data's y")

    def criterion_data(self, x, y) -> CriterionData:
        """The training sample that data-driven criteria (Taylor, APoZ, SNIP, OBD, Wanda,
        SparseGPT, RigL) use."""
        n = self.training["criterion_samples"]
        for name, value in (("x", x), ("y", y)):
            if value is not None and not isinstance(value, (dict, list, tuple, np.ndarray)) \
                    and not hasattr(value, "shape"):
                raise TypeError(
                    f"`{name}` must be an array (or a dict or list of arrays, one per model "
                    "input): a recipe reads its criterion sample and checks the data before "
                    "training, which a dataset or generator does not allow. Received: "
                    f"{name} of type {type(value).__name__}")
        return CriterionData(sample_slice(x, 0, n), None if y is None else sample_slice(y, 0, n))

    def exported_model(self, pruned: keras.Model) -> keras.Model:
        """What `kerasprune prune` exports: `shrink(pruned)` when `shrink` is on, else `pruned`."""
        return shrink(pruned) if self.shrink else pruned

    def _one_shot(self, model: keras.Model, sample: CriterionData) -> keras.Model:
        arguments = self.prune_arguments()
        criterion = self.callback.get("criterion", arguments.pop("criterion", "magnitude"))
        arguments.pop("criterion", None)
        if NEEDS.get(criterion) == "gradients" and not getattr(model, "compiled", False):
            model = self.compile(_copy(model))  # SNIP, GraSP need the loss; input untouched
        return one_shot_prune(model, self.callback["sparsity"], criterion=criterion, data=sample,
                              reconstruct=self.callback.get("reconstruct", False), **arguments)

    # -- checks ------------------------------------------------------------------------

    def _check_method(self) -> None:
        if self.method == ONE_SHOT:
            config = _known("callback", self.callback, ONE_SHOT_KEYS)
            if "sparsity" not in config:
                raise ValueError("Method 'one-shot' needs `callback: {sparsity: ...}`.")
            check_sparsity("sparsity", config["sparsity"])
            check_choice("criterion", config.get("criterion", "magnitude"), ONE_SHOT_CRITERIA)
            if config.get("criterion", self.prune.get("criterion")) != self.prune.get(
                    "criterion", config.get("criterion")):
                raise ValueError(
                    "Give the one-shot criterion once, in `callback` or in `prune`. Received: "
                    f"{config['criterion']!r} and {self.prune['criterion']!r}")
            if not isinstance(config.get("reconstruct", False), bool):
                raise ValueError("`reconstruct` must be true or false. "
                                 f"Received: reconstruct={config['reconstruct']!r}")
            pattern = self.prune_arguments().get("pattern")
            if config.get("reconstruct") and not isinstance(pattern, Channels):
                raise ValueError(
                    "`reconstruct: true` refits the layers after removed channels: give "
                    "`prune: {pattern: channels}` (or use `criterion: sparsegpt` to update "
                    f"the weights unstructured pruning keeps). Received: pattern={pattern!r}")
            if self.distillation is not None and self.training["epochs"] == 0:
                raise ValueError(
                    "The `distillation` section teaches while the model trains, and method "
                    "'one-shot' with `training: {epochs: 0}` does not train: give epochs "
                    "of fine-tuning, or drop the section. Received: epochs=0")
            return
        if self.method == "penalty" and self.prune.get("penalty") is None:
            raise ValueError(
                "Method 'penalty' removes the groups a group-lasso penalty drives to zero: "
                "give its strength in the prune section, e.g. `prune: {penalty: 1e-4}`."
            )
        if self.method == "l0" and not isinstance(check_penalty(self.prune.get("penalty")),
                                                  L0Gates):
            raise ValueError(
                "Method 'l0' trains hard-concrete gates: give them in the prune section, "
                "e.g. `prune: {pattern: channels, penalty: {class_name: L0Gates, config: "
                f"{{strength: 1e-4}}}}}}`. Received: penalty={self.prune.get('penalty')!r}")
        try:
            self.make_callback()  # the callback checks its own arguments now
        except TypeError as error:
            raise ValueError(
                f"Recipe section `callback` does not fit method {self.method!r} "
                f"({CALLBACKS[self.method].__name__}): {error}"
            ) from error

    def _check_shrink(self) -> bool:
        channels = getattr(self.pattern(), "prunes_channels", False)
        if self.shrink is None:
            return channels
        if not isinstance(self.shrink, bool):
            raise ValueError(f"`shrink` must be true or false. Received: shrink={self.shrink!r}")
        if self.shrink and not channels:
            raise ValueError(
                "`shrink: true` removes pruned channels, but the recipe's pattern prunes no "
                f"whole channels. Received: pattern={self.prune.get('pattern')!r}; use "
                "`pattern: channels` or drop `shrink`."
            )
        return self.shrink


def _takes(callback_class, argument: str) -> bool:
    return argument in inspect.signature(callback_class.__init__).parameters


def _copy(model: keras.Model) -> keras.Model:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def pattern_spelling(pattern: Any) -> Any:
    """The YAML spelling of a pattern given as an object, a spelling or a Keras config.

    Example:

    >>> pattern_spelling(Channels("l2", min_channels=2))["channels"]["min_channels"]
    2
    >>> pattern_spelling({"nm": "2:4"})
    {'nm': '2:4'}
    """
    if isinstance(pattern, MaskPattern):
        name = next((key for key, (cls, _) in PATTERNS.items() if type(pattern) is cls), None)
        if name is None:
            return keras.saving.serialize_keras_object(pattern)
        return {name: _plain(pattern.get_config())}
    make_pattern(pattern)  # checks it
    return pattern


def make_pattern(spelling: Any) -> MaskPattern:
    """A pattern from its YAML spelling (see the module docstring).

    Example:

    >>> make_pattern({"nm": "2:4"}), make_pattern({"blocks": [4, 1]}).block_shape
    (NM(2, 4), (4, 1))
    >>> make_pattern("channels")
    Channels('l1')
    """
    if isinstance(spelling, MaskPattern):
        return spelling
    if isinstance(spelling, Mapping) and "class_name" in spelling:
        return get_pattern(dict(spelling))
    if isinstance(spelling, str):
        name, value = spelling, None
    elif isinstance(spelling, Mapping) and len(spelling) == 1:
        (name, value), = spelling.items()
    else:
        name, value = None, None
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in PATTERNS:
        raise ValueError(
            f"`pattern` must be one of {sorted(PATTERNS)}, alone or as a one-key mapping to "
            f"its arguments (e.g. {{channels: {{criterion: l1}}}}). Received: pattern={spelling!r}"
        )
    cls, first = PATTERNS[key]
    try:
        return cls(**_pattern_arguments(key, first, value))
    except TypeError as error:
        raise ValueError(f"`pattern` {spelling!r}: {error}") from None


def _pattern_arguments(key: str, first: str | None, value: Any) -> dict:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        arguments = dict(value)
        if isinstance(arguments.get("block_shape"), list):
            arguments["block_shape"] = tuple(arguments["block_shape"])
        return arguments
    if key == "nm":
        parts = value.split(":") if isinstance(value, str) else value
        if not isinstance(parts, (list, tuple)) or len(parts) != 2:
            raise ValueError(f"`pattern` nm must be written \"n:m\" or [n, m]. Received: {value!r}")
        try:
            return {"n": int(parts[0]), "m": int(parts[1])}
        except ValueError:
            raise ValueError(f"`pattern` nm must be two integers. Received: {value!r}") from None
    if key == "blocks" and isinstance(value, list):
        value = tuple(value)
    return {first: value}


def _known(section: str, values: Mapping, keys: tuple[str, ...]) -> dict:
    unknown = sorted(set(values) - set(keys), key=str)
    if unknown:
        raise ValueError(f"Unknown keys {unknown} in recipe section `{section}`. "
                         f"Known: {list(keys)}")
    return dict(values)


def _check_prune(arguments: dict) -> None:
    """What `kerasprune.prune` would refuse that needs no model."""
    if arguments.get("policy") is not None:
        check_choice("policy", arguments["policy"], POLICIES)
        if arguments.get("layers") is not None:
            raise ValueError(
                f"`policy: {arguments['policy']}` chooses the layers to prune itself: give "
                "`exclude` to leave some dense, not `layers`. "
                f"Received: layers={arguments['layers']!r}")
    if "penalty" in arguments:
        check_penalty(arguments["penalty"])
    if "criterion" in arguments:
        check_choice("criterion", arguments["criterion"], ONE_SHOT_CRITERIA)
    if "min_density" in arguments:
        check_min_density(arguments["min_density"])
    check_mask_dtype(arguments.get("mask_dtype"))
    block = arguments.get("block_shape")
    if block is not None:
        if "pattern" in arguments:
            raise ValueError("Give at most one of `block_shape` and `pattern` in section `prune`.")
        Blocks(tuple(block) if isinstance(block, list) else block)


def _check_training(training: dict, method: str) -> None:
    _keras_object("optimizer", keras.optimizers.get, training["optimizer"])
    _keras_object("loss", keras.losses.get, training["loss"])
    metrics = training["metrics"]
    forms = ("`training.metrics` must be a metric name, a serialized metric "
             "{class_name: ..., config: {...}}, or a list of these")
    if not isinstance(metrics, list):
        raise ValueError(f"{forms}. Received: metrics={metrics!r}")
    for metric in metrics:
        if not (isinstance(metric, str) or (isinstance(metric, Mapping)
                                            and "class_name" in metric)):
            raise ValueError(f"{forms}. Received the entry {metric!r} in metrics={metrics!r}")
        _keras_object("metrics", keras.metrics.get, metric)
    check_learning_rate("learning_rate", training["learning_rate"], optional=True)
    given = isinstance(training["optimizer"], Mapping) and "learning_rate" in (
        training["optimizer"].get("config") or {})
    if training["learning_rate"] is not None and given:
        raise ValueError(
            "The recipe gives the learning rate twice: `training.learning_rate` "
            f"({training['learning_rate']}) and the optimizer's config "
            f"({training['optimizer']['config']['learning_rate']}); keep one.")
    check_int("batch_size", training["batch_size"], minimum=1)
    check_int("criterion_samples", training["criterion_samples"], minimum=1)
    if training["epochs"] is not None:
        check_int("epochs", training["epochs"], minimum=0 if method == ONE_SHOT else 1)
    elif method in ("rigl", ONE_SHOT):
        raise ValueError(
            f"Method {method!r} has no schedule that sets the length of the fit: give "
            "`training: {epochs: ...}`."
        )
    split = training["validation_split"]
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0.0 <= split < 1.0:
        raise ValueError(f"`validation_split` must be in [0, 1). Received: {split!r}")


def _keras_object(key: str, get, value):
    """`get(value)` (Keras' `optimizers.get`, `losses.get`, `metrics.get`), its error
    naming the recipe key, the value and, for a serialized object, unknown config keys."""
    try:
        return get(value)
    except Exception as error:  # noqa: BLE001 - Keras raises ValueError or TypeError
        unknown = _unknown_config_keys(get, value)
        detail = (f"its config takes {unknown[1]}, not {unknown[0]}" if unknown
                  else " ".join(str(error).split())[:200])
        raise ValueError(f"`training.{key}` cannot be built: {detail}. "
                         f"Received: {key}={value!r}") from None


def _unknown_config_keys(get, value) -> tuple[list, list] | None:
    """For `{class_name, config}`, the config keys its class does not take, and those it
    takes; None when that cannot be told."""
    if not isinstance(value, Mapping) or not isinstance(value.get("config"), Mapping):
        return None
    try:
        cls = type(get(value["class_name"]))
    except Exception:  # noqa: BLE001 - an unknown class name: Keras' message says it
        return None
    takes = [p for p in inspect.signature(cls).parameters if p not in ("args", "kwargs")]
    unknown = sorted(set(value["config"]) - set(takes), key=str)
    return (unknown, takes) if unknown else None


def _check_export(export: dict) -> None:
    if export["sparse"] is not None and not isinstance(export["sparse"], bool):
        raise ValueError(f"`export.sparse` must be true or false. "
                         f"Received: sparse={export['sparse']!r}")
    quantize = export["quantize"]
    if isinstance(quantize, str):  # any case; None spelled as Python writes it
        quantize = None if quantize.lower() in ("none", "null") else quantize.lower()
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"`export.quantize` must be one of null (no quantization), "
                         f"{', '.join(QUANTIZE_MODES[1:])}. Received: quantize={quantize!r}")
    export["quantize"] = quantize


class _RecipeLoader(yaml.SafeLoader):
    """YAML 1.1's safe loader, reading `1e-4` as a float as YAML 1.2 does (YAML 1.1 needs a
    dot, `1.0e-4`, and reads `1e-4` as a string, which a strength or rate refuses), and
    refusing a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=True) for key, _ in node.value
                if isinstance(node, yaml.MappingNode)]
        twice = sorted({str(key) for i, key in enumerate(keys) if key in keys[:i]})
        if twice:
            raise yaml.constructor.ConstructorError(
                None, None, f"found keys given twice in one mapping: {twice}",
                node.start_mark)
        return super().construct_mapping(node, deep=deep)


_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))
# YAML 1.1 reads `2:4` as the base-60 number 124 (YAML 1.2 has no base 60): a string, so
# that `{nm: 2:4}` means 2:4. Put first: the first resolver that matches wins.
for _first in "-+0123456789":
    _RecipeLoader.yaml_implicit_resolvers[_first].insert(0, (
        "tag:yaml.org,2002:str", re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")))


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def _plain(value: Any) -> Any:
    """Plain YAML types: tuples become lists, numpy scalars become numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _unrepresentable(value, field: str = "") -> tuple[str, object]:
    """The dotted name and value of the first item of `value` YAML cannot represent."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return field, value
    for key, item in items:
        try:
            yaml.safe_dump(item)
        except yaml.representer.RepresenterError:
            return _unrepresentable(item, f"{field}.{key}" if field else str(key))
    return field, value
