"""One validator per concept: a sparsity, a count, a learning rate, a choice.

Every public entry point checks its arguments with these functions, before any state
changes, so the same mistake gets the same message everywhere: the argument's name, the
value received and what is allowed, in Keras' style (`... Received: name=value`).
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
import sys
from typing import Any, Iterable, Mapping

import keras
import numpy as np


def _scalar(value: Any) -> Any:
    """A 0-d numpy array's item (what `np.mean` or `np.clip` of a scalar give); else `value`."""
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def is_number(value: Any) -> bool:
    """True for real numbers (Python or numpy scalars, 0-d arrays), False for bools and
    strings.

    Example:

    >>> import numpy as np
    >>> is_number(np.float32(0.5)), is_number(np.array(0.5)), is_number(True), is_number("0.5")
    (True, True, False, False)
    """
    value = _scalar(value)
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """True for integers (Python or numpy scalars, 0-d arrays), False for bools.

    Example:

    >>> import numpy as np
    >>> is_int(np.int64(3)), is_int(3.0), is_int(False)
    (True, False, False)
    """
    value = _scalar(value)
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_whole(value: Any) -> bool:
    """True for integers and integer-valued floats (step counts computed by division, as
    Keras' own schedules take them), False for bools.

    Example:

    >>> is_whole(10.0), is_whole(10.5), is_whole(True)
    (True, False, False)
    """
    return is_int(value) or (is_number(value) and float(_scalar(value)).is_integer())


def is_bool(value: Any) -> bool:
    """True for True and False, numpy's included (`np.all(...)` gives `np.True_`).

    Example:

    >>> import numpy as np
    >>> is_bool(np.True_), is_bool(1), is_bool("yes")
    (True, False, False)
    """
    return isinstance(value, (bool, np.bool_))


def check_sparsity(name: str, value: Any, *, allow_zero: bool = True) -> float:
    """A sparsity in [0, 1) (or (0, 1) when `allow_zero=False`); returns it as a float.

    Example:

    >>> check_sparsity("target_sparsity", 0.9)
    0.9
    >>> check_sparsity("target_sparsity", 1.0)
    Traceback (most recent call last):
    ...
    ValueError: `target_sparsity` must be a float in [0, 1). Received: target_sparsity=1.0
    """
    low = "[0, 1)" if allow_zero else "(0, 1)"
    ok = is_number(value) and math.isfinite(value) and 0.0 <= value < 1.0
    if not ok or (not allow_zero and value == 0):
        raise ValueError(f"`{name}` must be a float in {low}. Received: {name}={value!r}")
    return float(value)


