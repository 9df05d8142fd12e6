"""Specification of the channel criteria: L1, L2, Taylor (Molchanov 2019), random, heads."""

import re

import numpy as np
import keras
import pytest

import kerasprune
from kerasprune import CriterionData
from kerasprune.core.criterion_data import ChannelActivity
from kerasprune.structured.criteria import channel_axis, channel_scores, head_scores
from kerasprune.structured.channel_patterns import Channels, channels_kept

RNG = np.random.default_rng(0)


def test_norms_per_output_channel():
    w = RNG.normal(size=(3, 3, 4, 5))
    np.testing.assert_allclose(channel_scores(w, "l1"), np.abs(w).sum(axis=(0, 1, 2)))
    np.testing.assert_allclose(channel_scores(w, "l2"),
                               np.sqrt((w ** 2).sum(axis=(0, 1, 2))))
    depthwise = RNG.normal(size=(3, 3, 6, 1))
    assert channel_axis(depthwise.shape) == 2
    np.testing.assert_allclose(channel_scores(depthwise, "l1"),
                               np.abs(depthwise).sum(axis=(0, 1, 3)))


def test_random_is_reproducible_and_puts_dead_channels_first():
    w = RNG.normal(size=(4, 10))
    w[:, 3] = 0.0
    a, b = channel_scores(w, "random", seed=1), channel_scores(w, "random", seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, channel_scores(w, "random", seed=2))
    assert a.argmin() == 3 and a[3] == 0.0


def test_taylor_is_the_mean_over_batches_of_the_squared_channel_sum():
    w = RNG.normal(size=(6, 3))
    grads = [RNG.normal(size=(6, 3)) for _ in range(4)]
    expected = np.mean([np.square((w * g).sum(0)) for g in grads], axis=0)
    np.testing.assert_allclose(channel_scores(w, "taylor", gradients=grads), expected)
    with pytest.raises(ValueError, match="CriterionData"):
        channel_scores(w, "taylor")
    with pytest.raises(ValueError, match="shape"):
        channel_scores(w, "taylor", gradients=[np.ones((3, 6))])


def test_taylor_score_of_an_important_channel_survives_gradients_that_cancel():
    # Near convergence the batch gradients point in opposite directions: their sum is 0,
    # so a score built on the summed gradient calls every channel useless. Channel 0
    # carries large weights with large per-batch gradients; channel 1 is tiny.
    w = np.array([[3.0, 0.01], [3.0, 0.01]])
    g = np.array([[1.0, 1.0], [1.0, 1.0]])
    scores = channel_scores(w, "taylor", gradients=[g, -g, g, -g])
    summed = np.abs((w * sum([g, -g, g, -g])).sum(0))
    assert summed.tolist() == [0.0, 0.0]  # what the summed form would see
    assert scores[0] == pytest.approx(36.0) and scores[0] > 1e4 * scores[1]


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values))


def test_taylor_on_a_trained_model_ranks_units_by_their_real_loss_change(digits):
    # End to end on real digits: near convergence the per-batch gradients of the hidden
    # units cancel, so the summed form loses the ranking the squared form keeps.
    (x, y), _ = digits
    x = x.reshape(len(x), -1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((49,)), keras.layers.Dense(12, "relu", name="hidden"),
                              keras.layers.Dense(10, name="out")])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=30, batch_size=128, verbose=0)
    pruned = kerasprune.prune(model, pattern=Channels("taylor"), exclude=["out"])
    pruned.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sample_x, sample_y = x[:1024], y[:1024]
    hidden = kerasprune.prune_wrappers(pruned)[0]
    gradients = CriterionData(sample_x, sample_y, batch_size=64).gradients(pruned)
    batch_grads = gradients[hidden.layer.kernel.path]
    kernel = hidden.layer.kernel.numpy()
    taylor = channel_scores(kernel, "taylor", gradients=batch_grads)
    summed = np.abs((kernel * np.sum(batch_grads, axis=0)).sum(axis=0))

    def loss(k):
        hidden.layer.kernel.assign(k)
        return float(pruned.compute_loss(x=sample_x, y=sample_y, y_pred=pruned(sample_x)))

    base = loss(kernel)
    loss_change = np.array([loss(np.where(np.arange(12) == c, 0.0, kernel)) - base
                            for c in range(12)])
    loss(kernel)
    rank_corr = {name: np.corrcoef(ranks(score), ranks(loss_change))[0, 1]
                 for name, score in (("taylor", taylor), ("summed", summed))}
    assert rank_corr["taylor"] > 0.7
    assert rank_corr["taylor"] > rank_corr["summed"] + 0.1
    assert ranks(taylor)[loss_change.argmax()] >= 9  # the unit that matters most: top 3


