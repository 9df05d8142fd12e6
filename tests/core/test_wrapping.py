"""prune() and strip() on every kind of Keras model, layer selection, bad input."""

import re
import warnings

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.wrapping import UnprunableLayerWarning
from tests.helpers import small_cnn, weights_snapshot


class TwoTower(keras.Model):
    """A subclassed model with layers in attributes and in a list."""

    def __init__(self, units=16, **kwargs):
        super().__init__(**kwargs)
        self.encoder = keras.layers.Dense(units, activation="relu", name="encoder")
        self.heads = [keras.layers.Dense(8, name="head_a"), keras.layers.Dense(4, name="head_b")]

    def call(self, x):
        x = self.encoder(x)
        for head in self.heads:
            x = head(x)
        return x

    def get_config(self):
        return {**super().get_config(), "units": self.encoder.units}


def _nested_functional():
    inner_in = keras.Input((6,))
    inner = keras.Model(inner_in, keras.layers.Dense(6, name="inner_dense")(inner_in), name="inner")
    inputs = keras.Input((6,))
    shared = keras.layers.Dense(6, activation="tanh", name="shared")
    h = shared(shared(inputs))
    outputs = keras.layers.Dense(3, name="out")(inner(h))
    return keras.Model(inputs, outputs)


def _random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    return model


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_prune_copies_the_model_and_keeps_its_predictions(kind):
    if kind == "sequential":
        model, x = small_cnn(), np.random.rand(5, 7, 7, 1).astype("float32")
    elif kind == "functional":
        model, x = _nested_functional(), np.random.rand(5, 6).astype("float32")
    else:
        model, x = TwoTower(), np.random.rand(5, 6).astype("float32")
        model(x)
    _random_weights(model)
    before = weights_snapshot(model)
    pruned = kerasprune.prune(model)
    assert len(kerasprune.prune_wrappers(pruned)) == 3
    np.testing.assert_allclose(np.asarray(pruned(x)), np.asarray(model(x)), atol=1e-6)
    kerasprune.update_masks(pruned, 0.5)
    # The original model is untouched.
    assert not kerasprune.prune_wrappers(model)
    for b, a in zip(before, weights_snapshot(model)):
        np.testing.assert_array_equal(b, a)
    for row in kerasprune.sparsity_report(pruned).rows:
        assert row.size - row.nonzeros == round(0.5 * row.size)


def test_shared_layer_is_wrapped_once_and_stays_shared():
    pruned = kerasprune.prune(_nested_functional())
    names = [w.layer.name for w in kerasprune.prune_wrappers(pruned)]
    assert sorted(names) == ["inner_dense", "out", "shared"]
    shared = [w for w in kerasprune.prune_wrappers(pruned) if w.layer.name == "shared"][0]
    assert len(shared._inbound_nodes) == 2


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_strip_returns_plain_model_with_identical_predictions(kind, digits):
    if kind == "subclassed":
        model, x = TwoTower(), np.random.rand(16, 6).astype("float32")
        model(x)
    elif kind == "functional":
        model, x = _nested_functional(), np.random.rand(16, 6).astype("float32")
    else:
        model, x = small_cnn(), digits[1][0][:16]
    pruned = kerasprune.prune(_random_weights(model))
    kerasprune.update_masks(pruned, 0.8)
    plain = kerasprune.strip(pruned)
    assert not kerasprune.prune_wrappers(plain)
    assert not any(isinstance(l, kerasprune.PruneWrapper) for l in plain._flatten_layers())
    assert np.abs(np.asarray(plain(x)) - np.asarray(pruned(x))).max() <= 1e-6
    rows = kerasprune.sparsity_report(plain).rows
    assert len(rows) == 3
    for row in rows:
        assert row.size - row.nonzeros == round(0.8 * row.size)
    # The pruned model still works after strip.
    assert kerasprune.prune_wrappers(pruned)


