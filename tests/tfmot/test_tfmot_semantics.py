"""TFMOT's semantics on kerasprune: schedules, the step clock, per-layer schedules, m-by-n."""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
import kerasprune.tfmot as tfmot
from kerasprune.tfmot.sparsity.keras.pruning_wrapper import collect_prunable_layers

sk = tfmot.sparsity.keras
X = np.random.default_rng(0).standard_normal((16, 8)).astype("float32")
Y = np.random.default_rng(1).standard_normal((16, 8)).astype("float32")


def _model():
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="a"),
                             keras.layers.Dense(8, name="b")])


def _fit(model, step, epochs=1, batch_size=4):
    model.compile("sgd", "mse")
    return model.fit(X, Y, epochs=epochs, batch_size=batch_size, callbacks=[step], verbose=0)


def test_schedules_have_tfmot_defaults_and_arithmetic():
    constant = sk.ConstantSparsity(0.5, begin_step=0)
    assert (constant.end_step, constant.frequency) == (-1, 100)
    assert [s for s in range(1, 401) if constant.decision(s)[0]] == [100, 200, 300, 400]
    decay = sk.PolynomialDecay(0.5, 0.8, begin_step=10, end_step=110, frequency=25)
    assert [s for s in range(200) if decay.decision(s)[0]] == [10, 35, 60, 85, 110]
    assert decay.decision(60)[1] == pytest.approx(0.8 - 0.3 * 0.5 ** 3)
    assert decay.decision(500) == (False, pytest.approx(0.8))
    restored = sk.PolynomialDecay.from_config(decay.get_config()["config"])
    assert restored.get_config() == decay.get_config()


@pytest.mark.parametrize("make, match", [
    (lambda: sk.ConstantSparsity(1.0, 0), "target_sparsity"),
    (lambda: sk.ConstantSparsity(0.5, -1), "begin_step"),
    (lambda: sk.ConstantSparsity(0.5, 10, end_step=5), "end_step"),
    (lambda: sk.PolynomialDecay(0.1, 0.5, 0, -1), "end_step"),
    (lambda: sk.ConstantSparsity(0.5, 0, frequency=0), "frequency"),
])
def test_bad_schedule_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_first_batch_is_step_one_and_the_step_carries_over_fits():
    schedule = sk.ConstantSparsity(0.5, begin_step=1, end_step=1)  # only at step 1
    model = sk.prune_low_magnitude(_model(), pruning_schedule=schedule)
    step = sk.UpdatePruningStep()
    seen = []
    spy = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(model.layers[0].sparsity))
    model.compile("sgd", "mse")
    model.fit(X, Y, batch_size=4, callbacks=[step, spy], verbose=0)
    assert seen == [0.5] * 4  # pruned before the first batch trained
    assert step.step == 4
    assert step.trace["sparsity"][-1] == (1, 0.5)
    assert [w.sparsity for w in model.layers] == [0.5, 0.5]
    again = sk.UpdatePruningStep()
    _fit(model, again)
    assert again.step == 8  # kept in the model, as TFMOT's pruning_step


def test_each_layer_follows_its_own_schedule():
    inputs = keras.Input((8,))
    h = sk.prune_low_magnitude(keras.layers.Dense(8, name="a"),
                               pruning_schedule=sk.ConstantSparsity(0.25, 0, frequency=2))(inputs)
    outputs = sk.prune_low_magnitude(keras.layers.Dense(8, name="b"),
                                     pruning_schedule=sk.ConstantSparsity(0.75, 3, frequency=1))(h)
    model = keras.Model(inputs, outputs)
    step = sk.UpdatePruningStep()
    _fit(model, step, epochs=1)
    a, b = model.layers[1:]
    assert (a.sparsity, b.sparsity) == (0.25, 0.75)
    assert [s for s, _ in step.trace["sparsity"]] == [0, 2, 3, 4]


def test_schedule_that_never_fires_is_a_warning_naming_the_layer():
    model = sk.prune_low_magnitude(_model())  # ConstantSparsity(0.5, 0): every 100 steps
    with pytest.warns(UserWarning, match=r"'a' \(its schedule first prunes at step 100\)"):
        _fit(model, sk.UpdatePruningStep())
    assert model.layers[0].sparsity == 0.0


def test_m_by_n_sets_two_zeros_in_every_four_inputs_at_step_one():
    model = sk.prune_low_magnitude(_model(), sparsity_m_by_n=(2, 4))
    step = sk.UpdatePruningStep()
    _fit(model, step)
    for wrapper in model.layers:
        runs = np.asarray(wrapper.masks[0]).T.reshape(-1, 4)  # 4 consecutive inputs
        assert (runs.sum(axis=1) == 2).all()
    assert [s for s, _ in step.trace["sparsity"]] == [0, 1]