def test_taylor_prunes_a_large_unit_the_loss_ignores_where_l1_keeps_it():
    # Unit 0 of "hidden" has the largest weights but the next layer ignores it.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="hidden"),
                              keras.layers.Dense(1, name="out")])
    hidden = RNG.normal(size=(4, 4)).astype("float32") * 0.1
    hidden[:, 0] = 5.0
    out = np.ones((4, 1), "float32")
    out[0] = 0.0
    model.get_layer("hidden").set_weights([hidden, np.zeros(4, "float32")])
    model.get_layer("out").set_weights([out, np.zeros(1, "float32")])
    x = RNG.normal(size=(64, 4)).astype("float32")
    y = RNG.normal(size=(64, 1)).astype("float32")
    kept = {}
    for criterion in ("l1", "taylor"):
        pruned = kerasprune.prune(model, pattern=Channels(criterion), exclude=["out"])
        pruned.compile(keras.optimizers.SGD(0.0), "mse")  # lr 0: weights stay put
        callbacks = [kerasprune.PruningCallback(0.25, stabilization_epochs=0,
                                                pruning_epochs=1, finetune_epochs=0,
                                                initial_sparsity=0.25,
                                                data=CriterionData(x, y))]
        pruned.fit(x, y, epochs=1, batch_size=64, callbacks=callbacks, verbose=0)
        kept[criterion] = channels_kept(kerasprune.prune_wrappers(pruned)[0].masks[0].numpy())
    assert kept["l1"][0] and kept["l1"].sum() == 3
    assert not kept["taylor"][0] and kept["taylor"].sum() == 3


def test_taylor_importance_validates_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        CriterionData(np.ones((2, 1)), np.ones((2, 1)), batch_size=0)
    with pytest.raises(ValueError, match="equal length"):
        CriterionData(np.ones((2, 1)), np.ones((3, 1)))


def test_head_scores_sum_the_head_slices_of_all_projections():
    mha = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4)
    x = RNG.normal(size=(2, 5, 6)).astype("float32")
    mha(x, x)
    for dense in (mha._query_dense, mha._key_dense, mha._value_dense):
        kernel = dense.kernel.numpy()
        kernel[:, 1, :] = 0.0
        dense.kernel.assign(kernel)
    out = mha._output_dense.kernel.numpy()
    out[1] = 0.0
    mha._output_dense.kernel.assign(out)
    scores = head_scores(mha, "l1")
    assert scores.shape == (3,) and scores[1] == 0.0 and scores[0] > 0 and scores[2] > 0
    expected0 = sum(np.abs(d.kernel.numpy()[:, 0]).sum()
                    for d in (mha._query_dense, mha._key_dense, mha._value_dense))
    expected0 += np.abs(out[0]).sum()
    np.testing.assert_allclose(scores[0], expected0, rtol=1e-5)
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        head_scores(keras.layers.Dense(2))


def test_unknown_criterion_is_rejected():
    with pytest.raises(ValueError, match="criterion"):
        channel_scores(np.ones((2, 2)), "l7")