def test_default_prunable_layers_and_weights():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.DepthwiseConv2D(3, name="depthwise")(x)
    x = keras.layers.SeparableConv2D(4, 1, name="separable")(x)
    x = keras.layers.Conv2DTranspose(4, 3, name="transpose")(x)
    x = keras.layers.LayerNormalization(name="ln")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.EinsumDense("ab,bc->ac", output_shape=5, name="einsum")(x)
    outputs = keras.layers.Dense(2, name="dense")(x)
    model = keras.Model(inputs, outputs)
    pruned = kerasprune.prune(model)
    found = {(w.layer.name, n) for w in kerasprune.prune_wrappers(pruned) for n in w.weight_names}
    assert found == {
        ("conv", "kernel"),
        ("depthwise", "kernel"),
        ("separable", "depthwise_kernel"),
        ("separable", "pointwise_kernel"),
        ("transpose", "kernel"),
        ("einsum", "kernel"),
        ("dense", "kernel"),
    }


def test_embedding_is_pruned():
    model = keras.Sequential([keras.Input((5,), dtype="int32"),
                              keras.layers.Embedding(50, 8, name="embedding"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.6)
    rows = kerasprune.sparsity_report(pruned).as_dict()
    assert rows["embedding/embeddings"] == pytest.approx(0.6)


def test_layers_and_exclude_by_name_regex_and_callable():
    model = small_cnn()
    by_name = kerasprune.prune(model, layers=["hidden"])
    assert [w.layer.name for w in kerasprune.prune_wrappers(by_name)] == ["hidden"]
    by_regex = kerasprune.prune(model, layers="hid.*|logits")
    assert [w.layer.name for w in kerasprune.prune_wrappers(by_regex)] == ["hidden", "logits"]
    by_callable = kerasprune.prune(model, exclude=lambda l: isinstance(l, keras.layers.Dense))
    assert [w.layer.name for w in kerasprune.prune_wrappers(by_callable)] == ["conv"]
    compiled = kerasprune.prune(model, layers=[re.compile("hid.*")], exclude=re.compile("c.*"))
    assert [w.layer.name for w in kerasprune.prune_wrappers(compiled)] == ["hidden"]


def test_a_string_equal_to_a_layer_name_selects_that_layer_only():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(4, name="block_1")(keras.layers.Dense(4, name="block.1")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden))

    def wrapped(**kwargs):
        return [w.layer.name for w in kerasprune.prune_wrappers(kerasprune.prune(model, **kwargs))]

    assert wrapped(exclude=["block.1"]) == ["block_1", "head"]
    assert wrapped(layers="block.1") == ["block.1"]
    assert wrapped(layers="block.[0-9]") == ["block.1", "block_1"]  # no such name: a regex


def test_naming_a_nested_model_selects_every_layer_inside_it():
    block = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="in1"),
                              keras.layers.Dense(8, name="in2")], name="block")
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(block(inputs)))
    names = lambda m: sorted(w.layer.name for w in kerasprune.prune_wrappers(m))
    assert names(kerasprune.prune(model, exclude=["block"])) == ["head"]
    assert names(kerasprune.prune(model, layers=["block"])) == ["in1", "in2"]
    assert names(kerasprune.prune(model, exclude=lambda l: l.name == "block")) == ["head"]
    x = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")
    one_shot = kerasprune.one_shot_prune(model, 0.5, exclude=["block"], data=(x,))
    assert names(one_shot) == ["head"]


def test_an_override_naming_a_nested_model_sets_every_pruned_layer_inside_it():
    # `layers` and `exclude` took a nested model's name; `sparsity_overrides` refused it
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="deep")],
                             name="inner")
    block = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="in1"), inner,
                              keras.layers.Dense(8, name="in2")], name="block")
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(block(inputs)))
    pruned = kerasprune.prune(model, sparsity_overrides={"in2": "2x", "block": 0.5,
                                                         "inner": 0.25})
    by_name = {w.layer.name: (w.sparsity_override, w.sparsity_scale)
               for w in kerasprune.prune_wrappers(pruned)}
    assert by_name == {"in1": (0.5, None), "deep": (0.25, None), "in2": (None, 2.0),
                       "head": (None, None)}
    with pytest.raises(ValueError, match=r"names layer 'nope'.*nested models holding "
                                         r"pruned layers: \['block', 'inner'\]"):
        kerasprune.prune(model, sparsity_overrides={"nope": 0.5})


class Scale(keras.layers.Layer):
    def build(self, shape):
        self.kernel = self.add_weight(shape=shape[1:], name="kernel")

    def call(self, x):
        return x * self.kernel