def test_pruning_policy_wraps_only_allowed_layers_and_checks_the_model():
    class OnlyB(sk.PruningPolicy):
        def allow_pruning(self, layer):
            return layer.name == "b"

        def ensure_model_supports_pruning(self, model):
            if len(model.layers) != 2:
                raise ValueError("two layers expected")

    pruned = sk.prune_low_magnitude(_model(), pruning_policy=OnlyB())
    assert [type(l).__name__ for l in pruned.layers] == ["Dense", "PruneLowMagnitude"]
    with pytest.raises(ValueError, match="two layers"):
        sk.prune_low_magnitude(keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)]),
                               pruning_policy=OnlyB())


def _mobilenet_like():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.ZeroPadding2D(1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="valid")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Conv2D(16, 1, name="pointwise")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    outputs = keras.layers.Dense(4)(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_prune_for_latency_on_xnnpack():
    pruned = sk.prune_low_magnitude(_mobilenet_like(),
                                    pruning_policy=sk.PruneForLatencyOnXNNPack())
    wrapped = [w.layer.name for w in kerasprune.prune_wrappers(pruned)]
    assert wrapped == ["pointwise"]
    with pytest.raises(ValueError, match="Conv2D 3x3"):
        sk.prune_low_magnitude(_model(), pruning_policy=sk.PruneForLatencyOnXNNPack())
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.ZeroPadding2D(1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="big_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    with pytest.raises(ValueError, match="Layer Conv2D is not supported"):
        sk.prune_low_magnitude(keras.Model(inputs, x),
                               pruning_policy=sk.PruneForLatencyOnXNNPack())


def test_layers_lists_and_bad_input():
    dense = keras.layers.Dense(4, name="d")
    wrapper = sk.prune_low_magnitude(dense, block_size=(2, 2), block_pooling_type="MAX")
    assert isinstance(wrapper, sk.PruneLowMagnitude) and wrapper.pattern.pooling == "max"
    assert sk.prune_low_magnitude([wrapper])[0] is wrapper
    with pytest.raises(ValueError, match="block_pooling_type"):
        sk.prune_low_magnitude(keras.layers.Dense(2), block_pooling_type="MIN")
    with pytest.raises(ValueError, match="sparsity_m_by_n"):
        sk.prune_low_magnitude(keras.layers.Dense(2), sparsity_m_by_n=(4, 4))
    with pytest.raises(ValueError, match="'scale' of type Scale cannot be pruned"):
        sk.prune_low_magnitude(Scale(name="scale"))
    with pytest.raises(ValueError, match="You passed an object of type: str"):
        sk.prune_low_magnitude("model")
    native = kerasprune.prune(_model())
    with pytest.warns(UserWarning, match="holds no layer wrapped by prune_low_magnitude"):
        _fit(native, sk.UpdatePruningStep())  # no PruneLowMagnitude: nothing to do (TFMOT)
    assert [w.sparsity for w in kerasprune.prune_wrappers(native)] == [0.0, 0.0]


class Scale(keras.layers.Layer):
    """A layer with a weight that neither TFMOT nor kerasprune knows how to prune."""

    def build(self, shape):
        self.scale = self.add_weight(shape=shape[1:], name="scale")

    def call(self, x):
        return x * self.scale


def test_wrapper_config_round_trips():
    wrapper = sk.PruneLowMagnitude(keras.layers.Dense(4, name="d"),
                                   pruning_schedule=sk.PolynomialDecay(0.1, 0.6, 5, 50),
                                   block_size=(4, 1))
    wrapper.build((None, 8))
    restored = sk.PruneLowMagnitude.from_config(wrapper.get_config())
    assert restored.get_config() == wrapper.get_config()
    assert restored.pattern.block_shape == (4, 1)


@pytest.mark.parametrize("zeros", [1, 3])
def test_m_by_n_zeroes_m_in_every_n_inputs(zeros):
    model = sk.prune_low_magnitude(_model(), sparsity_m_by_n=(zeros, 4))
    _fit(model, sk.UpdatePruningStep())
    for wrapper in model.layers:
        kernel = np.asarray(wrapper.layer.kernel)
        runs = kernel.T.reshape(-1, 4)  # 4 consecutive inputs of one output
        assert ((runs == 0).sum(axis=1) == zeros).all()
        assert wrapper.sparsity == zeros / 4



def test_m_by_n_weights_are_scored_one_by_one_by_magnitude():
    # What kerasprune's own selection reads of a pattern (`update_masks` on such a model).
    from kerasprune.tfmot.sparsity.keras.mask_rules import MByNMask

    scores, sizes = MByNMask(2, 4).group_scores(np.array([[4.0, -1.0], [-3.0, 0.5]]))
    assert scores.tolist() == [4.0, 1.0, 3.0, 0.5] and sizes.tolist() == [1, 1, 1, 1]

def _two_blocks_model(**pooling):
    # One output, blocks of 2 inputs: [1.0, 0.0] (mean 0.5, max 1.0) and [0.6, 0.6]
    # (mean 0.6, max 0.6). At 50% sparsity MAX pooling keeps the first, AVG the second.
    schedule = sk.ConstantSparsity(0.5, begin_step=1, end_step=1, frequency=1)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    dense.set_weights([np.array([[1.0], [0.0], [0.6], [0.6]], "float32")])
    return sk.prune_low_magnitude(dense, pruning_schedule=schedule, block_size=(2, 1),
                                  **pooling)


def _mask_after_one_step(model):
    model.compile(keras.optimizers.SGD(0.0), "mse")
    model.fit(np.ones((4, 4)), np.ones((4, 1)), batch_size=4, verbose=0,
              callbacks=[sk.UpdatePruningStep()])
    return np.asarray(model.layers[0].masks[0]).ravel().tolist()


def test_max_block_pooling_survives_saving_and_decides_which_blocks_stay(tmp_path):
    _two_blocks_model(block_pooling_type="MAX").save(tmp_path / "m.keras")
    with sk.prune_scope():
        model = keras.saving.load_model(tmp_path / "m.keras")
    assert model.layers[0].get_config()["block_pooling_type"] == "MAX"
    assert _mask_after_one_step(model) == [1, 1, 0, 0]


def test_blocks_pool_by_their_average_by_default_as_in_tfmot():
    assert _mask_after_one_step(_two_blocks_model()) == [0, 0, 1, 1]
    assert sk.PruneLowMagnitude(keras.layers.Dense(1), block_size=(2, 1)).block_pooling_type \
        == "AVG"


def test_prune_for_latency_on_xnnpack_needs_a_stem_on_three_channels():
    def stem_on(channels):
        inputs = keras.Input((32, 32, channels))
        x = keras.layers.ZeroPadding2D(1)(inputs)
        x = keras.layers.Conv2D(8, 3, strides=2, padding="valid")(x)
        x = keras.layers.Conv2D(16, 1, name="pointwise")(x)
        return keras.Model(inputs, keras.layers.GlobalAveragePooling2D(keepdims=True)(x))

    policy = sk.PruneForLatencyOnXNNPack()
    pruned = sk.prune_low_magnitude(stem_on(3), pruning_policy=policy)
    assert [w.layer.name for w in kerasprune.prune_wrappers(pruned)] == ["pointwise"]
    for channels in (1, 4):  # TFMOT's message
        with pytest.raises(ValueError, match="`input filters == 3`"):
            sk.prune_low_magnitude(stem_on(channels), pruning_policy=policy)


@pytest.mark.parametrize("schedule", [
    sk.ConstantSparsity(0.6, begin_step=3, end_step=30, frequency=7),
    sk.PolynomialDecay(0.2, 0.6, begin_step=3, end_step=30, power=2, frequency=9),
])
def test_a_saved_schedule_prunes_at_the_same_steps_to_the_same_sparsities(schedule):
    restored = sk.PruneLowMagnitude.from_config(sk.PruneLowMagnitude(
        keras.layers.Dense(2), pruning_schedule=schedule).get_config()).pruning_schedule
    assert type(restored) is type(schedule)
    assert [restored(s) for s in range(40)] == [schedule(s) for s in range(40)]
    assert [s for s in range(40) if restored(s)[0]][:2] == [3, 3 + schedule.frequency]


def _xnnpack_model_with(layer):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.ZeroPadding2D(1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2)(x)
    x = layer(x)
    x = keras.layers.Conv2D(16, 1, name="pointwise")(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D(keepdims=True)(x))


@pytest.mark.parametrize("make", [
    lambda: keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="odd"),
    lambda: keras.layers.DepthwiseConv2D(3, padding="same", dilation_rate=2, name="odd"),
    lambda: keras.layers.Conv2D(8, 1, strides=2, name="odd"),
    lambda: keras.layers.Conv2D(8, 1, dilation_rate=2, name="odd"),
], ids=["depth_multiplier", "depthwise_dilation", "strided_1x1", "dilated_1x1"])
def test_prune_for_latency_on_xnnpack_refuses_what_xnnpack_cannot_run_sparse(make):
    supported = _xnnpack_model_with(keras.layers.DepthwiseConv2D(3, padding="same"))
    pruned = sk.prune_low_magnitude(supported, pruning_policy=sk.PruneForLatencyOnXNNPack())
    assert [w.layer.name for w in kerasprune.prune_wrappers(pruned)] == ["pointwise"]
    odd = make()  # TFMOT's message names the layer's class
    with pytest.raises(ValueError, match=f"Layer {type(odd).__name__} is not supported"):
        sk.prune_low_magnitude(_xnnpack_model_with(odd),
                               pruning_policy=sk.PruneForLatencyOnXNNPack())


def test_m_by_n_survives_saving_before_training(tmp_path):
    sk.prune_low_magnitude(_model(), sparsity_m_by_n=(1, 4)).save(tmp_path / "m.keras")
    model = keras.saving.load_model(tmp_path / "m.keras")
    _fit(model, sk.UpdatePruningStep())
    for wrapper in model.layers:
        runs = np.asarray(wrapper.masks[0]).T.reshape(-1, 4)
        assert (runs.sum(axis=1) == 3).all()


def test_strip_pruning_keeps_the_layers_left_unwrapped():
    class OnlyB(sk.PruningPolicy):
        def allow_pruning(self, layer):
            return layer.name == "b"

        def ensure_model_supports_pruning(self, model):
            pass

    pruned = sk.prune_low_magnitude(_model(), pruning_policy=OnlyB())
    stripped = sk.strip_pruning(pruned)
    assert [(type(l).__name__, l.name) for l in stripped.layers] == [("Dense", "a"),
                                                                      ("Dense", "b")]
    np.testing.assert_array_equal(stripped(X), pruned(X))


class _Scaled(keras.layers.Layer):
    """A custom layer with its own weight around a Dense: TFMOT cannot prune it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8)

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.scale = self.add_weight(shape=(), initializer="ones")

    def call(self, x):
        return self.scale * self.dense(x)


class _Block(keras.layers.Layer):
    """A custom layer whose only weights are its Dense's: pruned through it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8)

    def call(self, x):
        return self.dense(x)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.a = keras.layers.Dense(8, name="a")
        self.b = keras.layers.Dense(8, name="b")
        self.block = _Block(name="block")
        self.scaled = _Scaled(name="scaled")

    def call(self, x):
        return self.scaled(self.block(self.b(self.a(x))))


def test_a_subclassed_model_follows_the_policy_and_names_the_layers_left_dense():
    class OnlyB(sk.PruningPolicy):
        def allow_pruning(self, layer):
            return layer.name != "a"

        def ensure_model_supports_pruning(self, model):
            pass

    model = _Subclassed()
    model(X)
    with pytest.warns(UserWarning, match=r"left dense: \['scaled'\]"):
        pruned = sk.prune_low_magnitude(model, pruning_policy=OnlyB())
    names = [w.layer.name for w in kerasprune.prune_wrappers(pruned)]
    assert "a" not in names and "b" in names


def test_is_pruned_m_by_n_reads_tflites_layout_too():
    from kerasprune.tfmot.sparsity.keras.pruning_utils import is_pruned_m_by_n

    two_by_four = np.array([[1.0, 0.0, 0.0, 2.0], [0.0, 3.0, 4.0, 0.0]])
    assert is_pruned_m_by_n(two_by_four, last_channel="C_IN")
    assert not is_pruned_m_by_n(two_by_four + 1.0, last_channel="C_IN")


def _nested_model_pruned_to_half():
    """A Dense inside a nested Sequential ("block") and one outside, pruned and fit by
    TFMOT's API to 50%."""
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="inner")],
                             name="block")
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(8, name="outer")(inner(inputs)))
    schedule = sk.ConstantSparsity(0.5, begin_step=0, frequency=1)
    pruned = sk.prune_low_magnitude(model, pruning_schedule=schedule)
    _fit(pruned, sk.UpdatePruningStep())
    return pruned