def _dead_unit_model():
    """Unit 0 has the largest weights but a bias that keeps it below zero (a dead ReLU);
    unit 1 has tiny weights and a large positive output."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, "relu", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    kernel = RNG.normal(size=(4, 4)).astype("float32") * 0.5
    kernel[:, 0] = 1.0
    kernel[:, 1] = 0.01
    bias = np.array([-100.0, 5.0, 0.0, 0.0], "float32")
    model.get_layer("hidden").set_weights([kernel, bias])
    return model


def test_apoz_and_mean_activation_score_what_the_channel_outputs():
    x = RNG.normal(size=(64, 4)).astype("float32")
    kept = {}
    for criterion in ("l1", "apoz", "mean_activation"):
        pruned = kerasprune.prune(_dead_unit_model(), pattern=Channels(criterion),
                                  exclude=["out"])
        kerasprune.update_masks(pruned, 0.25, **CriterionData(x).for_update(pruned))
        kept[criterion] = channels_kept(kerasprune.prune_wrappers(pruned)[0].masks[0].numpy())
    assert kept["l1"][0] and not kept["l1"][1]  # magnitude keeps the dead unit
    assert not kept["apoz"][0] and kept["apoz"].sum() == 3
    assert not kept["mean_activation"][0] and kept["mean_activation"][1]


def test_activation_criteria_need_statistics_of_every_channel():
    w = np.ones((3, 2))
    with pytest.raises(ValueError, match="CriterionData"):
        channel_scores(w, "apoz")
    wrong = ChannelActivity(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="each of its 2 channels"):
        channel_scores(w, "mean_activation", activations=wrong)
    assert Channels("apoz").needs_activations and not Channels("apoz").needs_gradients


def test_pruning_callback_feeds_activations_to_apoz():
    x = RNG.normal(size=(64, 4)).astype("float32")
    y = RNG.normal(size=(64, 1)).astype("float32")
    pruned = kerasprune.prune(_dead_unit_model(), pattern=Channels("apoz"), exclude=["out"])
    pruned.compile(keras.optimizers.SGD(0.0), "mse")
    gmp = dict(stabilization_epochs=0, pruning_epochs=1, finetune_epochs=0,
               initial_sparsity=0.25)
    with pytest.raises(ValueError, match="needs activations on data"):
        pruned.fit(x, y, callbacks=[kerasprune.PruningCallback(0.25, **gmp)], verbose=0)
    callback = kerasprune.PruningCallback(0.25, data=CriterionData(x), **gmp)
    pruned.fit(x, y, epochs=1, batch_size=64, callbacks=[callback], verbose=0)
    kept = channels_kept(kerasprune.prune_wrappers(pruned)[0].masks[0].numpy())
    assert not kept[0] and kept.sum() == 3


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_each_wrapper_gets_the_gradients_of_its_own_weights(scope):
    # Two pruned layers of the same kernel shape: mixing up their gradients would pass
    # every shape check, so only the masks can tell.
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(4, name="b"), keras.layers.Dense(2, name="out")])
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    pattern = Channels("taylor", min_channels=0)
    pruned = kerasprune.prune(model, scope=scope, pattern=pattern, exclude=["out"])
    pruned.compile(keras.optimizers.SGD(0.0), "mse")  # lr 0: weights stay put
    kernels = [w.pruned_weights[0] for w in kerasprune.prune_wrappers(pruned)]
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, pruned(x))
    grads = [np.asarray(g) for g in tape.gradient(loss, [k.value for k in kernels])]
    weights = [np.asarray(k) for k in kernels]

    def lowest(gradients):
        """Pruned channels of (a, b) at 50% when a gets gradients[0] and b gradients[1]."""
        scores = [np.square((w * g).sum(axis=0)) for w, g in zip(weights, gradients)]
        if scope == "layer":
            return [set(np.argsort(s)[:2].tolist()) for s in scores]
        order = np.argsort(np.concatenate(scores))[:4]
        return [set(order[order < 4].tolist()), set((order[order >= 4] - 4).tolist())]

    expected = lowest(grads)
    for mixed in ([grads[1], grads[0]], [grads[0], grads[0]], [grads[1], grads[1]]):
        assert lowest(mixed) != expected  # the setup can tell the gradients apart
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0, initial_sparsity=0.5,
                                     data=CriterionData(x, y, batch_size=32))
    pruned.fit(x, y, epochs=1, batch_size=32, callbacks=[gmp], verbose=0)
    pruned_channels = [set(np.flatnonzero(~channels_kept(w.masks[0].numpy())).tolist())
                       for w in kerasprune.prune_wrappers(pruned)]
    assert pruned_channels == expected


def test_taylor_takes_a_single_gradient_array_as_one_batch():
    w = RNG.normal(size=(6, 3))
    g = RNG.normal(size=(6, 3))
    np.testing.assert_allclose(channel_scores(w, "taylor", gradients=g),
                               np.square((w * g).sum(axis=0)))


def test_taylor_message_names_the_shapes_it_received():
    import re

    message = (
        "The 'taylor' criterion needs the loss gradients of the weight on one or more "
        "batches, each of shape (6, 3). Received: gradients of shapes [(3, 6)]. "
        "Pass `data=kerasprune.CriterionData(x, y)` to the pruning callback or "
        "one_shot_prune, or `**kerasprune.CriterionData(x, y).for_update(model)` to "
        "update_masks."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        channel_scores(np.ones((6, 3)), "taylor", gradients=[np.ones((3, 6))])


def test_head_scores_use_the_criterion_and_refuse_an_unbuilt_layer():
    import re

    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = RNG.normal(size=(1, 4, 6)).astype("float32")
    mha(x, x)
    kernels = [d.kernel.numpy() for d in (mha._query_dense, mha._key_dense, mha._value_dense)]
    out = mha._output_dense.kernel.numpy()
    expected = sum(np.sqrt(np.square(k).sum(axis=(0, 2))) for k in kernels)
    expected = expected + np.sqrt(np.square(out).sum(axis=(1, 2)))
    np.testing.assert_allclose(head_scores(mha, "l2"), expected, rtol=1e-5)
    assert head_scores(mha, "random").shape == (2,)
    with pytest.raises(TypeError, match="Received: layer=<MultiHeadAttention"):
        head_scores(keras.layers.MultiHeadAttention(num_heads=2, key_dim=3))
    message = "`criterion` must be one of ('l1', 'l2', 'random'). Received: criterion='taylor'"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        head_scores(mha, "taylor")


def test_activation_scores_are_the_live_fraction_or_the_mean_in_float64():
    import re

    activity = ChannelActivity(np.array([0.25, 1.0], "float32"),
                                          np.array([0.1, 3.0], "float32"))
    apoz = channel_scores(np.ones((3, 2)), "apoz", activations=activity)
    mean = channel_scores(np.ones((3, 2)), "mean_activation", activations=activity)
    assert apoz.dtype == mean.dtype == np.float64
    assert apoz.tolist() == [0.75, 0.0] and mean.tolist() == [np.float64(np.float32(0.1)), 3.0]
    message = ("The 'apoz' criterion needs the layer's output statistics for each of its 2 "
               "channels. Received: statistics of shape (3,). Pass "
               "`data=kerasprune.CriterionData(x)` to the pruning callback or one_shot_prune, "
               "or `**kerasprune.CriterionData(x).for_update(model)` to update_masks.")
    wrong = ChannelActivity(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        channel_scores(np.ones((3, 2)), "apoz", activations=wrong)
    with pytest.raises(ValueError, match=r"Received: statistics of shape None\. Pass"):
        channel_scores(np.ones((3, 2)), "mean_activation")


def test_head_scores_default_to_l1_and_name_the_layer_type_they_need():
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = RNG.normal(size=(1, 4, 6)).astype("float32")
    mha(x, x)
    np.testing.assert_array_equal(head_scores(mha), head_scores(mha, "l1"))
    message = r"^`layer` must be a built keras\.layers\.MultiHeadAttention\. Received: layer=<Dense"
    with pytest.raises(TypeError, match=message):
        head_scores(keras.layers.Dense(2))


def test_channel_axis_of_vectors_rank_3_depthwise_kernels_and_scalars():
    assert channel_axis((5,)) == 0 and channel_axis((7, 1)) == 1
    # DepthwiseConv1D: [kernel size, channels, depth multiplier 1], channels on axis 1.
    depthwise = keras.layers.DepthwiseConv1D(3)
    depthwise.build((None, 10, 8))
    assert tuple(depthwise.kernel.shape) == (3, 8, 1) and channel_axis((3, 8, 1)) == 1
    assert channel_scores(np.asarray(depthwise.kernel), "l1").shape == (8,)
    message = "A scalar weight has no channels. Received: shape=()"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        channel_axis(())


def test_random_scores_are_distinct_uniform_draws_kept_above_zero_for_live_channels():
    w = RNG.normal(size=(2, 5000))
    w[:, 7] = 0.0
    scores = channel_scores(w, "random")
    live = np.delete(scores, 7)
    assert scores[7] == 0.0
    # Thousands of draws: some fall below 1e-3, yet every live channel must outrank a dead one.
    assert live.min() > 0.0 and live.max() < 1.01 and abs(live.mean() - 0.5) < 0.05
    assert np.unique(live).size == live.size


def test_channel_scores_default_to_l1_and_the_random_seed_of_channels():
    w = RNG.normal(size=(4, 6))
    np.testing.assert_array_equal(channel_scores(w), channel_scores(w, "l1"))
    pattern = Channels("random", normalize="none", min_channels=0)
    np.testing.assert_array_equal(channel_scores(w, "random"), pattern.scores_along(w, 1))


def test_l1_of_a_float32_kernel_is_summed_in_float64_so_small_weights_still_count():
    # In float32, 2**24 + 1 rounds to 2**24: the two channels would tie.
    w = np.array([[2.0 ** 24, 2.0 ** 24], [1.0, 0.0]], "float32")
    scores = channel_scores(w, "l1")
    assert scores.dtype == np.float64 and scores.tolist() == [2.0 ** 24 + 1, 2.0 ** 24]