def test_unknown_layer_with_weights_is_left_dense_with_a_warning():
    model = keras.Sequential([keras.Input((4,)), Scale(name="scale"), keras.layers.Dense(2, name="dense")])
    with pytest.warns(UnprunableLayerWarning, match="scale"):
        pruned = kerasprune.prune(model)
    assert [w.layer.name for w in kerasprune.prune_wrappers(pruned)] == ["dense"]


def test_unknown_layer_named_explicitly_is_an_error_saying_how_to_fix():
    model = keras.Sequential([keras.Input((4,)), Scale(name="scale"), keras.layers.Dense(2, name="dense")])
    with pytest.raises(ValueError, match="get_prunable_weights"):
        kerasprune.prune(model, layers=["scale"])


def test_custom_layer_with_get_prunable_weights_is_pruned():
    class Prunable(Scale):
        def get_prunable_weights(self):
            return [self.kernel]

    model = keras.Sequential([keras.Input((40,)), Prunable(name="custom")])
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.5)
    assert kerasprune.sparsity_report(pruned).as_dict()["custom/kernel"] == 0.5


def test_normalization_layers_are_silent():
    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(),
                              keras.layers.Dense(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kerasprune.prune(model)


def test_user_constraint_still_applies_with_the_mask():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, kernel_constraint=keras.constraints.MaxNorm(0.01))])
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.5)
    pruned.compile(keras.optimizers.SGD(1.0), "mse")
    pruned.fit(np.ones((8, 4)), np.full((8, 3), 100.0), epochs=1, verbose=0)
    kernel = np.asarray(kerasprune.prune_wrappers(pruned)[0].layer.kernel)
    assert np.sqrt((kernel**2).sum(axis=0)).max() <= 0.0101
    assert (kernel == 0).sum() == 6


BAD_PRUNE_CALLS = [
    ("not a model", {}, TypeError, "`model` must be a keras.Model"),
    ("model", {"scope": "network"}, ValueError, "`scope` must be one of"),
    ("model", {"layers": [3]}, TypeError, "`layers` must be"),
    ("model", {"exclude": 5}, TypeError, "`exclude` must be"),
    ("model", {"layers": ["(unclosed"]}, ValueError, "invalid regular expression"),
    ("model", {"layers": ["no_such_layer"]}, ValueError, "'no_such_layer', which matches no layer"),
    ("model", {"exclude": re.compile("nope")}, ValueError, "'nope', which matches no layer"),
    ("model", {"exclude": ["conv", "hidden", "logits"]}, ValueError, "No prunable layer"),
    ("model", {"sparsity_overrides": {"hidden": 1.5}}, ValueError, "sparsity_overrides\\['hidden'\\]"),
    ("model", {"sparsity_overrides": {"nope": 0.5}}, ValueError, "names layer 'nope'"),
    ("model", {"sparsity_overrides": [("hidden", 0.5)]}, TypeError, "must be a dict"),
    ("model", {"block_shape": (0, 1)}, ValueError, "`block_shape` must be"),
    ("model", {"block_shape": (4, 1), "pattern": kerasprune.Unstructured()}, ValueError, "at most one"),
    ("model", {"pattern": "blocks"}, TypeError, "`pattern` must be"),
]


@pytest.mark.parametrize("target, kwargs, error, message", BAD_PRUNE_CALLS)
def test_bad_prune_arguments_raise_clear_errors_and_change_nothing(target, kwargs, error, message):
    model = _random_weights(small_cnn())
    before = weights_snapshot(model)
    with pytest.raises(error, match=message):
        kerasprune.prune(model if target == "model" else target, **kwargs)
    assert not kerasprune.prune_wrappers(model)
    for b, a in zip(before, weights_snapshot(model)):
        np.testing.assert_array_equal(b, a)


def test_pruning_twice_is_refused():
    pruned = kerasprune.prune(small_cnn())
    with pytest.raises(ValueError, match="already pruning-ready"):
        kerasprune.prune(pruned)


def test_unbuilt_subclassed_model_is_refused():
    with pytest.raises(ValueError, match="not built"):
        kerasprune.prune(TwoTower())


