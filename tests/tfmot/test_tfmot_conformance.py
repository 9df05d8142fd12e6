"""What a TFMOT user hits on Keras 3 (issue 27), each checked against TFMOT's behaviour.

Every expected value below is what TFMOT 0.8.1 does on tf_keras for the same code; the
reference masks were computed with TFMOT's own `pruning_impl.Pruning` on the weights built
here (a fixed seed), so the tests need neither TFMOT nor tf_keras.
"""

import importlib
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
import kerasprune.tfmot as tfmot

sk = tfmot.sparsity.keras


def _fit(model, x, y, epochs=1, batch_size=4, callbacks=None):
    model.compile("sgd", "mse")
    callbacks = [sk.UpdatePruningStep()] if callbacks is None else callbacks
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks)


def _zeros(weight) -> float:
    return float(np.mean(np.asarray(weight) == 0))


X8 = np.random.default_rng(0).standard_normal((16, 8)).astype("float32")
Y4 = np.random.default_rng(1).standard_normal((16, 4)).astype("float32")


def _pruned_once(layer, weights, input_shape, sparsity=0.5, **settings):
    """`layer` set to `weights` and trained one step (learning rate 0) under TFMOT's
    schedule pruning at step 1: its wrapper holds the mask TFMOT's rule gives `weights`."""
    schedule = sk.ConstantSparsity(sparsity, begin_step=0, frequency=1)
    wrapper = sk.prune_low_magnitude(layer, pruning_schedule=schedule, **settings)
    model = keras.Sequential([keras.Input(input_shape), wrapper])
    layer.kernel.assign(weights)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x = np.ones((2, *input_shape), "float32")
    model.fit(x, np.zeros((2, *model.outputs[0].shape[1:])), verbose=0,
              callbacks=[sk.UpdatePruningStep()])
    return wrapper


def _kernel_mask(weights, sparsity, **settings):
    """The mask TFMOT's rule gives a Dense kernel set to `weights` at `sparsity`."""
    layer = keras.layers.Dense(weights.shape[1], use_bias=False)
    wrapper = _pruned_once(layer, weights, (weights.shape[0],), sparsity, **settings)
    return np.asarray(wrapper.masks[0])


def test_two_four_on_the_guides_model_ends_fit_at_half_zeros():
    model = keras.Sequential([sk.prune_low_magnitude(keras.layers.Dense(4, input_shape=(8,)),
                                                     sparsity_m_by_n=(2, 4))])
    assert model.built  # the layer's input_shape reaches the Sequential, as in TFMOT
    _fit(model, X8, Y4)
    assert _zeros(model.layers[0].layer.kernel) == 0.5
    later = keras.Sequential([sk.prune_low_magnitude(
        keras.layers.Dense(4, input_shape=(8,)),
        pruning_schedule=sk.ConstantSparsity(0.5, begin_step=1, end_step=1))])
    _fit(later, X8, Y4)
    assert _zeros(later.layers[0].layer.kernel) == 0.5


def test_existing_wrappers_and_their_masks_are_kept():
    wrapper = sk.prune_low_magnitude(keras.layers.Dense(4), pruning_schedule=sk.ConstantSparsity(
        0.5, 0, frequency=1))
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), wrapper])
    again = sk.prune_low_magnitude(model)
    assert again.layers[1] is wrapper
    _fit(again, X8, Y4)
    assert wrapper.sparsity == 0.5
    twice = sk.prune_low_magnitude(again)
    assert twice.layers[1] is wrapper and twice.layers[1].sparsity == 0.5


def test_default_prunable_weights_are_tfmots():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.DepthwiseConv2D(3, name="depthwise")(inputs)
    x = keras.layers.SeparableConv2D(4, 3, name="separable")(x)
    pruned = sk.prune_low_magnitude(keras.Model(inputs, x))
    depthwise, separable = pruned.layers[1:]
    assert [v.name for v in depthwise.layer.get_prunable_weights()] == []
    assert [v.name for v in separable.layer.get_prunable_weights()] == ["pointwise_kernel"]
    assert separable.weight_names == ["pointwise_kernel"]


def test_custom_loop_without_batch_hooks_prunes():
    model = sk.prune_low_magnitude(
        keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]),
        pruning_schedule=sk.ConstantSparsity(0.5, 0, frequency=1))
    optimizer = keras.optimizers.SGD(0.1)
    step = sk.UpdatePruningStep()
    step.set_model(model)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    step.on_train_begin()
    for _ in range(3):
        train_step(X8, Y4)
    step.on_epoch_end(0)
    assert _zeros(model.layers[0].layer.kernel) == 0.5
    assert int(model.layers[0].pruning_step.numpy()) == 3


def _stem(inputs):
    x = keras.layers.ZeroPadding2D(1)(inputs)
    return keras.layers.Conv2D(8, 3, strides=2, padding="valid")(x)


