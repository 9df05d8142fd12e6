"""The one door to Keras internals: every private attribute kerasprune reads lives here.

Keras 3 has no public API for some things a pruning library must do (walk every nested
layer, read a Functional graph's nodes, add state to a built layer, tell whether an
optimizer's learning rate is a schedule). Each such use is one small function below, so
a Keras upgrade that moves an internal breaks this file only. Nothing else in kerasprune
imports `keras.src` or reads an attribute whose name starts with `_` on a Keras object.
"""

from __future__ import annotations

import contextlib
import inspect

import keras
import numpy as np


def flatten_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Every layer below `layer`, recursively, without `layer` itself (may repeat)."""
    return list(layer._flatten_layers(include_self=False, recursive=True))


def direct_sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers tracked directly by `layer`, in the order they were assigned."""
    return list(getattr(layer, "_layers", []))


def own_variables(layer: keras.layers.Layer) -> list:
    """The variables `layer` created itself (not those of its sublayers)."""
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def is_functional(model: keras.Model) -> bool:
    """True for a plain Functional model (not a subclass with its own `__init__`)."""
    from keras.src.models.functional import Functional

    return isinstance(model, Functional) and type(model).__init__ in (
        Functional.__init__,
        keras.Model.__init__,
    )


def producer_of(tensor) -> keras.layers.Layer:
    """The layer (operation) whose call produced a symbolic tensor."""
    return tensor._keras_history.operation