def test_bad_wrapper_arguments():
    with pytest.raises(TypeError, match="`layer` must be a keras.layers.Layer"):
        kerasprune.PruneWrapper("dense")
    with pytest.raises(ValueError, match="get_prunable_weights"):
        kerasprune.PruneWrapper(keras.layers.Flatten())
    with pytest.raises(ValueError, match="`sparsity_override` must be"):
        kerasprune.PruneWrapper(keras.layers.Dense(2), sparsity_override=1.0)
    wrapper = kerasprune.PruneWrapper(keras.layers.Dense(2))
    with pytest.raises(ValueError, match="already a PruneWrapper"):
        kerasprune.PruneWrapper(wrapper)


class SelfPruned(keras.Model):
    """A subclassed model that wraps its own layers in PruneWrapper."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = kerasprune.PruneWrapper(keras.layers.Dense(16, activation="relu"))
        self.out = kerasprune.PruneWrapper(keras.layers.Dense(4))

    def call(self, x):
        return self.out(self.hidden(x))


def test_strip_removes_wrappers_a_subclassed_model_built_itself():
    model, x = SelfPruned(), np.random.rand(8, 6).astype("float32")
    model(x)
    _random_weights(model)
    kerasprune.update_masks(model, 0.75)
    plain = kerasprune.strip(model)
    assert not kerasprune.prune_wrappers(plain)
    assert not any(isinstance(l, kerasprune.PruneWrapper) for l in plain._flatten_layers())
    assert [type(l) for l in (plain.hidden, plain.out)] == [keras.layers.Dense] * 2
    np.testing.assert_allclose(np.asarray(plain(x)), np.asarray(model(x)), atol=1e-6)
    for row in kerasprune.sparsity_report(plain).rows:
        assert row.size - row.nonzeros == round(0.75 * row.size)


def test_layer_scope_brings_each_kernel_to_the_target_whatever_its_scale():
    """As `prune` documents: layer scope ranks each prunable tensor on its own, so a
    SeparableConv's depthwise kernel is not emptied by a larger-scaled pointwise one."""
    inputs = keras.Input((6, 6, 8))
    x = keras.layers.SeparableConv2D(16, 3, name="separable")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, name="dense")(x))
    separable = model.get_layer("separable")
    depthwise, pointwise, bias = separable.get_weights()
    separable.set_weights([depthwise * 10.0, pointwise, bias])  # kernels on different scales
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.5)
    rows = {(r.layer, r.weight): r for r in kerasprune.sparsity_report(pruned).rows}
    kernels = [rows["separable", "depthwise_kernel"], rows["separable", "pointwise_kernel"]]
    for row in kernels:
        assert row.size - row.nonzeros == round(0.5 * row.size)
    assert rows["dense", "kernel"].sparsity == 0.5


def test_uint8_masks_prune_like_float_masks_and_keep_zeros_through_training(tmp_path):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="a"),
                              keras.layers.Dense(4, name="b")])
    narrow = kerasprune.prune(model, mask_dtype="uint8")
    wide = kerasprune.prune(model)
    kerasprune.update_masks(narrow, 0.75)
    kerasprune.update_masks(wide, 0.75)
    for n, w in zip(kerasprune.prune_wrappers(narrow), kerasprune.prune_wrappers(wide)):
        assert n.masks[0].dtype == "uint8" and w.masks[0].dtype == "float32"
        np.testing.assert_array_equal(np.asarray(n.masks[0]), np.asarray(w.masks[0]))
    narrow.compile(keras.optimizers.Adam(0.1), "mse")
    narrow.fit(np.ones((16, 8)), np.ones((16, 4)), epochs=2, verbose=0)
    assert kerasprune.sparsity_report(narrow).total == pytest.approx(0.75)
    narrow.save(tmp_path / "narrow.keras")
    loaded = keras.saving.load_model(tmp_path / "narrow.keras")
    assert kerasprune.prune_wrappers(loaded)[0].masks[0].dtype == "uint8"
    with pytest.raises(ValueError, match="mask_dtype"):
        kerasprune.prune(model, mask_dtype="int4")


def test_a_tf_keras_model_is_named_as_such_with_the_way_to_keras_3():
    import tf_keras  # the dev extra installs it for this test
    model = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(2)])
    with pytest.raises(TypeError, match=r"tf_keras \(Keras 2\) model of type Sequential.*"
                                        r"Keras 3.*set_weights.*kerasprune\.tfmot"):
        kerasprune.prune(model)


