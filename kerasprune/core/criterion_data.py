"""`CriterionData(x, y)`: the data that data-driven criteria need at mask-update time.

Magnitude criteria read the weights; others need the model run on data: the Taylor
channel criterion, SNIP and OBD need loss gradients, APoZ and the mean-activation
criterion need the outputs of the pruned layers, Wanda the norms of their input
features, SparseGPT the calibration inputs themselves (`kerasprune.oneshot`), RigL
regrows where the dense gradient is largest. A `CriterionData` holds a fixed sample
(arrays, or a dict of arrays for models with several inputs) and computes, on demand,
what the model's patterns and weight criteria declare they need (`needed_data`); a
pruning callback given `data=` passes it to `update_masks(gradients=..., ...)`. Nothing
is written onto the patterns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

import keras
import numpy as np

from kerasprune import _compat
from kerasprune.core.caller import user_stacklevel
from kerasprune.core.gradients import batch_gradients
from kerasprune.core.linear_views import linear_view, weight_layers
from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.validation import check_int, is_array_list, sample_slice
from kerasprune.core.weight_criteria import NEEDS

#: What a `CriterionData` computes, by the name `update_masks` takes it under.
KINDS = ("gradients", "activations", "input_norms")


@dataclass(frozen=True)
class ChannelActivity:
    """Statistics of one layer's output per channel, over a data sample.

    `zero_fraction`: the fraction of outputs <= 0 (zero after a ReLU: APoZ);
    `mean`: the mean of the ReLU of the outputs (the mean-activation criterion);
    `pooled`: `(examples, channels)`, each example's output averaged over every axis but
    the channel axis (correlation, entropy, LDA); `labels`: the class of each example
    (the argmax of one-hot targets), or None without targets (LDA).
    """

    zero_fraction: np.ndarray
    mean: np.ndarray
    pooled: np.ndarray | None = None
    labels: np.ndarray | None = None


def loss_gradients(
    model: keras.Model, x, y, *, batch_size: int = 64, paths: Sequence[str] | None = None
) -> dict[str, list[np.ndarray]]:
    """Gradients of `model`'s compiled loss on each batch of `(x, y)`.

    Returns `{variable path: [gradient on batch 1, gradient on batch 2, ...]}` for the
    trainable variables named in `paths` (all of them by default). The gradient of a
    pruned weight is dense: the loss's slope at 0, what RigL regrows by.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss="mse")
    >>> grads = loss_gradients(model, np.ones((4, 3)), np.zeros((4, 2)), batch_size=2)
    >>> [g.shape for g in grads[model.layers[0].kernel.path]]
    [(3, 2), (3, 2)]
    """
    if getattr(model, "loss", None) is None:
        raise ValueError(
            f"Model '{model.name}' has no loss: compile it before computing loss gradients."
        )
    wanted = None if paths is None else set(paths)
    variables = [v for v in model.trainable_variables if wanted is None or v.path in wanted]
    result: dict[str, list[np.ndarray]] = {v.path: [] for v in variables}
    for xb, yb in batches(x, y, batch_size):
        try:
            grads = batch_gradients(model, xb, yb, variables)
        except Exception as error:  # noqa: BLE001 - Keras and the backend raise many kinds
            problem = " ".join(str(error).split())[:300]
            raise ValueError(
                f"Model '{model.name}''s loss cannot be computed on the criterion data's "
                "(x, y): check that y fits the compiled loss (class indices for a sparse "
                "loss, one-hot rows for a categorical one, in the model's output range). "
                f"The loss raised {type(error).__name__}: {problem}") from error
        for variable, grad in zip(variables, grads):
            result[variable.path].append(np.zeros(variable.shape) if grad is None else grad)
    return result


def channel_activity(
    model: keras.Model, x, *, batch_size: int = 64, wrappers: list | None = None, y=None
) -> dict[str, ChannelActivity]:
    """Per-channel output statistics of pruned layers over `x`, keyed by weight path.

    Runs `model` on `x` in inference mode, batch by batch, and reduces the output of each
    wrapper in `wrappers` (default: all) to one `ChannelActivity` per output channel
    (the last axis, or axis 1 for `channels_first` layers), with the sample's labels
    from `y` when given. Every pruned weight of a wrapper maps to its layer's statistics.

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(2, use_bias=False, kernel_initializer="identity")]))
    >>> activity = channel_activity(model, np.array([[1.0, -1.0], [2.0, 0.0]]))
    >>> stats = activity[model.layers[0].layer.kernel.path]
    >>> stats.zero_fraction.tolist(), stats.mean.tolist()
    ([0.0, 1.0], [1.5, 0.0])
    """
    wrappers = prune_wrappers(model) if wrappers is None else wrappers
    zeros = {id(w): 0.0 for w in wrappers}
    sums = {id(w): 0.0 for w in wrappers}
    counts = {id(w): 0 for w in wrappers}
    pooled = {id(w): [] for w in wrappers}

    def observe(wrapper, inputs, outputs):
        axis = 1 if getattr(wrapper.layer, "data_format", None) == "channels_first" else -1
        values = np.moveaxis(np.asarray(outputs, np.float64), axis, -1)
        pooled[id(wrapper)].append(values.reshape(values.shape[0], -1, values.shape[-1])
                                   .mean(axis=1))
        values = values.reshape(-1, values.shape[-1])
        zeros[id(wrapper)] = zeros[id(wrapper)] + (values <= 0).sum(axis=0)
        sums[id(wrapper)] = sums[id(wrapper)] + np.maximum(values, 0).sum(axis=0)
        counts[id(wrapper)] += values.shape[0]

    with _compat.observing_calls(wrappers, observe):
        for xb, _ in batches(x, None, batch_size):
            model(xb, training=False)
    labels = None if y is None else class_labels(y)
    result = {}
    for wrapper in wrappers:
        n = max(counts[id(wrapper)], 1)
        key = id(wrapper)
        rows = np.concatenate(pooled[key]) if pooled[key] else None
        stats = ChannelActivity(np.asarray(zeros[key]) / n, np.asarray(sums[key]) / n,
                                rows, labels)
        result.update({weight.path: stats for weight in wrapper.pruned_weights})
    return result


#: Criteria that read a layer's output as a ReLU sees it, and the activations that fit
#: (an allow-list: every other activation, named or not, is warned about).
RELU_CRITERIA = ("apoz", "mean_activation")
RELU_LIKE = ("relu", "relu6", "linear")


def _activation_name(activation) -> str | None:
    """The name of a layer's activation: a function's name, "relu" for a plain
    `keras.layers.ReLU()`, else the class name of an activation object (`LeakyReLU`)."""
    if activation is None:
        return None
    if (isinstance(activation, keras.layers.ReLU) and not activation.negative_slope
            and not activation.threshold):
        return "relu"
    return getattr(activation, "__name__", None) or type(activation).__name__


_ACTIVATION_LAYERS = (keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
                      keras.layers.ELU, keras.layers.PReLU, keras.layers.Softmax)
_NORMALIZATIONS = (keras.layers.BatchNormalization, keras.layers.LayerNormalization)


def _next_activations(layer, depth: int = 4) -> list[str]:
    """The activation layers a linear layer's output goes through next (past normalization
    layers: Conv2D -> BatchNormalization -> Activation("swish")), by name."""
    found = []
    for consumer in _compat.outbound_consumers(layer) if depth else ():
        inner = getattr(consumer, "layer", consumer)  # a PruneWrapper of a normalization
        if isinstance(inner, keras.layers.Activation):
            found.append(_activation_name(inner.activation))
        elif isinstance(inner, _ACTIVATION_LAYERS):
            found.append(_activation_name(inner))
        elif isinstance(inner, _NORMALIZATIONS):
            found += _next_activations(consumer, depth - 1)
    return found


def _warn_unless_relu(wrapper) -> None:
    """Warn when a ReLU-output criterion scores a layer that ends in another nonlinearity
    (its own activation, or an activation layer after it): its negative outputs count as
    zeros, which says nothing of the channel's importance."""
    criterion = getattr(wrapper.pattern, "criterion", None)
    if criterion not in RELU_CRITERIA:
        return
    activation = _activation_name(getattr(wrapper.layer, "activation", None))
    ends = "ends in"
    if activation == "linear":
        activation = next((a for a in _next_activations(wrapper) if a not in RELU_LIKE), None)
        ends = "is followed by"
    if activation is None or activation in RELU_LIKE:
        return
    warnings.warn(
        f"{wrapper.pattern!r} scores layer '{wrapper.layer.name}' by its outputs as a ReLU "
        f"sees them (outputs <= 0 count as zeros), but the layer {ends} {activation!r}: "
        "the scores do not measure what the criterion is meant for. Use it on ReLU (or "
        "linear, ReLU-followed) layers; prefer a weight criterion here ('l1', 'taylor').",
        UserWarning, stacklevel=user_stacklevel())