def test_xnnpack_policy_on_any_functional_graph():
    policy = sk.PruneForLatencyOnXNNPack()
    inputs = keras.Input((8, 8, 3))
    x = _stem(inputs)
    residual = keras.layers.Conv2D(8, 1)(x)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x + residual)
    pruned = sk.prune_low_magnitude(keras.Model(inputs, x), pruning_policy=policy)
    assert len(kerasprune.prune_wrappers(pruned)) == 1

    nested = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.ZeroPadding2D(1),
                               keras.layers.Conv2D(8, 3, strides=2),
                               keras.Sequential([keras.layers.Conv2D(8, 1),
                                                 keras.layers.Conv2D(4, 1)]),
                               keras.layers.GlobalAveragePooling2D()])
    pruned = sk.prune_low_magnitude(nested, pruning_policy=policy)
    assert len(kerasprune.prune_wrappers(pruned)) == 2

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 1)(_stem(inputs))
    base = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    cloned = keras.models.clone_model(base, clone_function=lambda layer: layer)
    assert len(kerasprune.prune_wrappers(sk.prune_low_magnitude(cloned,
                                                                pruning_policy=policy))) == 1
    unbuilt = keras.Sequential([keras.layers.ZeroPadding2D(1), keras.layers.Conv2D(8, 3)])
    with pytest.raises(ValueError, match="Unbuilt models are not supported"):
        sk.prune_low_magnitude(unbuilt, pruning_policy=policy)


def test_wrapping_keeps_the_layer_objects_and_shares_their_weights():
    base = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    pruned = sk.prune_low_magnitude(base, pruning_schedule=sk.ConstantSparsity(0.5, 0,
                                                                               frequency=1))
    assert pruned.layers[0].layer is base.layers[0]
    _fit(pruned, X8, Y4)
    assert _zeros(base.layers[0].kernel) == 0.5  # the same variable


def test_layers_without_weights_are_wrapped_as_tfmot_does():
    dropout = sk.prune_low_magnitude(keras.layers.Dropout(0.5))
    assert dropout.layer.get_prunable_weights() == []
    base = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="conv"),
                             keras.layers.MaxPooling2D(name="pool"),
                             keras.layers.Flatten(name="flat"),
                             keras.layers.Dropout(0.5, name="drop"),
                             keras.layers.Dense(4, name="fc")])
    pruned = sk.prune_low_magnitude(base)
    assert [layer.name for layer in pruned.layers] == [
        f"prune_low_magnitude_{name}" for name in ("conv", "pool", "flat", "drop", "fc")]
    assert [len(layer.pruning_vars) for layer in pruned.layers] == [1, 0, 0, 0, 1]
    # kerasprune's own tools read such a model too
    assert kerasprune.sparsity_report(pruned).as_dict() == {"conv/kernel": 0.0, "fc/kernel": 0.0}


def test_schedules_return_tensors_usable_in_tf_function():
    should, sparsity = sk.ConstantSparsity(0.5, 0)(tf.constant(100))
    assert tf.is_tensor(should) and tf.is_tensor(sparsity)
    assert (bool(should), float(sparsity)) == (True, 0.5)
    decay = sk.PolynomialDecay(0.2, 0.8, 100, 110, 3, 2)

    @tf.function
    def at(step):
        return decay(step)

    should, sparsity = at(tf.constant(105))
    assert (bool(should), round(float(sparsity), 4)) == (False, 0.725)  # TFMOT's value
    assert decay.decision(105) == (False, float(sparsity))


def test_wrapper_has_tfmots_attributes():
    dense = keras.layers.Dense(4)
    wrapper = sk.prune_low_magnitude(dense)
    assert wrapper.pruning_vars == [] and wrapper.pruning_obj is None
    wrapper.build((None, 8))
    assert int(wrapper.pruning_step.numpy()) == -1
    (weight, mask, threshold), = wrapper.pruning_vars
    assert weight is dense.kernel and tuple(mask.shape) == (8, 4) and tuple(threshold.shape) == ()
    assert wrapper.prunable_weights == [dense.kernel]
    assert isinstance(wrapper.pruning_obj, importlib.import_module(
        "kerasprune.tfmot.python.core.sparsity.keras.pruning_impl").Pruning)
    unbuilt = sk.prune_low_magnitude(keras.Sequential([keras.layers.Dense(4),
                                                       keras.layers.Dense(2)]))
    stripped = sk.strip_pruning(unbuilt)
    assert [type(layer).__name__ for layer in stripped.layers] == ["Dense", "Dense"]


# Blocks of (3, 5) on a 16x12 kernel: 6 x 3 blocks, the last row and column of blocks
# smaller. TFMOT keeps 9 of 18 blocks (TensorFlow's SAME pooling windows start one row
# and one column early); row-major, 1 = kept.
_BLOCKS_AVG = "101001111000001110"
_BLOCKS_MAX = "100100110100011110"