class WithoutKwargs(keras.Model):
    """The most common subclassed form: `__init__(self)`, no `**kwargs`."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(x)


class ConfigMissesAnArgument(keras.Model):
    def __init__(self, units, depth):
        super().__init__()
        self.units, self.depth = units, depth
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {"units": self.units}


def test_a_subclassed_model_whose_init_takes_no_kwargs_is_pruned_through_its_constructor():
    model, x = WithoutKwargs(), np.random.rand(4, 5).astype("float32")
    model(x)
    pruned = kerasprune.prune(model)
    assert isinstance(pruned, WithoutKwargs)
    assert [w.layer.units for w in kerasprune.prune_wrappers(pruned)] == [3]
    np.testing.assert_allclose(np.asarray(pruned(x)), np.asarray(model(x)), atol=1e-6)
    assert type(kerasprune.strip(pruned)) is WithoutKwargs


def test_a_config_that_misses_a_constructor_argument_is_named_with_the_fix():
    model = ConfigMissesAnArgument(3, 2)
    model(np.zeros((1, 5), "float32"))
    with pytest.raises(ValueError, match=r"needs arguments its config does not hold: "
                                         r"\['depth'\].*get_config\(\) that returns them"):
        kerasprune.prune(model)


def test_training_a_pruning_ready_model_without_a_pruning_callback_is_named(digits):
    import warnings

    (x, y), _ = digits
    model = kerasprune.prune(small_cnn())
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match="trained without a pruning callback, and its masks "
                                         "prune nothing yet") as record:
        model.fit(x[:64], y[:64], epochs=1, verbose=0)
    dense = [w for w in record if "without a pruning callback" in str(w.message)]
    assert len(dense) == 3  # once per layer, with the same text and line: shown once
    assert {(str(w.message), w.filename, w.lineno) for w in dense} == {
        (str(dense[0].message), __file__, dense[0].lineno)}
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    for callbacks in ([gmp], []):  # driven; then already pruned: fine-tuning on its own
        fresh = kerasprune.prune(small_cnn())
        fresh.compile("adam", "sparse_categorical_crossentropy")
        if not callbacks:
            kerasprune.update_masks(fresh, 0.5)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*without a pruning callback.*")
            fresh.fit(x[:64], y[:64], epochs=1, verbose=0, callbacks=callbacks)


def test_a_model_pruned_elsewhere_is_not_called_dense_for_a_layer_left_whole(digits):
    import warnings

    (x, y), _ = digits
    model = kerasprune.prune(small_cnn(), scope="global")
    kerasprune.update_masks(model, 0.5)
    first, *others = kerasprune.prune_wrappers(model)
    for mask in first.masks:  # as a global threshold may leave a layer whole
        mask.assign(np.ones(mask.shape, mask.dtype))
    assert any(not np.all(np.asarray(m)) for w in others for m in w.masks)
    model.compile("adam", "sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*without a pruning callback.*")
        model.fit(x[:64], y[:64], epochs=1, verbose=0)


def test_a_wrappers_sparsity_counts_every_mask_it_holds():
    wrapper = kerasprune.PruneWrapper(keras.layers.Dense(4), weight_names=["kernel", "bias"],
                                      scope="global", min_density=0.0)
    model = keras.Sequential([keras.Input((8,)), wrapper])
    wrapper.layer.bias.assign(np.full(4, 10.0, "float32"))  # the bias survives whole
    kerasprune.update_masks(model, 0.5)
    kept = [int(np.count_nonzero(np.asarray(m))) for m in wrapper.masks]
    assert kept[1] == 4 and kept[0] < 32  # the two masks at different sparsities
    assert wrapper.sparsity == pytest.approx(1.0 - sum(kept) / 36)


def test_the_wrapper_computes_in_its_layers_dtype_policy():
    dense = keras.layers.Dense(4, dtype="mixed_float16")
    wrapper = kerasprune.PruneWrapper(dense)
    assert wrapper.dtype_policy.name == "mixed_float16"
    outputs = keras.Sequential([keras.Input((8,)), wrapper])(np.ones((2, 8), "float32"))
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    restored = kerasprune.PruneWrapper.from_config(wrapper.get_config())
    assert restored.dtype_policy.name == "mixed_float16"


@pytest.mark.parametrize("options, names", [
    ({}, ["gamma", "beta"]), ({"center": False}, ["gamma"]), ({"scale": False}, ["beta"])])
def test_a_normalization_layer_follows_with_the_weights_it_has(options, names):
    wrapper = kerasprune.PruneWrapper(keras.layers.BatchNormalization(**options), follows="conv")
    keras.Sequential([keras.Input((4,)), wrapper])
    assert wrapper.weight_names == names
    assert [tuple(m.shape) for m in wrapper.masks] == [(4,)] * len(names)


def _double_it(t):  # a plain def, not registered with Keras
    return t * 2.0


@pytest.mark.parametrize("function", [lambda t: t * 2.0, _double_it], ids=["lambda", "def"])
def test_a_model_with_a_lambda_layer_is_pruned_and_stripped(function):
    """The copy keeps the in-memory function: no config round trip, which Keras' safe mode
    refuses for a Python lambda and cannot resolve for an unregistered def."""
    inputs = keras.Input((8,))
    hidden = keras.layers.Lambda(function, name="twice")(keras.layers.Dense(4, name="a")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="c")(hidden))
    x = np.random.default_rng(0).random((4, 8), dtype=np.float32)
    pruned = kerasprune.prune(model)
    assert [w.layer.name for w in kerasprune.prune_wrappers(pruned)] == ["a", "c"]
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    kerasprune.update_masks(pruned, 0.5)
    stripped = kerasprune.strip(pruned)
    assert stripped.get_layer("twice").function is function
    np.testing.assert_allclose(stripped.predict(x, verbose=0), pruned.predict(x, verbose=0),
                               atol=1e-6)


def test_output_names_survive_pruning_so_dict_targets_and_losses_still_match(tmp_path):
    a, b = keras.Input((8,), name="a"), keras.Input((4,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(8, name="da")(a),
                                    keras.layers.Dense(8, name="db")(b)])
    model = keras.Model([a, b], [keras.layers.Dense(3, name="o1")(h),
                                 keras.layers.Dense(1, name="o2")(h)])
    pruned = kerasprune.prune(model)
    assert pruned.output_names == ["o1", "o2"]
    assert len(kerasprune.prune_wrappers(pruned)) == 4  # the outputs' layers are pruned too
    pruned.compile("adam", {"o1": "mse", "o2": "mse"})
    x = {"a": np.ones((8, 8), "float32"), "b": np.ones((8, 4), "float32")}
    y = {"o1": np.zeros((8, 3), "float32"), "o2": np.zeros((8, 1), "float32")}
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    history = pruned.fit(x, y, epochs=1, verbose=0, callbacks=[gmp])
    assert {"o1_loss", "o2_loss"} <= set(history.history)
    pruned.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.output_names == ["o1", "o2"]
    np.testing.assert_allclose(loaded.predict(x, verbose=0)[0], pruned.predict(x, verbose=0)[0])
    assert kerasprune.strip(loaded).output_names == ["o1", "o2"]


class WithSequentialBody(keras.Model):
    """A subclassed model holding a Sequential that its first call builds (no Input)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.body = keras.Sequential([keras.layers.Dense(8, activation="relu", name="in1"),
                                      keras.layers.Dense(8, name="in2")])
        self.head = keras.layers.Dense(2, name="head")

    def call(self, x):
        return self.head(self.body(x))


def test_a_sequential_inside_a_subclassed_model_calls_its_wrappers_and_strips_exactly():
    model, x = WithSequentialBody(), np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    model(x)
    pruned = kerasprune.prune(model)
    np.testing.assert_allclose(np.asarray(pruned(x)), np.asarray(model(x)), atol=1e-6)
    kerasprune.update_masks(pruned, 0.5)
    masked = np.asarray(pruned(x))
    assert np.abs(masked - np.asarray(model(x))).max() > 1e-3  # the masks are applied
    plain = kerasprune.strip(pruned)
    np.testing.assert_allclose(np.asarray(plain(x)), masked, atol=1e-6)