def test_update_pruning_step_prunes_the_layers_of_a_nested_model():
    pruned = _nested_model_pruned_to_half()
    assert {w.layer.name: w.sparsity for w in kerasprune.prune_wrappers(pruned)} == {
        "inner": 0.5, "outer": 0.5}


def test_strip_pruning_strips_the_layers_of_a_nested_model():
    pruned = _nested_model_pruned_to_half()
    stripped = sk.strip_pruning(pruned)
    assert kerasprune.prune_wrappers(stripped) == []
    assert [type(layer).__name__ for layer in stripped.get_layer("block").layers] == ["Dense"]
    assert np.mean(np.asarray(stripped.get_layer("block").layers[0].kernel) == 0) == 0.5
    np.testing.assert_allclose(stripped(X), pruned(X), rtol=1e-5, atol=1e-6)


def test_a_single_layer_keeps_the_keyword_arguments_given_to_its_wrapper():
    # TFMOT passes **kwargs of prune_low_magnitude(layer, ...) to PruneLowMagnitude.
    wrapper = sk.prune_low_magnitude(keras.layers.Dense(2), name="pruned_dense",
                                     trainable=False)
    assert (wrapper.name, wrapper.trainable) == ("pruned_dense", False)


@pytest.mark.parametrize("value", [(2, 4, 8), (2,), (2, "4"), (2.0, 4), (True, 4), 2])
def test_m_by_n_must_be_two_integers(value):
    with pytest.raises(ValueError, match=r"`sparsity_m_by_n` must be a tuple or list of 2 "):
        sk.prune_low_magnitude(keras.layers.Dense(2), sparsity_m_by_n=value)