def check_int(name: str, value: Any, *, minimum: int = 0) -> int:
    """An int >= `minimum`; returns it as a Python int.

    Example:

    >>> check_int("cycles", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: `cycles` must be an int >= 1. Received: cycles=0
    """
    if not is_int(value) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_scale(name: str, value: Any) -> float:
    """A finite factor >= 0 (a fraction or multiple of something); returns it as a float.

    Example:

    >>> check_scale("sparsity_scale", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: `sparsity_scale` must be a finite float >= 0. Received: sparsity_scale=nan
    """
    if not (is_number(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"`{name}` must be a finite float >= 0. Received: {name}={value!r}")
    return float(value)


def check_learning_rate(
    name: str, value: Any, *, optional: bool = False, schedule_ok: bool = False
) -> Any:
    """A finite learning rate > 0 (or None when `optional`, or a Keras
    `LearningRateSchedule` when `schedule_ok`).

    Example:

    >>> check_learning_rate("pruning_learning_rate", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: `pruning_learning_rate` must be a finite float > 0. Received: pruning_learning_rate=-1.0
    """
    if value is None and optional:
        return None
    if schedule_ok and isinstance(value, dict):
        value = _schedule_from_config(name, value)
    if schedule_ok and isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return value
    if not (is_number(value) and math.isfinite(value) and value > 0):
        allowed = "a finite float > 0"
        allowed += " or a keras LearningRateSchedule" if schedule_ok else ""
        allowed += " or None" if optional else ""
        raise ValueError(f"`{name}` must be {allowed}. Received: {name}={value!r}")
    return float(value)


def _schedule_from_config(name: str, config: dict) -> Any:
    """A Keras learning-rate schedule from its serialized config (as `get_config` gives)."""
    try:
        return keras.optimizers.schedules.deserialize(config)
    except Exception as error:  # noqa: BLE001 - Keras raises ValueError, TypeError, KeyError
        raise ValueError(
            f"`{name}` is a dict, and so must be a serialized Keras learning-rate schedule "
            "({'class_name': ..., 'config': {...}}), which this one is not: "
            f"{' '.join(str(error).split())[:200]} Received: {name}={config!r}") from None


def check_positive(name: str, value: Any, *, optional: bool = False) -> float | None:
    """A finite float > 0 (or None when `optional`): a strength, a threshold.

    Example:

    >>> check_positive("penalty", 0)
    Traceback (most recent call last):
    ...
    ValueError: `penalty` must be a finite float > 0. Received: penalty=0
    """
    if value is None and optional:
        return None
    if not (is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(
            f"`{name}` must be a finite float > 0{' or None' if optional else ''}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable) -> Any:
    """One of `choices`.

    Example:

    >>> check_choice("scope", "model", ("layer", "global"))
    Traceback (most recent call last):
    ...
    ValueError: `scope` must be one of ('layer', 'global'). Received: scope='model'
    """
    choices = tuple(choices)
    if not is_single(value) or value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")
    return value


def check_shape(name: str, value: Any, example: str) -> tuple[int, ...]:
    """A non-empty shape of positive ints: a tuple, a list or a 1-d integer array.

    Example:

    >>> import numpy as np
    >>> check_shape("block_shape", np.array([4, 1]), "(4, 1)")
    (4, 1)
    >>> check_shape("block_shape", (4, 0), "(4, 1)")
    Traceback (most recent call last):
    ...
    ValueError: `block_shape` must be a non-empty tuple of positive ints, such as (4, 1). Received: block_shape=(4, 0)
    """
    values = value.tolist() if isinstance(value, np.ndarray) and value.ndim == 1 else value
    if (not isinstance(values, (tuple, list)) or not values
            or not all(is_int(v) and v >= 1 for v in values)):
        raise ValueError(
            f"`{name}` must be a non-empty tuple of positive ints, such as {example}. "
            f"Received: {name}={value!r}")
    return tuple(int(v) for v in values)


def check_known_keys(name: str, keys: Iterable, allowed: Iterable[str], what: str,
                     shown: Iterable[str] | None = None) -> None:
    """Refuse `keys` (of the mapping argument `name`) that are not in `allowed`, which
    are `what`; the message lists `shown` (default: `allowed`).

    Example:

    >>> check_known_keys("gradients", ["nosuch"], ["d/kernel", "d/bias"], "weight paths",
    ...                  shown=["d/kernel"])
    Traceback (most recent call last):
    ...
    ValueError: `gradients` has keys ['nosuch'], which are not weight paths of the model: ['d/kernel']
    """
    allowed = set(allowed)
    unknown = sorted((key for key in keys if key not in allowed), key=str)
    if unknown:
        shown = sorted(allowed) if shown is None else list(shown)
        raise ValueError(
            f"`{name}` has keys {unknown}, which are not {what} of the model: {shown}")


def check_name_patterns(name: str, value: Any, exact_names=()) -> list[re.Pattern]:
    """Layer names or regular expressions (strings or compiled), one or a list, compiled.
    A string equal to one of `exact_names` matches that name only: `"block.1"` is not
    also read as a regex matching `"block_1"`.

    Example:

    >>> import re
    >>> patterns = check_name_patterns("layers", ["b.1", re.compile("c.*")], ["b.1"])
    >>> [bool(p.fullmatch(name)) for p, name in zip(patterns, ["b_1", "conv"])]
    [False, True]
    """
    items = [value] if isinstance(value, (str, re.Pattern)) else value
    if not isinstance(items, (list, tuple, set)) or not items or not all(
        isinstance(item, (str, re.Pattern)) for item in items
    ):
        raise TypeError(
            f"`{name}` must be a layer name, a regex (a string or re.compile(...)), a list "
            f"of them, or a callable layer -> bool. Received: {name}={value!r}")
    try:
        return [re.compile(re.escape(item) if item in exact_names else item)
                for item in items]
    except re.error as error:
        raise ValueError(f"`{name}` holds an invalid regular expression: {error}") from error


def class_name_of(value: Any) -> str | None:
    """The bare class name of a Keras spelling `{"class_name": ..., "config": ...}` (a
    registered name such as `"kerasprune>Blocks"` loses its package), or None."""
    if not isinstance(value, Mapping) or not isinstance(value.get("class_name"), str):
        return None
    return value["class_name"].rpartition(">")[2]


def from_class_config(name: str, value: Mapping, kinds: Mapping[str, type]) -> Any:
    """An instance of one of `kinds` (`{class name: class}`) from its Keras spelling
    `{"class_name": "ElasticNet", "config": {...}}`, the config's keys checked against
    the class's arguments (a recipe's spelling of penalties and patterns).

    Example:

    >>> from kerasprune.core.patterns import Blocks
    >>> from_class_config("pattern", {"class_name": "Blocks", "config": {"block_shape": [4, 1]}},
    ...                   {"Blocks": Blocks}).block_shape
    (4, 1)
    """
    kind = kinds.get(class_name_of(value))
    if kind is None:
        raise ValueError(f"`{name}`'s class_name must be one of {sorted(kinds)}. "
                         f"Received: {name}={value!r}")
    config = value.get("config") or {}
    allowed = [parameter for parameter in inspect.signature(kind.__init__).parameters
               if parameter not in ("self", "args", "kwargs")]
    unknown = sorted(set(config) - set(allowed), key=str) if isinstance(config, Mapping) \
        else config
    if unknown:
        raise ValueError(f"`{name}`'s {kind.__name__} config takes {allowed}. Received "
                         f"unknown keys: {unknown}")
    return kind.from_config(dict(config))


def is_single(value: Any) -> bool:
    """True for a value that `==` compares whole: not a list, dict or set, nor an array or
    tensor (whose `==` compares element by element, or fails against a string).

    Example:

    >>> import numpy as np
    >>> is_single("layer"), is_single(np.str_("layer")), is_single(np.array(["layer"]))
    (True, True, False)
    """
    if isinstance(value, (list, dict, set)):
        return False
    return isinstance(value, np.generic) or not hasattr(value, "shape")


def check_verbose(value: Any, levels: tuple = (0, 1)) -> int:
    """`"auto"` (a progress bar when stdout is a terminal) or one of `levels`, Keras'
    verbosity levels; returns the level.

    Example:

    >>> check_verbose(0), check_verbose(True)
    (0, 1)
    >>> check_verbose("yes")
    Traceback (most recent call last):
    ...
    ValueError: `verbose` must be one of (0, 1) or 'auto'. Received: verbose='yes'
    """
    if isinstance(value, str) and value == "auto":
        return int(sys.stdout.isatty())
    if not (is_int(value) or is_bool(value)) or int(_scalar(value)) not in levels:
        raise ValueError(
            f"`verbose` must be one of {levels} or 'auto'. Received: verbose={value!r}")
    return int(_scalar(value))


def check_update_every(value: Any) -> str | int:
    """`"epoch"` or an int number of steps >= 1.

    Example:

    >>> check_update_every(100), check_update_every("epoch")
    (100, 'epoch')
    """
    if isinstance(value, str) and value == "epoch":
        return value
    if not is_int(value) or value < 1:
        raise ValueError(
            "`update_every` must be 'epoch' or an int number of steps >= 1. "
            f"Received: update_every={value!r}"
        )
    return int(value)


def check_model(value: Any, name: str = "model", *, built: bool = True) -> keras.Model:
    """A `keras.Model`, built (holding its weights) unless `built=False`.

    Example:

    >>> check_model("model.keras")
    Traceback (most recent call last):
    ...
    TypeError: `model` must be a keras.Model. Received: model='model.keras' of type str
    """
    if not isinstance(value, keras.Model) and _is_keras_2(value):
        raise TypeError(
            f"`{name}` is a tf_keras (Keras 2) model of type {type(value).__name__}, and "
            "kerasprune prunes Keras 3 models. Build the model with Keras 3 (`import keras`: "
            "the same layers), copy the weights over (`keras3_model.set_weights("
            "tf_keras_model.get_weights())`) and prune that; a TFMOT script runs on it "
            "with `import kerasprune.tfmot as tfmot` in place of "
            "`import tensorflow_model_optimization as tfmot`. Received: "
            f"{name}={value!r}"
        )
    if not isinstance(value, keras.Model):
        raise TypeError(
            f"`{name}` must be a keras.Model. Received: {name}={value!r} of type "
            f"{type(value).__name__}"
        )
    if built and not value.built:
        raise ValueError(
            f"`{name}` must be a built model, and model '{value.name}' is not built yet (it "
            "has no weights). Start a Sequential model with keras.Input(shape), or call "
            f"model.build(input_shape) or the model on data first. Received: {name}={value!r}"
        )
    return value


def _is_keras_2(value: Any) -> bool:
    """True for a model or layer of tf_keras (or the Keras 2 bundled in TensorFlow)."""
    return any(
        cls.__module__.split(".")[0] == "tf_keras"
        or cls.__module__.startswith("tensorflow.python.keras")
        for cls in type(value).__mro__
    )


def check_finite_weights(wrappers: Iterable) -> None:
    """Refuse pruned weights holding NaN or Inf: their magnitudes cannot be ranked.

    `wrappers` are `PruneWrapper` layers; the message names the first layer and weight
    found with non-finite values.

    Example:

    >>> import keras, kerasprune
    >>> wrapper = kerasprune.PruneWrapper(keras.layers.Dense(2, name="d"))
    >>> wrapper.build((None, 2))
    >>> _ = wrapper.layer.kernel.assign([[float("nan"), 1.0], [1.0, 1.0]])
    >>> check_finite_weights([wrapper])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Layer 'd' has 1 NaN/Inf values in its weight 'kernel': ...
    """
    for wrapper in wrappers:
        for weight in wrapper.pruned_weights:
            bad = int(np.size(weight) - np.count_nonzero(np.isfinite(np.asarray(weight))))
            if bad:
                raise ValueError(
                    f"Layer '{wrapper.layer.name}' has {bad} NaN/Inf values in its weight "
                    f"'{weight.name}': magnitude pruning cannot rank them. Training probably "
                    "diverged: lower the learning rate, or restore finite weights before "
                    "pruning."
                )


def check_samples(model: keras.Model, x: Any, name: str) -> None:
    """Refuse input samples `x` that `model` cannot run on: one array per model input,
    each `(n, *input shape)`, numeric (strings only for string inputs) and finite.

    A dict `x` (named inputs) and a subclassed model (no symbolic inputs) get the
    finiteness check only.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)], name="net")
    >>> check_samples(model, np.zeros((4, 5)), "data")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `data` must hold samples of shape (n, 8) for model 'net'. Received: an ...
    """
    arrays = list(x.values()) if isinstance(x, dict) else (
        list(x) if isinstance(x, (list, tuple)) else [x])
    inputs = list(getattr(model, "inputs", None) or []) if not isinstance(x, dict) else []
    if inputs and len(arrays) != len(inputs):
        raise ValueError(
            f"`{name}` must hold one array per input of model '{model.name}' "
            f"({len(inputs)}). Received: {len(arrays)} arrays")
    for index, array in enumerate(arrays):
        array = np.asarray(array)
        spec = inputs[index] if inputs else None
        text_input = spec is not None and "string" in str(spec.dtype)
        if array.dtype.kind in "USO" and not text_input and spec is not None:
            raise TypeError(
                f"`{name}` must hold numbers for model '{model.name}'. Received: an array "
                f"of dtype {array.dtype}")
        if spec is not None:
            expected = tuple(spec.shape[1:])
            if array.ndim != len(expected) + 1 or any(
                    e is not None and e != a for e, a in zip(expected, array.shape[1:])):
                wanted = ", ".join(["n"] + ["None" if e is None else str(e) for e in expected])
                raise ValueError(
                    f"`{name}` must hold samples of shape ({wanted}) for model "
                    f"'{model.name}'. Received: an array of shape {array.shape}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(
                f"`{name}` holds NaN or Inf values ({array.size - np.isfinite(array).sum()} "
                f"of {array.size}); scores and statistics computed on them would be NaN. "
                f"Received: an array of shape {array.shape}")


def sample_slice(x: Any, start: int, stop: int) -> Any:
    """Examples `start:stop` of a sample: an array, or a dict or list of arrays (one per
    model input).

    Example:

    >>> [a.tolist() for a in sample_slice([np.arange(4), np.arange(4) * 2], 1, 3)]
    [[1, 2], [2, 4]]
    """
    if isinstance(x, dict):
        return {k: v[start:stop] for k, v in x.items()}
    return [v[start:stop] for v in x] if is_array_list(x) else x[start:stop]


def is_array_list(x: Any) -> bool:
    """A list or tuple of arrays (one per input of a multi-input model), as Keras takes."""
    return isinstance(x, (list, tuple)) and bool(x) and all(hasattr(a, "shape") for a in x)


def require_targets(y: Any, name: str = "y") -> None:
    """Refuse `y=None` where the loss needs targets.

    Example:

    >>> require_targets(None)
    Traceback (most recent call last):
    ...
    ValueError: `y` must hold the targets of the inputs, which the loss needs. Received: y=None
    """
    if y is None:
        raise ValueError(f"`{name}` must hold the targets of the inputs, which the loss "
                         f"needs. Received: {name}=None")


def check_targets(model: keras.Model, loss: Any, x: Any, y: Any, name: str = "y") -> None:
    """Refuse training targets `y` that `loss` cannot use with `model`'s outputs on `x`
    (checked on the dense model before any training): None, NaN/Inf, class labels that are
    not whole numbers or lie outside the outputs of a sparse categorical loss, and targets
    the loss raises on for a first batch.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="net")
    >>> check_targets(model, keras.losses.SparseCategoricalCrossentropy(), np.zeros((2, 4)),
    ...               np.array([0, 7]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `y` must hold class indices in [0, 3) for the 3 outputs of model 'net' ...
    """
    require_targets(y, name)
    labels = None if isinstance(y, (dict, list, tuple)) else np.asarray(y)
    if labels is not None and labels.dtype.kind == "f" and not np.isfinite(labels).all():
        bad = labels.size - np.isfinite(labels).sum()
        raise ValueError(f"`{name}` holds NaN or Inf values ({bad} of {labels.size}): the "
                         f"loss would be NaN. Received: an array of shape {labels.shape}")
    outputs = model(sample_slice(x, 0, 32), training=False)
    if labels is None or not hasattr(outputs, "shape"):
        return
    loss_name = getattr(loss, "name", None) or getattr(loss, "__name__", "")
    if "sparse_categorical" in str(loss_name):
        classes = int(outputs.shape[-1])
        whole = labels.dtype.kind in "iu" or (
            labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)))
        if not whole or labels.min() < 0 or labels.max() >= classes:
            raise ValueError(
                f"`{name}` must hold class indices in [0, {classes}) for the {classes} outputs "
                f"of model '{model.name}' ({loss_name}). Received: {labels.dtype} values from "
                f"{labels.min().item()!r} to {labels.max().item()!r}")
    targets = labels[:32]
    if targets.ndim + 1 == len(outputs.shape) and outputs.shape[-1] == 1:
        targets = targets[..., None]  # as `fit`'s compiled loss does: (n,) for (n, 1) outputs
    try:
        keras.ops.convert_to_numpy(loss(targets, outputs))
    except Exception as error:  # noqa: BLE001 - Keras and the backend raise many kinds
        problem = " ".join(str(error).split())[:300]
        raise ValueError(
            f"The loss ({loss_name}) cannot be computed on `{name}` and the outputs of model "
            f"'{model.name}': check that {name} fits it (class indices for a sparse loss, "
            f"one-hot rows for a categorical one). The loss raised {type(error).__name__}: "
            f"{problem}") from error
