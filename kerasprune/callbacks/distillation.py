"""`Distillation`: a pruning run learns from the dense model while it recovers.

Structured pruning removes capacity; the dense model, kept as a teacher, tells the pruned
one what its outputs looked like (Hinton et al. 2015; every vendor of structured pruning
pairs the two: NVIDIA's Minitron, Neural Magic's SparseML). The callback adds to the
model's own loss, during training steps only,

    weight * T^2 * KL(softmax(teacher / T) || softmax(student / T))

on the logits (`T` the temperature), plus, optionally, `feature_weight` times the mean
squared difference of named intermediate outputs of student and teacher (FitNets). The
model's loss is left as it is (task loss and any penalty); validation and `evaluate`
report it alone. The teacher is called in inference mode and never trained.

It works next to every pruning callback (GMP, IMP, BIMP, RigL, penalties) and in a
`kerasprune.Recipe` (`distillation:` section, the recipe's input model as teacher). It holds
no state of its own: a resumed run (`BackupAndRestore`, or `load_model` and
`fit(initial_epoch=k)`) gets the same loss from a new `Distillation` with the same teacher.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import keras
import numpy as np

from kerasprune.core.prune_wrapper import PruneWrapper
from kerasprune.core.validation import check_model, check_positive, is_number


def check_distillation(temperature: float, weight: float,
                       features: Mapping[str, str] | Sequence[str] | None,
                       feature_weight: float) -> dict[str, str]:
    """The `features` as `{student layer: teacher layer}`, after checking every argument.

    Example:

    >>> check_distillation(4.0, 1.0, ["conv2"], 0.5)
    {'conv2': 'conv2'}
    """
    check_positive("temperature", temperature)
    for name, value in (("weight", weight), ("feature_weight", feature_weight)):
        if not is_number(value) or not 0 <= value < float("inf"):
            raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")
    if features is None:
        return {}
    pairs = dict(features) if isinstance(features, Mapping) else (
        {name: name for name in features} if not isinstance(features, str) else None)
    if not pairs or not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()):
        raise ValueError(
            "`features` must be a list of layer names (the same in student and teacher) or "
            f"a dict {{student layer: teacher layer}}. Received: features={features!r}")
    return pairs


@keras.saving.register_keras_serializable(package="kerasprune")
class Distillation(keras.callbacks.Callback):
    """Add the teacher's knowledge-distillation loss to the model's loss while it trains.

    Args:
        teacher: the dense model, with the same output (logits) as the model being
            trained; called with `training=False`, never trained.
        temperature: `T` > 0: both logits are divided by it before the softmax (higher
            is softer), and the KL term is multiplied by `T**2`.
        weight: the KL term's weight (>= 0) next to the model's own loss.
        features: intermediate outputs to match: layer names found in both models, or
            `{student layer: teacher layer}`; their mean squared difference is added
            with `feature_weight`. Both outputs must have the same shape (before
            `shrink`, a channel-pruned layer keeps its shape).
        feature_weight: the weight of the feature term.

    Example:

    >>> import numpy as np, kerasprune
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="logits")])
    >>> student = kerasprune.prune(teacher)
    >>> student.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
    ...                                  finetune_epochs=0)
    >>> distill = Distillation(teacher, temperature=2.0)
    >>> x, y = np.ones((8, 4), "float32"), np.zeros(8, "int64")
    >>> _ = student.fit(x, y, epochs=1, callbacks=[gmp, distill], verbose=0)
    >>> distill.get_config()
    {'temperature': 2.0, 'weight': 1.0, 'features': None, 'feature_weight': 1.0}
    """

    def __init__(self, teacher: keras.Model, *, temperature: float = 4.0, weight: float = 1.0,
                 features: Mapping[str, str] | Sequence[str] | None = None,
                 feature_weight: float = 1.0):
        super().__init__()
        if not isinstance(teacher, keras.Model):
            raise TypeError(
                "`teacher` must be a keras.Model (the dense model). "
                f"Received: teacher={teacher!r} of type {type(teacher).__name__}")
        check_model(teacher, "teacher")  # an unbuilt teacher would teach random logits
        self.pairs = check_distillation(temperature, weight, features, feature_weight)
        self.teacher = teacher
        self.temperature, self.weight = float(temperature), float(weight)
        self.features, self.feature_weight = features, float(feature_weight)
        self._model_loss = None
        self._step_expected = False

    def get_config(self) -> dict:
        """The settings; the teacher is a model, given again to `from_config`."""
        features = self.features
        return {"temperature": self.temperature, "weight": self.weight,
                "features": dict(features) if isinstance(features, Mapping) else (
                    list(features) if features is not None else None),
                "feature_weight": self.feature_weight}

    @classmethod
    def from_config(cls, config: dict, teacher: keras.Model | None = None) -> "Distillation":
        """A callback with `config`'s settings and `teacher` (or `config["teacher"]`)."""
        config = dict(config)
        return cls(config.pop("teacher", teacher), **config)

    def on_train_begin(self, logs=None):
        model = self.model
        self._check_teacher(model)
        self._check_outputs(model)
        extract = self._extractors(model)
        left = vars(model).get("compute_loss")
        if getattr(left, "fit_params", self.params) is not self.params:
            del model.compute_loss  # left by a fit that stopped before on_train_end
        model_loss = model.compute_loss
        temperature, weight, feature_weight = self.temperature, self.weight, self.feature_weight
        teacher = self.teacher

        def compute_loss(x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = model_loss(x, y, y_pred, sample_weight, training=training)
            if not training:
                return loss
            loss = loss + weight * temperature ** 2 * soft_kl(
                teacher(x, training=False), y_pred, temperature)
            if extract is not None:
                student_features = _as_list(extract[0](x, training=True))
                teacher_features = _as_list(extract[1](x, training=False))
                loss = loss + feature_weight * sum(
                    keras.ops.mean(keras.ops.square(s - t))
                    for s, t in zip(student_features, teacher_features))
            return loss

        compute_loss.fit_params = self.params  # one dict per fit, shared by its callbacks
        self._model_loss = model_loss
        model.compute_loss = compute_loss
        model.make_train_function(force=True)  # a model trained before has traced its step
        model.train_function = self._guarded(model, model.train_function)

    def on_train_batch_begin(self, batch, logs=None):
        self._step_expected = True

    def _guarded(self, model, traced):
        """`traced`, undone when its fit stops without on_train_end: at an error in a
        step, or at the next fit's first step (a fit stopped in another callback)."""

        def train_function(*args, **kwargs):
            if not self._step_expected:  # a later fit, without this callback
                self.on_train_end()
                model.make_train_function(force=True)
                return model.train_function(*args, **kwargs)
            self._step_expected = False
            try:
                return traced(*args, **kwargs)
            except BaseException:
                self.on_train_end()
                raise

        return train_function

    def on_train_end(self, logs=None):
        model = self.model
        if self._model_loss is not None and "compute_loss" in vars(model):
            del model.compute_loss  # the class's own again
            model.train_function = None  # the next fit traces a step without the teacher
        self._model_loss = None

    def _check_teacher(self, model) -> None:
        """Refuse a teacher that cannot teach `model`: itself, other inputs, NaN weights,
        or probabilities where logits are compared."""
        teacher = self.teacher
        if teacher is model:
            raise ValueError(
                f"`teacher` is the model being trained ('{model.name}'): pass the dense "
                "model (e.g. the one given to kerasprune.prune) as teacher.")
        ours, theirs = (getattr(m, "inputs", None) for m in (model, teacher))
        if ours and theirs and [tuple(t.shape[1:]) for t in ours] != [
                tuple(t.shape[1:]) for t in theirs]:
            raise ValueError(
                f"The teacher '{teacher.name}' takes inputs of shape "
                f"{[tuple(t.shape[1:]) for t in theirs]} and the model '{model.name}' "
                f"{[tuple(t.shape[1:]) for t in ours]}: the teacher runs on the model's "
                "training batches.")
        bad = [w.path for w in teacher.weights if np.asarray(w).dtype.kind == "f"
               and not np.isfinite(np.asarray(w)).all()]
        if bad:
            raise ValueError(
                f"The teacher '{teacher.name}' has NaN/Inf values in {bad[:3]}: its logits "
                "would make the loss NaN.")
        for which, net in (("teacher", teacher), ("model", model)):
            last = net.layers[-1] if getattr(net, "layers", None) else None
            if _applies_softmax(last):
                raise ValueError(
                    f"The {which} '{net.name}' ends with a softmax (layer '{last.name}'): "
                    "Distillation compares logits. Give it a model without the softmax "
                    "(e.g. keras.Model(m.inputs, m.layers[-2].output)), trained with "
                    "from_logits=True.")

    def _check_outputs(self, model) -> None:
        student, teacher = _outputs(model), _outputs(self.teacher)
        if len(student) != 1 or len(teacher) != 1:
            raise ValueError(
                "Distillation matches one output of logits: the model has "
                f"{len(student)} outputs and the teacher {len(teacher)}.")
        if student[0] is not None and teacher[0] is not None and student[0] != teacher[0]:
            raise ValueError(
                f"The teacher's output shape {teacher[0]} differs from the model's "
                f"{student[0]}: distillation compares their logits class by class.")

    def _extractors(self, model):
        """Two models giving the matched layers' outputs, or None without `features`."""
        if not self.pairs:
            return None
        student = [_layer_output(model, name, "model") for name in self.pairs]
        teacher = [_layer_output(self.teacher, name, "teacher") for name in self.pairs.values()]
        for (name, other), s, t in zip(self.pairs.items(), student, teacher):
            if tuple(s.shape[1:]) != tuple(t.shape[1:]):
                raise ValueError(
                    f"`features`: the model's layer '{name}' outputs {tuple(s.shape[1:])}, "
                    f"the teacher's '{other}' {tuple(t.shape[1:])}: distill features before "
                    "`shrink`, or between layers of the same shape.")
        return (keras.Model(model.inputs, student), keras.Model(self.teacher.inputs, teacher))


def soft_kl(teacher_logits, student_logits, temperature: float):
    """Mean over the batch of KL(softmax(teacher / T) || softmax(student / T)).

    Example:

    >>> import numpy as np
    >>> logits = np.array([[1.0, 2.0, 3.0]], "float32")
    >>> float(soft_kl(logits, logits, 2.0))
    0.0
    """
    target = keras.ops.softmax(keras.ops.convert_to_tensor(teacher_logits) / temperature)
    log_target = keras.ops.log_softmax(keras.ops.convert_to_tensor(teacher_logits) / temperature)
    log_student = keras.ops.log_softmax(keras.ops.convert_to_tensor(student_logits) / temperature)
    return keras.ops.mean(keras.ops.sum(target * (log_target - log_student), axis=-1))


def _outputs(model) -> list:
    outputs = getattr(model, "outputs", None)
    if outputs:
        return [tuple(t.shape[1:]) for t in outputs]
    return [None]  # a subclassed model: its output is checked when it runs


def _layer_output(model, name: str, which: str):
    """The output of layer `name` (a `PruneWrapper` answers to its layer's name)."""
    layers = {(layer.layer if isinstance(layer, PruneWrapper) else layer).name: layer
              for layer in model.layers}
    layer = layers.get(name)
    if layer is None or not getattr(model, "outputs", None):
        raise ValueError(
            f"`features` names '{name}', which is not a layer of the {which} "
            f"'{model.name}' (a Functional or Sequential model). Its layers: {sorted(layers)}")
    return layer.output


def _applies_softmax(layer) -> bool:
    if isinstance(layer, PruneWrapper):
        layer = layer.layer
    activation = getattr(layer, "activation", None)
    return isinstance(layer, keras.layers.Softmax) or getattr(
        activation, "__name__", None) == "softmax"


def _as_list(values) -> list:
    return list(values) if isinstance(values, (list, tuple)) else [values]