@pytest.mark.parametrize("pooling, kept", [("AVG", _BLOCKS_AVG), ("MAX", _BLOCKS_MAX)])
def test_blocks_that_do_not_divide_the_kernel_count_as_tfmot(pooling, kept):
    weights = np.random.default_rng(27).standard_normal((16, 12)).astype("float32")
    mask = _kernel_mask(weights, 0.5, block_size=(3, 5), block_pooling_type=pooling)
    assert "".join(str(int(v)) for v in mask[::3, ::5].ravel()) == kept
    if pooling == "AVG":
        assert int(np.sum(mask == 0)) == 113  # TFMOT: 0.5885 sparse


def test_a_small_layer_keeps_at_least_one_weight():
    weights = np.random.default_rng(2).standard_normal((2, 5)).astype("float32")
    mask = _kernel_mask(weights, 0.95)
    assert int(np.count_nonzero(mask)) == 1  # round(10 * 0.05) = 0, TFMOT keeps 1


# TFMOT's 2:4 mask of that 3x3x3x4 kernel (row-major).
_TWO_FOUR_ON_THREE_CHANNELS = (
    "111100101101111110100101001011111101111111010010010110111110001111111100110000111111"
    "111111000011011011111001")


def test_two_four_pads_the_last_group_of_inputs():
    weights = np.random.default_rng(3).standard_normal((3, 3, 3, 4)).astype("float32")
    conv = keras.layers.Conv2D(4, 3, use_bias=False)
    wrapper = _pruned_once(conv, weights, (8, 8, 3), sparsity_m_by_n=(2, 4))
    mask = np.asarray(wrapper.masks[0])  # 3 input channels: groups of 3, 2 kept in each
    assert (mask.sum(axis=2) == 2).all() and int(np.sum(mask == 0)) == 36
    assert "".join(str(int(v)) for v in mask.ravel()) == _TWO_FOUR_ON_THREE_CHANNELS
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3)])
    pruned = sk.prune_low_magnitude(model, sparsity_m_by_n=(2, 4))  # one input channel
    _fit(pruned, np.ones((4, 8, 8, 1)), np.ones((4, 6, 6, 4)))
    assert _zeros(pruned.layers[0].layer.kernel) == 0.0  # a run of 1 keeps its weight


def test_wrapped_built_in_layers_have_get_prunable_weights():
    wrapper = sk.prune_low_magnitude(keras.layers.Dense(4))
    wrapper.build((None, 3))
    assert [v.name for v in wrapper.layer.get_prunable_weights()] == ["kernel"]
    lstm = sk.prune_low_magnitude(keras.layers.LSTM(2))
    keras.Sequential([keras.Input((3, 4)), lstm])
    assert [v.name for v in lstm.layer.get_prunable_weights()] == ["kernel", "recurrent_kernel"]


def test_a_layer_called_with_its_first_tensor_by_name_is_pruned():
    inputs = keras.Input((4, 8))
    x = keras.layers.MultiHeadAttention(2, 4)(query=inputs, value=inputs)
    pruned = sk.prune_low_magnitude(keras.Model(inputs, keras.layers.Flatten()(x)))
    attention = pruned.layers[1]
    assert len(attention.pruning_vars) == 4  # query, key, value, output kernels
    np.testing.assert_allclose(pruned.predict(np.ones((2, 4, 8)), verbose=0).shape, (2, 32))


def test_custom_prunable_layers_are_reused_not_rebuilt():
    class Scale(keras.layers.Layer, sk.PrunableLayer):
        def __init__(self):  # no config arguments: it cannot be rebuilt from a config
            super().__init__()
            self.kernel = self.add_weight(shape=(8,), name="kernel")

        def call(self, x):
            return x * self.kernel

        def get_prunable_weights(self):
            return [self.kernel]

    class NothingToPrune(keras.layers.Dense, sk.PrunableLayer):
        def get_prunable_weights(self):
            return []

    base = keras.Sequential([keras.Input((8,)), Scale(), NothingToPrune(4)])
    pruned = sk.prune_low_magnitude(base)
    assert pruned.layers[0].layer is base.layers[0]
    assert [len(layer.pruning_vars) for layer in pruned.layers] == [1, 0]


def test_update_pruning_step_without_wrappers_does_nothing():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    with pytest.warns(UserWarning, match="so this fit prunes nothing"):
        _fit(model, X8, Y4)  # TFMOT's callback finds no wrapper and returns (and says so)
    assert np.count_nonzero(model.layers[0].kernel) == 32