def class_labels(y) -> np.ndarray:
    """The class of each example: `y` itself, or the argmax of one-hot rows.

    Example:

    >>> class_labels(np.array([[0, 1], [1, 0]])).tolist(), class_labels([2, 0]).tolist()
    ([1, 0], [2, 0])
    """
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        rows = y.reshape(len(y), -1).astype(np.float64)
        if (rows < 0).any() or not np.allclose(rows.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError(_NOT_CLASSES + f"Received: y of shape {y.shape} whose rows are "
                             "not class probabilities (>= 0, summing to 1).")
        return rows.argmax(axis=1)
    y = y.reshape(len(y))
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise ValueError(_NOT_CLASSES + f"Received: y of dtype {y.dtype} holding values such "
                         f"as {y[:3].tolist()}.")
    return y


_NOT_CLASSES = ("Channels('lda') ranks channels by how well they separate the classes of "
                "`y`, which must be class indices or one-hot (or probability) rows, not "
                "regression targets. ")


def input_norms(model: keras.Model, x, *, batch_size: int = 64,
                wrappers: list | None = None) -> dict[str, np.ndarray]:
    """The squared norm of each input feature of pruned weights over `x`, by weight path.

    A weight's input features are those of its layer's linear view
    (`kerasprune.core.linear_views`: a Dense layer's inputs, an EinsumDense's contracted
    axes, a convolution's unfolded patches); each result is shaped to broadcast against
    the weight. Runs `model` on `x` in inference mode, batch by batch, in one pass (for
    the inputs through the layers pruned before, see `input_norms_of`). Weights without a
    linear view (embeddings, recurrent kernels) are refused.

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]))
    >>> norms = input_norms(model, np.array([[1.0, 2.0], [3.0, 0.0]]))
    >>> norms[model.layers[0].layer.kernel.path].tolist()
    [[10.0], [4.0]]
    """
    wrappers = prune_wrappers(model) if wrappers is None else wrappers
    views = _norm_views(wrappers)
    sums: dict[str, np.ndarray] = {}

    def observe(layer, inputs, outputs):
        _add_norms(sums, views[id(layer)][1], inputs[0])

    with _compat.observing_calls([layer for layer, _ in views.values()], observe):
        for xb, _ in batches(x, None, batch_size):
            model(xb, training=False)
    return _summed_norms(views, sums)


def input_norms_of(wrappers: list, layer_inputs: Iterable[dict[int, list]]
                   ) -> dict[str, np.ndarray]:
    """`input_norms` of `wrappers`' weights from their layers' inputs given batch by batch:
    `{id(layer): [its input on each call]}` for the layers `norm_layers(wrappers)` (what
    sequential calibration, `kerasprune.oneshot.calibration.Calibration.inputs`, yields).

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]))
    >>> (dense,) = norm_layers(model.layers)
    >>> input_norms_of(model.layers, [{id(dense): [np.array([[1.0, 2.0]])]},
    ...                               {id(dense): [np.array([[3.0, 0.0]])]}])[
    ...     dense.kernel.path].tolist()
    [[10.0], [4.0]]
    """
    views = _norm_views(wrappers)
    sums: dict[str, np.ndarray] = {}
    for batch in layer_inputs:
        for key, (_, pairs) in views.items():
            for inputs in batch.get(key, []):
                _add_norms(sums, pairs, inputs)
    return _summed_norms(views, sums)


def norm_layers(wrappers: list) -> list[keras.layers.Layer]:
    """The layers whose inputs the input norms of `wrappers`' weights are taken from."""
    return [layer for layer, _ in _norm_views(wrappers).values()]


def _norm_views(wrappers: list) -> dict[int, tuple]:
    """`{id(layer): (layer, [(weight, its linear view)])}` of the wrappers' weights."""
    views: dict[int, tuple] = {}
    for wrapper in wrappers:
        pairs = zip(wrapper.pruned_weights, weight_layers(wrapper), wrapper.weight_names)
        for weight, (layer, name), full_name in pairs:
            view = linear_view(layer, name)
            if view is None:
                raise ValueError(
                    f"The {wrapper.criterion!r} criterion reads the input features of the "
                    f"weights it scores; '{wrapper.layer.name}/{full_name}' "
                    f"({type(layer).__name__}) has none "
                    "kerasprune knows (Dense, EinsumDense, Conv1D and Conv2D have). Exclude "
                    f"the layer: kerasprune.prune(..., exclude=[{wrapper.layer.name!r}]).")
            views.setdefault(id(layer), (layer, []))[1].append((weight, view))
    return views


def _add_norms(sums: dict, pairs: list, inputs) -> None:
    for weight, view in pairs:
        features = view.features(np.asarray(inputs, np.float64))
        sums[weight.path] = sums.get(weight.path, 0.0) + np.square(features).sum(axis=0)


def _summed_norms(views: dict, sums: dict) -> dict[str, np.ndarray]:
    return {weight.path: view.per_feature(sums.get(weight.path, np.zeros(view.in_features)))
            for _, pairs in views.values() for weight, view in pairs}


def batches(x, y, batch_size: int):
    """`(x, y)` batches of a sample (`x` an array, or a dict or list of arrays: one per
    model input; `y` an array or None), in order."""
    for start in range(0, sample_size(x), batch_size):
        stop = start + batch_size
        yield sample_slice(x, start, stop), None if y is None else y[start:stop]


def sample_size(x) -> int:
    """The number of examples in `x` (an array, or a dict or list of arrays of one length);
    0 when it is not such a sample."""
    leaves = list(x.values()) if isinstance(x, dict) else (list(x) if is_array_list(x) else [x])
    lengths = {len(a) if hasattr(a, "__len__") and np.ndim(a) else -1 for a in leaves}
    return lengths.pop() if len(lengths) == 1 and -1 not in lengths else 0


def _samples(count: int) -> str:
    return f" ({count} samples)" if count else ""


class CriterionData:
    """A fixed data sample from which criteria get gradients and activations on demand.

    Pass it as `data=` to a pruning callback or to `one_shot_prune`:
    right before each mask update it computes what the model's patterns and criteria
    need: the loss gradients (Taylor of first and second order, SNIP; RigL's regrowth),
    GraSP's Hessian-gradient products, the per-channel activity of the pruned layers'
    outputs (APoZ, mean activation, correlation, entropy; LDA with the labels `y`), the
    norms of their input features (Wanda, OBD). SparseGPT reads `x` itself (calibration
    data); SynFlow needs no data (`update_data`).

    Args:
        x: input sample (a few hundred examples are enough), an array or a dict of
            arrays (a model with named inputs, such as a KerasHub causal LM).
        y: its targets; needed for gradients, not for activations or inputs.
        batch_size: batch size of the passes over the sample. Taylor and OBD scores
            average squared per-batch gradients, so use several batches.

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
    ...     keras.layers.Dense(2)]), pattern=kerasprune.Channels("apoz"))
    >>> model.compile("adam", "mse")
    >>> x = np.random.default_rng(0).normal(size=(16, 4))
    >>> sorted(CriterionData(x).for_update(model))
    ['activations']
    """

    def __init__(self, x, y=None, *, batch_size: int = 64):
        size = sample_size(x)
        if not size or (y is not None and (not hasattr(y, "__len__") or size != len(y))):
            raise ValueError(
                "`x` must be a non-empty array, and `y` None or an array of equal length "
                "(`x` may be a dict or list of arrays of one length). "
                f"Received: x of type {type(x).__name__}{_samples(size)}, y of type "
                f"{type(y).__name__}{_samples(len(y) if hasattr(y, '__len__') else 0)}"
            )
        self.x, self.y = x, y
        self.batch_size = check_int("batch_size", batch_size, minimum=1)

    def gradients(self, model: keras.Model, paths: Sequence[str] | None = None):
        """`{weight path: [gradient per batch]}` for `paths` (default: the weights of
        every wrapper whose pattern or criterion needs gradients; for a wrapper pruned by
        GraSP, its Hessian-gradient product `[H g]`)."""
        if self.y is None:
            raise ValueError(
                "Loss gradients need targets: create the CriterionData with `y` "
                "(CriterionData(x, y))."
            )
        if paths is not None:
            return loss_gradients(model, self.x, self.y, batch_size=self.batch_size,
                                  paths=paths)
        wrappers = [w for w in prune_wrappers(model) if "gradients" in _needs(w)]
        grasp = [w for w in wrappers if w.criterion == "grasp"]
        paths = [weight.path for wrapper in wrappers if wrapper.criterion != "grasp"
                 for weight in wrapper.pruned_weights]
        result = loss_gradients(model, self.x, self.y, batch_size=self.batch_size,
                                paths=paths) if paths else {}
        if grasp:
            from kerasprune.core.gradient_flow import hessian_gradients  # built on this module

            result.update(hessian_gradients(model, self.x, self.y, grasp,
                                            batch_size=self.batch_size))
        return result

    def activations(self, model: keras.Model) -> dict[str, ChannelActivity]:
        """`{weight path: ChannelActivity}` for every wrapper whose pattern needs them."""
        wrappers = [w for w in prune_wrappers(model) if w.pattern.needs_activations]
        if self.y is None and any(w.pattern.needs_labels for w in wrappers):
            raise ValueError(
                "A class-discriminative criterion (Channels('lda')) needs the labels of the "
                "sample: create the CriterionData with `y` (CriterionData(x, y)).")
        for wrapper in wrappers:
            _warn_unless_relu(wrapper)
        return channel_activity(model, self.x, batch_size=self.batch_size, wrappers=wrappers,
                                y=self.y)

    def input_norms(self, model: keras.Model) -> dict[str, np.ndarray]:
        """`{weight path: squared input-feature norms}` for every wrapper whose criterion
        needs them (Wanda)."""
        wrappers = [w for w in prune_wrappers(model) if "input_norms" in _needs(w)]
        return input_norms(model, self.x, batch_size=self.batch_size, wrappers=wrappers)

    def for_update(self, model: keras.Model) -> dict:
        """The keyword arguments of `update_masks` that the model's criteria need."""
        providers = {"gradients": self.gradients, "activations": self.activations,
                     "input_norms": self.input_norms}
        return {name: providers[name](model) for name in needed_data(model) if name in KINDS}


def update_data(model: keras.Model, data: "CriterionData | None") -> dict:
    """The keyword arguments of `update_masks` that the model's criteria need: what
    `data` gives (`CriterionData.for_update`), and SynFlow's data-free gradients for the
    wrappers pruned by `"synflow"` (`data`, if given, only sets the input's shape).

    Example:

    >>> import kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
    ...                          criterion="synflow")
    >>> sorted(update_data(model, None))
    ['gradients']
    """
    values = data.for_update(model) if data is not None else {}
    flow = [w for w in prune_wrappers(model) if w.follows is None and w.criterion == "synflow"]
    if flow:
        from kerasprune.core.gradient_flow import synflow_gradients  # built on this module

        values["gradients"] = {**values.get("gradients", {}), **synflow_gradients(
            model, flow, None if data is None else data.x)}
    return values


def needed_data(model: keras.Model) -> list[str]:
    """What the model's patterns and weight criteria need from a `CriterionData`:
    `"gradients"`, `"activations"`, `"input_norms"`, `"labels"` (the targets, for LDA),
    `"calibration"` (the inputs themselves, for SparseGPT)."""
    needs = set().union(*(_needs(w) for w in prune_wrappers(model)))
    return [name for name in (*KINDS, "labels", "calibration") if name in needs]


def _needs(wrapper) -> set[str]:
    pattern = wrapper.pattern
    flags = {"gradients": pattern.needs_gradients, "activations": pattern.needs_activations,
             "labels": pattern.needs_labels}
    return {name for name, flag in flags.items() if flag} | (
        {NEEDS[wrapper.criterion]} - {None})