class _DenseAndBias(keras.layers.Dense, sk.PrunableLayer):
    """A layer that prunes two weights: TFMOT numbers the second one's tags `_1`."""

    def get_prunable_weights(self):
        return [self.kernel, self.bias]


def test_pruning_summaries_log_tfmots_tags_at_the_optimizers_step(tmp_path):
    from tests.helpers import read_scalars

    model = keras.Sequential([keras.Input((8,)), sk.prune_low_magnitude(
        _DenseAndBias(8, name="c"), pruning_schedule=sk.ConstantSparsity(0.5, 0, frequency=2))])
    wrapper = model.layers[0]
    seen = []  # each threshold when an epoch begins, as the summaries read it
    spy = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(
        [float(np.asarray(t)) for t in wrapper.thresholds]))
    model.compile("sgd", "mse")
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=[
        sk.UpdatePruningStep(), sk.PruningSummaries(log_dir=str(tmp_path)), spy])
    scalars = read_scalars(tmp_path / "metrics")
    name = "prune_low_magnitude_c"
    assert sorted(scalars) == sorted(f"{name}/{kind}:0/{what}" for kind, what in (
        ("mask", "sparsity"), ("mask_1", "sparsity"), ("threshold", "threshold"),
        ("threshold_1", "threshold")))
    # written when each epoch begins, at the optimizer's step: 0, then 4 (4 batches)
    assert scalars[f"{name}/mask:0/sparsity"] == [(0, 0.0), (4, 0.5)]
    assert scalars[f"{name}/mask_1:0/sparsity"] == [(0, 0.0), (4, 0.5)]
    assert scalars[f"{name}/threshold:0/threshold"] == [
        (0, 0.0), (4, pytest.approx(seen[1][0]))]
    assert scalars[f"{name}/threshold_1:0/threshold"][1] == (4, pytest.approx(seen[1][1]))
    assert 0.0 < seen[1][0] != seen[1][1]
    # TensorBoard's own logs, per epoch (TFMOT's default `update_freq="epoch"`)
    train = read_scalars(tmp_path / "train")
    assert "epoch_loss" in train and not [t for t in train if t.startswith("batch_")]


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_a_frozen_model_stays_frozen_when_wrapped(functional):
    model = _model()
    if functional:
        model = keras.Model(model.inputs, model.outputs, name="net")
    model.trainable = False
    pruned = sk.prune_low_magnitude(model)
    assert pruned.trainable is False and pruned.trainable_weights == []