def inbound_producers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers whose outputs `layer` was called on, over all of its calls."""
    return [producer_of(t) for node in layer._inbound_nodes for t in node.input_tensors]


def functional_graph(model: keras.Model):
    """The Functional graph behind a model, or None (a Sequential keeps one inside)."""
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "_operations"):
        return model
    return None


def graph_nodes(graph) -> list:
    """The call nodes of a Functional graph in execution order (inputs excluded)."""
    nodes = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        nodes += [n for n in graph._nodes_by_depth[depth] if n.operation and not n.is_input]
    return nodes


def run_graph(graph, inputs, operation_fn):
    """Call a Functional graph on new inputs, substituting each operation."""
    return graph._run_through_graph(inputs, operation_fn=operation_fn)


def learning_rate_is_schedule(optimizer) -> bool:
    """True when the optimizer was created with a `LearningRateSchedule`."""
    return isinstance(
        getattr(optimizer, "_learning_rate", None),
        keras.optimizers.schedules.LearningRateSchedule,
    )


@contextlib.contextmanager
def unlocked_state(layer: keras.layers.Layer):
    """Let a built layer take new variables or sublayers (Keras locks built layers' state)."""
    tracker = layer._tracker
    was_locked = tracker.locked
    tracker.unlock()
    try:
        yield
    finally:
        if was_locked:
            tracker.lock()


def attach_sublayer(parent: keras.layers.Layer, name: str, child: keras.layers.Layer) -> None:
    """Give a built layer a new tracked sublayer."""
    with unlocked_state(parent):
        setattr(parent, name, child)


def encoder_attention(encoder: keras.layers.Layer) -> keras.layers.Layer:
    """The self-attention layer of a KerasHub `TransformerEncoder`."""
    return encoder._self_attention_layer


def replace_encoder_attention(encoder: keras.layers.Layer, attention: keras.layers.Layer) -> None:
    """Swap a KerasHub `TransformerEncoder`'s self-attention layer for `attention`."""
    replace_sublayer(encoder, "_self_attention_layer", attention)


def replace_sublayer(parent: keras.layers.Layer, name: str, child: keras.layers.Layer) -> None:
    """Swap a built layer's sublayer `name` for `child` in place (weights keep their order)."""
    old = getattr(parent, name)
    position = next(i for i, layer in enumerate(parent._layers) if layer is old)
    with unlocked_state(parent):
        parent._tracker.untrack(old)
        setattr(parent, name, child)
    parent._layers.remove(child)
    parent._layers.insert(position, child)


def attention_projections(layer) -> dict[str, keras.layers.Layer]:
    """The query, key, value and output `EinsumDense` layers of a `MultiHeadAttention`."""
    return {
        "query": layer._query_dense,
        "key": layer._key_dense,
        "value": layer._value_dense,
        "output": layer._output_dense,
    }


def model_inputs(model: keras.Model):
    """The model's symbolic inputs in their structure (a dict stays a dict), or None.

    A Functional or Sequential model keeps its `keras.Input`s; a subclassed model that was
    built by a call remembers the shape it was built with (a float input is assumed).
    """
    graph = functional_graph(model)
    if graph is not None:
        struct = getattr(graph, "_inputs_struct", None)
        return graph.inputs if struct is None else struct
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    if len(shapes) == 1:
        return keras.KerasTensor(tuple(next(iter(shapes.values()))), dtype="float32")
    return None


def value_now(variable) -> np.ndarray:
    """The value of `variable` now, also while a train step is being traced (where reading
    it would give a symbolic tensor)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.init_scope():
            return np.asarray(variable.numpy())
    return np.asarray(variable._value)  # JAX: the stored value, not the traced one


def fit_callbacks(callback) -> list:
    """The callbacks of the `fit` that is calling `callback` now (its `CallbackList`,
    found on the call stack), or `[callback]` when there is none to find."""
    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        listed = getattr(owner, "callbacks", None)
        if isinstance(owner, keras.callbacks.CallbackList) and isinstance(listed, list) and any(
                c is callback for c in listed):
            return list(listed)
        frame = frame.f_back
    return [callback]


@contextlib.contextmanager
def observing_calls(layers, observer):
    """Within the block, each eager call of one of `layers` reports to `observer`.

    `observer(layer, inputs, outputs)` receives the tensor arguments of the call, in the
    order of `call`'s signature (keywords too: `query=`, `value=`), and its result. Keras
    looks `call` up on the instance at every `__call__`, so an instance attribute wraps
    it; leaving the block removes it again.
    """
    patched = []
    for layer in layers:
        if "call" in layer.__dict__:
            continue  # a layer whose call is already an instance attribute is left alone
        original = layer.call
        signature = inspect.signature(original)

        def watched(*args, _layer=layer, _call=original, _signature=signature, **kwargs):
            outputs = _call(*args, **kwargs)
            bound = _signature.bind(*args, **kwargs).arguments.values()
            observer(_layer, [a for a in bound if hasattr(a, "shape")], outputs)
            return outputs

        object.__setattr__(layer, "call", watched)
        patched.append(layer)
    try:
        yield
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")


def call_on_values(node, values: dict):
    """Call a graph node's operation again, its input tensors replaced by `values`
    (`{id(tensor): array}`), its other arguments (constants, flags) as recorded."""
    args, kwargs = node.arguments.fill_in(values)
    return node.operation(*args, **kwargs)


def elementwise_operations() -> list[type]:
    """The `keras.ops` operation classes that act on each value alone (`x + y`, `x * 3`),
    as they appear in a Functional graph built with `keras.ops` calls."""
    from keras.src.ops import nn as ops_nn
    from keras.src.ops import numpy as ops_numpy

    names = {
        ops_numpy: ("Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum",
                    "Minimum", "Negative", "Absolute", "Square", "Tanh", "Clip"),
        ops_nn: ("Relu", "Relu6", "Sigmoid", "HardSigmoid", "Silu", "HardSilu", "Gelu",
                 "Elu", "Selu", "Celu", "LeakyRelu", "Softplus", "Softsign", "HardTanh"),
    }
    return [getattr(module, name) for module, module_names in names.items()
            for name in module_names if hasattr(module, name)]


def applications_layers() -> dict[str, type]:
    """keras.applications' own per-channel layers, by name: ConvNeXt's `LayerScale`
    (`x * gamma`) and InceptionResNetV2's `CustomScaleLayer` (`x + r * scale`)."""
    from keras.src.applications import convnext, inception_resnet_v2

    return {"LayerScale": convnext.LayerScale,
            "CustomScaleLayer": inception_resnet_v2.CustomScaleLayer}


def model_metrics(model: keras.Model) -> list:
    """The metrics attached to the model itself (not compiled ones, not its layers')."""
    return list(getattr(model, "_metrics", []))


def add_model_metric(model: keras.Model, metric) -> None:
    """Attach a metric to a model, so `model.metrics` and the train step's logs include it."""
    model._metrics.append(metric)


def outbound_consumers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers (operations) called on `layer`'s outputs, over all of its calls."""
    return [node.operation for node in layer._outbound_nodes]


def conv_lstm_cell_class() -> type:
    """The cell class of `ConvLSTM1D/2D/3D`, whose kernels live in it (not exported)."""
    from keras.src.layers.rnn.conv_lstm import ConvLSTMCell

    return ConvLSTMCell


def substitute_operation(graph, old: keras.layers.Layer, new: keras.layers.Layer) -> None:
    """Make a built Functional graph call `new` wherever it called `old`.

    A Functional subclass (a KerasHub backbone) cannot be rebuilt by `clone_model`
    without losing its class, so its copy is edited in place: the graph's nodes and
    operation lists point to the substitute.
    """
    for nodes in graph._nodes_by_depth.values():
        for node in nodes:
            if node.operation is old:
                node.operation = new
    for operations in [graph._operations, *graph._operations_by_depth.values()]:
        for i, operation in enumerate(operations):
            if operation is old:
                set_list_item(operations, i, new)


def set_list_item(items: list, index: int, value) -> None:
    """`items[index] = value` on a list a layer tracks, keeping the model exportable.

    On TensorFlow, a layer's lists are tracking wrappers that refuse to be written to a
    SavedModel (which TFLite conversion and `model.export` go through) once an element
    has been replaced, since restoring relies on positions; an element swapped for
    another at the same position restores like one appended, so the flag is put back.
    """
    clean = not getattr(items, "_non_append_mutation", True) and not getattr(
        items, "_external_modification", True)  # a plain list has neither flag
    items[index] = value
    if clean:
        items._non_append_mutation = False
        items._last_wrapped_list_snapshot = list(items)


def in_stateless_scope() -> bool:
    """True inside a `keras.StatelessScope` (JAX's traced train step runs in them)."""
    from keras.src.backend.common.stateless_scope import in_stateless_scope as inside

    return inside()


def lambda_copy(layer: keras.layers.Lambda) -> keras.layers.Lambda:
    """A new `Lambda` calling the same in-memory functions. Its config round trip would
    fail: safe mode refuses a Python lambda, and an unregistered def is not found by name."""
    config = layer.get_config()
    for key in ("function", "output_shape", "mask", "arguments"):
        config.pop(key, None)
    return keras.layers.Lambda(layer.function, output_shape=layer._output_shape,
                               mask=layer.mask, arguments=dict(layer.arguments), **config)


def writing_legacy_config() -> bool:
    """True while Keras writes or reads a legacy `.h5` model file: its loader neither keeps
    nor applies build configs, so what a layer keeps there must be in its config."""
    from keras.src.backend.common import global_state

    return bool(global_state.get_global_attribute("use_legacy_config", False))


def calling_layer() -> keras.layers.Layer | None:
    """The outermost layer (usually the model) of the call under way, or None outside a call."""
    from keras.src.backend.common import global_state

    context = global_state.get_global_attribute("current_call_ctx")
    return None if context is None else context.entry_layer


def scoped_value(variable):
    """A variable's value in the current `StatelessScope`, or None if the scope does not
    map it (JAX's optimizer step maps only trainable and optimizer variables)."""
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    scope = get_stateless_scope()
    return None if scope is None else scope.get_current_value(variable)


def register_serialization_name(cls: type, name: str) -> None:
    """Make Keras save instances of `cls` under the registered `name` (`package>Name`)
    without making `name` load as `cls`: a class generated per model class shares the one
    loader registered under `name` (`keras.saving.register_keras_serializable` would
    point `name` at the last class registered)."""
    from keras.src.saving import object_registration

    object_registration.GLOBAL_CUSTOM_NAMES[cls] = name


def input_shape_arg(layer: keras.layers.Layer):
    """The `input_shape` a layer was created with (a `Sequential` starts from it), or None."""
    return getattr(layer, "_input_shape_arg", None)


def set_input_shape_arg(layer: keras.layers.Layer, shape) -> None:
    """Give a layer the `input_shape` another was created with (a wrapper its layer's)."""
    object.__setattr__(layer, "_input_shape_arg", shape)


def copy_called_state(source: keras.Model, target: keras.Model) -> None:
    """Mark `target` called on data when `source` was: Keras' export reads a subclassed
    model's input shapes only from a model it saw called, and a copy built from its
    config has the shapes but not the flag."""
    if getattr(source, "_called", False):
        target._called = True


def sync_training_state(model: keras.Model) -> None:
    """Put the values of a JAX `fit` in progress back into the model's variables, so a
    callback can read them between batches (a no-op on TensorFlow)."""
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


@contextlib.contextmanager
def linear_softmax_outputs(model):
    """Within the block, every layer of `model` whose `activation` is a softmax (or log
    softmax) computes without it: SynFlow sums the network's outputs, which a softmax
    would make constant."""
    softmaxes = (keras.activations.softmax, keras.activations.log_softmax)
    swapped = [layer for layer in model._flatten_layers(include_self=False)
               if getattr(layer, "activation", None) in softmaxes]
    originals = [layer.activation for layer in swapped]
    for layer in swapped:
        object.__setattr__(layer, "activation", keras.activations.linear)
    try:
        yield
    finally:
        for layer, activation in zip(swapped, originals):
            object.__setattr__(layer, "activation", activation)


def applying_optimizer(optimizer):
    """The optimizer that applies the updates: the inner one of a LossScaleOptimizer."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def ema_optimizer(optimizer):
    """The optimizer that keeps moving averages of the weights (`use_ema=True`), or None."""
    optimizer = applying_optimizer(optimizer)
    return optimizer if getattr(optimizer, "use_ema", False) else None


def moving_averages(optimizer) -> dict[int, object]:
    """The moving average an optimizer with `use_ema=True` keeps of each trainable variable,
    by `id` of the variable; empty without EMA or before the optimizer is built."""
    optimizer = ema_optimizer(optimizer)
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not averages:
        return {}
    return {id(variable): average
            for variable, average in zip(optimizer._trainable_variables, averages)
            if average is not None}