def test_ties_round_to_even_as_tfmot():
    weights = np.random.default_rng(1).standard_normal((5, 5)).astype("float32")
    layer = keras.layers.Dense(5, use_bias=False)
    wrapper = _pruned_once(layer, weights, (5,))
    assert int(np.sum(np.asarray(wrapper.masks[0]) == 0)) == 13  # 12.5 kept rounds to 12
    threshold = np.asarray(wrapper.pruning_vars[0][2])
    assert threshold == np.sort(np.abs(weights).ravel())[-12]  # TFMOT's: the 12th largest
    assert _kernel_mask(np.zeros((4, 4), "float32"), 0.5).all()  # all tied: all kept


def test_a_pruned_compiled_model_comes_back_uncompiled():
    base = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    base.compile("adam", "mse")
    pruned = sk.prune_low_magnitude(base)
    assert not pruned.compiled and getattr(pruned, "optimizer", None) is None


@pytest.mark.parametrize("module, names", [
    ("prune", ["prune_low_magnitude", "strip_pruning", "prune_scope"]),
    ("pruning_callbacks", ["UpdatePruningStep", "PruningSummaries"]),
    ("pruning_schedule", ["ConstantSparsity", "PolynomialDecay", "PruningSchedule"]),
    ("pruning_wrapper", ["PruneLowMagnitude", "collect_prunable_layers"]),
    ("pruning_policy", ["PruneForLatencyOnXNNPack", "PruningPolicy"]),
    ("prunable_layer", ["PrunableLayer"]),
    ("prune_registry", ["PruneRegistry"]),
    ("pruning_utils", ["is_pruned_m_by_n"]),
])
def test_tfmots_module_paths_import(module, names):
    found = importlib.import_module(f"kerasprune.tfmot.python.core.sparsity.keras.{module}")
    assert all(hasattr(found, name) for name in names)


def test_embedding_wrapper_builds_from_its_input_shape():
    wrapper = sk.prune_low_magnitude(keras.layers.Embedding(10, 4))
    wrapper.build((None,))
    assert [tuple(mask.shape) for mask in wrapper.masks] == [(10, 4)]
    assert wrapper.pruning_vars[0][0] is wrapper.layer.embeddings


def test_weights_move_between_pruned_models_of_one_architecture():
    def pruned():
        return sk.prune_low_magnitude(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]),
                                      pruning_schedule=sk.ConstantSparsity(0.5, 0, frequency=1))

    trained = pruned()
    _fit(trained, X8, Y4)
    fresh = pruned()
    fresh.set_weights(trained.get_weights())
    assert fresh.layers[0].sparsity == 0.5 and int(fresh.layers[0].pruning_step.numpy()) == 4


def test_schedule_steps_may_be_numpy_or_whole_floats():
    schedule = sk.ConstantSparsity(0.5, begin_step=0.2 * np.int32(30), frequency=np.int64(2))
    assert [s for s in range(10) if schedule.decision(s)[0]] == [6, 8]
    assert json.dumps(schedule.get_config())  # plain numbers in the config
    with pytest.raises(ValueError, match="begin_step"):
        sk.ConstantSparsity(0.5, begin_step=6.5)


def test_minor_differences_are_gone(tmp_path):
    wrapper = sk.prune_low_magnitude(keras.layers.Dense(4, name="fc"))
    config = wrapper.get_config()
    copy = json.loads(json.dumps(config))
    sk.PruneLowMagnitude.from_config(config)
    assert config == copy  # from_config leaves the dict alone

    inputs = keras.Input((8,))  # auto-named: input_layer_<n>
    base = keras.Model(inputs, keras.layers.Dense(4, name="fc")(inputs))
    functional = sk.prune_low_magnitude(base)
    assert [layer.name for layer in functional.layers] == [base.layers[0].name,
                                                           "prune_low_magnitude_fc"]
    assert sk.strip_pruning(functional).get_config() == base.get_config()

    model = sk.prune_low_magnitude(keras.Sequential([keras.Input((8,)),
                                                     keras.layers.Dense(4, name="fc")]))

    model.compile("sgd", "mse")
    with pytest.raises(tf.errors.InvalidArgumentError, match="UpdatePruningStep"):
        model.fit(X8, Y4, verbose=0)
    _fit(model, X8, Y4, callbacks=[sk.UpdatePruningStep(),
                                   sk.PruningSummaries(log_dir=str(tmp_path))])
    from tests.helpers import read_scalars

    assert sorted(read_scalars(tmp_path / "metrics")) == [
        "prune_low_magnitude_fc/mask:0/sparsity", "prune_low_magnitude_fc/threshold:0/threshold"]


def test_a_decreasing_polynomial_decay_is_named_since_masks_only_grow():
    with pytest.warns(UserWarning, match=r"decreases from initial_sparsity=0.8 to "
                                         r"final_sparsity=0.5: kerasprune's masks only grow"):
        tfmot.sparsity.keras.PolynomialDecay(0.8, 0.5, begin_step=0, end_step=10)