def test_weights_set_by_hand_during_an_epoch_are_masked_again_when_it_ends():
    model = sk.prune_low_magnitude(_model(), pruning_schedule=sk.ConstantSparsity(0.5, 1, 1))
    wrapper = model.layers[0]

    def overwrite(batch, logs):  # after the last batch: every weight set, pruned ones too
        if batch == 3:
            wrapper.layer.kernel.assign(np.ones((8, 8), "float32"))

    model.compile("sgd", "mse")
    model.fit(X, Y, batch_size=4, verbose=0, callbacks=[
        keras.callbacks.LambdaCallback(on_train_batch_end=overwrite), sk.UpdatePruningStep()])
    kernel, mask = np.asarray(wrapper.layer.kernel), np.asarray(wrapper.masks[0])
    assert mask.mean() == 0.5 and np.array_equal(kernel, mask)  # re-masked as TFMOT does


def test_a_wrapped_weightless_layer_is_not_taken_for_an_unbuilt_one():
    """TFMOT wraps Dropout too (nothing to prune): fit without UpdatePruningStep gets TFMOT's
    own advice, not a claim that the Dropout wrapper is unbuilt."""
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="d"),
                              keras.layers.Dropout(0.1, name="drop"), keras.layers.Dense(2)])
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model)
    pruned.compile("adam", "mse")
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1)
    with pytest.raises(Exception, match="requires the UpdatePruningStep callback"):
        pruned.fit(np.ones((8, 8)), np.ones((8, 2)), epochs=2, callbacks=[callback], verbose=0)
    assert kerasprune.update_masks(pruned, 0.5) == pytest.approx(0.5, abs=0.02)


EDGE_SCHEDULES = [
    sk.ConstantSparsity(0.5, begin_step=3, end_step=30, frequency=7),
    sk.ConstantSparsity(0.5, begin_step=0, frequency=5),
    sk.ConstantSparsity(0.5, begin_step=6, end_step=6, frequency=4),
    sk.PolynomialDecay(0.1, 0.5, begin_step=4, end_step=25, frequency=3),
    sk.PolynomialDecay(0.1, 0.5, begin_step=2, end_step=17, power=1, frequency=5),
]


@pytest.mark.parametrize("schedule", EDGE_SCHEDULES, ids=lambda s: str(s.get_config()))
def test_the_callbacks_shortcuts_agree_with_the_schedule_at_every_step(schedule):
    # What the callback reads (`decision`, `last_pruning_step`, `first_step`) against the
    # tensors the schedule returns, step by step over its edges.
    steps = range(0, 46)
    tensors = [schedule(step) for step in steps]
    prunes = [step for step, (should, _) in zip(steps, tensors) if bool(should)]
    assert [schedule.decision(step) for step in steps] == [
        (bool(should), pytest.approx(float(sparsity))) for should, sparsity in tensors]
    assert schedule.first_step() == next(step for step in prunes if step >= 1)
    for after in range(-1, 45):
        for upto in range(after, 46):
            inside = [step for step in prunes if after < step <= upto]
            assert schedule.last_pruning_step(after, upto) == (inside[-1] if inside else None)


@pytest.mark.parametrize("options", [
    dict(pruning_schedule=sk.PolynomialDecay(0.2, 0.7, begin_step=2, end_step=20, power=2,
                                             frequency=3),
         block_size=(2, 1), block_pooling_type="MAX"),
    dict(pruning_schedule=sk.ConstantSparsity(0.6, begin_step=1, end_step=9, frequency=4),
         sparsity_m_by_n=(1, 4)),
], ids=["blocks", "m_by_n"])
def test_every_wrapper_argument_survives_its_config_and_a_keras_file(options, tmp_path):
    wrapper = sk.PruneLowMagnitude(keras.layers.Dense(4, name="fc"), name="pruned_fc",
                                   **options)
    model = keras.Sequential([keras.Input((8,)), wrapper])
    model.save(tmp_path / "model.keras")
    with sk.prune_scope():
        loaded = keras.saving.load_model(tmp_path / "model.keras").layers[0]
    for restored in (sk.PruneLowMagnitude.from_config(wrapper.get_config()), loaded):
        assert restored.name == "pruned_fc"
        assert restored.pruning_schedule.get_config() == options["pruning_schedule"].get_config()
        assert restored.block_size == tuple(options.get("block_size", (1, 1)))
        assert restored.block_pooling_type == options.get("block_pooling_type", "AVG")
        assert restored.sparsity_m_by_n == options.get("sparsity_m_by_n")
        assert repr(restored.pattern) == repr(wrapper.pattern)
    assert int(loaded.pruning_step.numpy()) == -1


class _TwoDense(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = keras.layers.Dense(8, name="a"), keras.layers.Dense(8, name="b")

    def call(self, x):
        return self.b(self.a(x))


def _functional():
    inputs = keras.Input((8,))
    return keras.Model(inputs, keras.layers.Dense(8, name="b")(
        keras.layers.Dense(8, name="a")(inputs)))


def _subclassed():
    model = _TwoDense()
    model(X)
    return model


TO_PRUNE = {
    "layer": lambda: keras.layers.Dense(8, name="a"),
    "list": lambda: [keras.layers.Dense(8, name="a"), keras.layers.Dense(8, name="b")],
    "sequential": _model,
    "functional": _functional,
    "nested": lambda: keras.Sequential([keras.Input((8,)), _functional()]),
    "subclassed": _subclassed,
}


@pytest.mark.parametrize("kind", TO_PRUNE)
@pytest.mark.parametrize("options", [
    dict(pruning_schedule=sk.PolynomialDecay(0.1, 0.6, begin_step=2, end_step=12, power=2,
                                             frequency=5),
         block_size=(2, 1), block_pooling_type="MAX"),
    dict(pruning_schedule=sk.ConstantSparsity(0.3, begin_step=4, frequency=6),
         sparsity_m_by_n=(1, 4)),
], ids=["blocks", "m_by_n"])
def test_every_prune_low_magnitude_argument_reaches_every_wrapper(kind, options):
    pruned = sk.prune_low_magnitude(TO_PRUNE[kind](), **options)
    wrappers = ([pruned] if kind == "layer" else pruned if kind == "list"
                else collect_prunable_layers(pruned))
    assert sorted(w.layer.name for w in wrappers) == (["a"] if kind == "layer" else ["a", "b"])
    for wrapper in wrappers:
        assert wrapper.pruning_schedule.get_config() == options["pruning_schedule"].get_config()
        assert wrapper.block_size == tuple(options.get("block_size", (1, 1)))
        assert wrapper.block_pooling_type == options.get("block_pooling_type", "AVG")
        assert wrapper.sparsity_m_by_n == options.get("sparsity_m_by_n")


@pytest.mark.parametrize("schedule, sparsity, warned", [
    (sk.ConstantSparsity(0.5, begin_step=4, end_step=4), 0.5, False),  # the fit's last step
    (sk.ConstantSparsity(0.5, begin_step=5), 0.0, True),  # one step after it
    (sk.PolynomialDecay(0.0, 0.5, begin_step=50, end_step=100), 0.0, False),  # asks 0 so far
    (sk.ConstantSparsity(0.0, begin_step=50), 0.0, False),  # asks 0
], ids=["last_step", "after_the_last_step", "ramp_from_zero_later", "zero_target"])
def test_a_schedule_is_named_when_it_asked_for_sparsity_the_fit_never_reached(
        schedule, sparsity, warned):
    model = sk.prune_low_magnitude(_model(), pruning_schedule=schedule)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(model, sk.UpdatePruningStep())  # 4 steps
    named = [str(w.message) for w in caught if "no mask was updated" in str(w.message)]
    assert bool(named) is warned
    if warned:
        assert "training ran to step 4" in named[0] and "first prunes at step 5" in named[0]
    assert [w.sparsity for w in model.layers] == [sparsity, sparsity]


@pytest.mark.parametrize("built", [True, False], ids=["built", "built_by_fit"])
def test_a_schedule_pruning_only_at_step_one_prunes_a_wrapper_fit_builds_too(built):
    schedule = sk.ConstantSparsity(0.5, begin_step=1, end_step=1)
    layers = [sk.prune_low_magnitude(keras.layers.Dense(8, name="a"), pruning_schedule=schedule)]
    model = keras.Sequential(([keras.Input((8,))] if built else []) + layers)
    _fit(model, sk.UpdatePruningStep())
    assert model.layers[0].sparsity == 0.5


def _warnings_of(action) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("schedule, epochs, reason", [
    (sk.PolynomialDecay(0.2, 0.8, 0, 8, power=1, frequency=3), 2,
     "the last mask update came at step 6, before end_step 8"),
    (sk.PolynomialDecay(0.2, 0.8, 0, 40, frequency=2), 1,
     "training ended at step 4, before end_step 40"),
], ids=["end_step_off_the_frequency_grid", "training_shorter_than_end_step"])
def test_a_fit_ending_below_the_final_sparsity_names_the_layers_and_why(
        schedule, epochs, reason):
    model = sk.prune_low_magnitude(_model(), pruning_schedule=schedule)
    said = [m for m in _warnings_of(lambda: _fit(model, sk.UpdatePruningStep(), epochs))
            if "below their pruning schedule's final sparsity" in m]
    assert len(said) == 1 and said[0].count(reason) == 2, said
    assert f"'a' at {model.layers[0].sparsity:.4g} of final sparsity 0.8" in said[0]
    assert not [m for m in _warnings_of(lambda: sk.strip_pruning(model))
                if "final sparsity" in m]  # said once


def test_a_layer_too_small_for_its_target_is_named():
    model = sk.prune_low_magnitude(
        keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="a"),
                          keras.layers.Dense(1, name="head")]),
        pruning_schedule=sk.ConstantSparsity(0.95, 0, frequency=1))
    model.compile("sgd", "mse")
    said = " ".join(_warnings_of(lambda: model.fit(X, Y[:, :1], batch_size=8, verbose=0,
                                                   callbacks=[sk.UpdatePruningStep()])))
    assert "'head' at 0.875 of final sparsity 0.95: it is too small" in said
    assert "'a' at" not in said  # 64 weights reach 0.95 (round(3.2) = 3 kept)


@pytest.mark.parametrize("options", [
    dict(pruning_schedule=sk.ConstantSparsity(0.5, 0, frequency=2), block_size=(3, 3),
         block_pooling_type="MAX"),  # edge blocks are smaller: counted as blocks
    dict(pruning_schedule=sk.ConstantSparsity(0.5, 0)),  # never fired: its own warning
], ids=["uneven_blocks", "never_fired"])
def test_layers_at_what_their_schedule_asked_are_not_named(options):
    model = sk.prune_low_magnitude(_model(), **options)
    said = _warnings_of(lambda: _fit(model, sk.UpdatePruningStep()))
    said += _warnings_of(lambda: sk.strip_pruning(model))
    assert not [m for m in said if "final sparsity" in m], said


def test_restored_weights_below_the_final_sparsity_are_named_at_strip():
    model = sk.prune_low_magnitude(_model(), pruning_schedule=sk.PolynomialDecay(
        0.2, 0.8, 0, 8, frequency=1))
    early = model.get_weights()
    _fit(model, sk.UpdatePruningStep(), epochs=1)
    model.set_weights(early)  # pruning_step goes back too, as EarlyStopping restores it
    _fit(model, sk.UpdatePruningStep(), epochs=1)  # 4 of the 8 steps
    restored = model.get_weights()
    _fit(model, sk.UpdatePruningStep(), epochs=1)
    model.set_weights(restored)
    said = " ".join(_warnings_of(lambda: sk.strip_pruning(model)))
    assert "strip_pruning:" in said and "'a' at" in said and "before end_step 8" in said


def test_a_custom_schedule_out_of_range_is_refused_before_the_masks_change():
    class Ramp(sk.PruningSchedule):
        def __call__(self, step):
            return True, 0.3 * step

        def get_config(self):
            return {"class_name": "Ramp", "config": {}}

    model = sk.prune_low_magnitude(_model(), pruning_schedule=Ramp())
    with pytest.raises(ValueError, match=r"Ramp returned sparsity 1\.2 at step 4 for layer "
                                         r"'a'.*\[0, 1\)"):
        _fit(model, sk.UpdatePruningStep())
    assert model.layers[0].sparsity == pytest.approx(0.9, abs=0.02)  # step 3's, kept


def test_a_decreasing_decay_warns_with_the_sparsity_its_first_update_holds():
    with pytest.warns(UserWarning, match=r"stay at 0\.5109, the sparsity of the first "
                                         r"update \(step 2\)"):
        sk.PolynomialDecay(0.8, 0.3, begin_step=0, end_step=8, frequency=2)


@pytest.mark.parametrize("options, named", [
    (dict(pruning_schedule=sk.ConstantSparsity(0.5, begin_step=1000)),
     "['pruning_schedule'] not used with sparsity_m_by_n"),
    (dict(block_size=(1, 4)), "['block_size'] not used with sparsity_m_by_n"),
])
def test_settings_m_by_n_does_not_use_are_named(options, named):
    said = _warnings_of(lambda: sk.prune_low_magnitude(_model(), sparsity_m_by_n=(2, 4),
                                                       **options))
    assert any(named in m for m in said), said
    assert not _warnings_of(lambda: sk.prune_low_magnitude(
        _model(), sparsity_m_by_n=(2, 4), block_size=[1, 1]))


def test_re_pruning_a_pruned_model_names_the_settings_it_ignores():
    pruned = sk.prune_low_magnitude(_model(), pruning_schedule=sk.ConstantSparsity(0.5, 0))
    said = " ".join(_warnings_of(lambda: sk.prune_low_magnitude(
        pruned, pruning_schedule=sk.ConstantSparsity(0.8, 0))))
    assert ("ignored for their layers: 'a' (pruning_schedule=ConstantSparsity("
            "target_sparsity=0.8" in said) and "'b' (" in said
    assert not _warnings_of(lambda: sk.prune_low_magnitude(
        pruned, pruning_schedule=sk.ConstantSparsity(0.5, 0)))  # the same settings
    assert not _warnings_of(lambda: sk.prune_low_magnitude(pruned))


def test_pruning_summaries_take_a_path(tmp_path):
    import pathlib

    assert sk.PruningSummaries(log_dir=pathlib.Path(tmp_path)).log_dir == str(tmp_path)


def test_m_by_n_on_a_conv1d_quotes_only_the_real_shape():
    model = keras.Sequential([keras.Input((10, 4)), keras.layers.Conv1D(8, 5, name="c1")])
    with pytest.raises(ValueError) as error:
        sk.prune_low_magnitude(model, sparsity_m_by_n=(2, 4))
    assert "(5, 4, 8)" in str(error.value) and "(1, 1, 1)" not in str(error.value)


def test_a_later_fit_without_update_pruning_step_fails_as_the_first_does():
    import tensorflow as tf

    model = sk.prune_low_magnitude(_model(), pruning_schedule=sk.PolynomialDecay(
        0.2, 0.8, 0, 8, frequency=2))
    _fit(model, sk.UpdatePruningStep())
    masks = [m.numpy() for m in model.layers[0].masks]
    with pytest.raises(tf.errors.InvalidArgumentError, match="requires the UpdatePruningStep"):
        model.fit(X, Y, batch_size=4, verbose=0)  # TFMOT would prune here; kerasprune cannot
    assert all((m.numpy() == old).all() for m, old in zip(model.layers[0].masks, masks))
    assert model.layers[0].current_step() == 4
    _fit(model, sk.UpdatePruningStep())  # with it again, it trains on
    assert model.layers[0].current_step() == 8 and model.layers[0].sparsity > 0.7
