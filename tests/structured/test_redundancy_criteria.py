"""Specification of the channel criteria of issue 33: second-order Taylor, L0, FPGM, cosine,
correlation, entropy and LDA, each on a case whose right ranking is known in closed form."""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune import CriterionData
from kerasprune.core.criterion_data import ChannelActivity, channel_activity, needed_data
from kerasprune.structured.channel_patterns import Channels, channels_kept
from kerasprune.structured.criteria import channel_scores, taylor2_loss_change

RNG = np.random.default_rng(0)


def activity(pooled, labels=None) -> ChannelActivity:
    pooled = np.asarray(pooled, np.float64)
    return ChannelActivity(np.zeros(pooled.shape[1]), pooled.mean(axis=0), pooled, labels)


def test_second_order_taylor_is_the_exact_loss_change_of_a_separable_quadratic():
    # L(w) = sum a/2 (w - c)^2: gradient a (w - c), Hessian diag a, exact to second order.
    a, c, w = RNG.uniform(0.5, 2, (5, 3)), RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))

    def loss(v):
        return float((a / 2 * (v - c) ** 2).sum())

    exact = [loss(np.where(np.arange(3) == j, 0.0, w)) - loss(w) for j in range(3)]
    change = taylor2_loss_change(w, [a * (w - c)], 1, curvature=a)
    np.testing.assert_allclose(change, exact)
    np.testing.assert_allclose(
        channel_scores(w, "taylor2", gradients=[a * (w - c)], curvature=a), np.abs(exact))


def test_second_order_taylor_without_curvature_uses_the_squared_gradients():
    w = np.array([[1.0, 2.0]])
    grads = [np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]])]  # mean 0, mean square 1, 0
    np.testing.assert_allclose(channel_scores(w, "taylor2", gradients=grads), [0.5, 0.0])
    with pytest.raises(ValueError, match=r"taylor2.*CriterionData\(x, y\)"):
        channel_scores(w, "taylor2")


def test_second_order_taylor_on_a_model_ranks_an_unused_channel_last():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    # The output reads hidden unit 0 and 1 only: unit 2 does not change the loss.
    logits = keras.layers.Dense(1, use_bias=False, name="out", trainable=False)(hidden)
    model = keras.Model(inputs, logits)
    model.get_layer("out").set_weights([np.array([[1.0], [1.0], [0.0]])])
    pruned = kerasprune.prune(model, layers=["hidden"],
                              pattern=Channels("taylor2", normalize="none", groups=False))
    pruned.compile(loss="mse")
    x = RNG.normal(size=(64, 4))
    data = CriterionData(x, x[:, :1] * 3, batch_size=16)
    kerasprune.update_masks(pruned, 1 / 3, **data.for_update(pruned))
    assert channels_kept(np.asarray(kerasprune.prune_wrappers(pruned)[0].masks[0])).tolist() \
        == [True, True, False]


def test_cosine_removes_one_of_two_identical_filters_and_keeps_the_other():
    w = RNG.normal(size=(3, 3, 2, 5))
    w[..., 3] = w[..., 1]
    scores = channel_scores(w, "cosine")
    assert scores[3] == pytest.approx(0.0, abs=1e-12) and scores[1] > 0.2
    model = kerasprune.prune(keras.Sequential([
        keras.Input((6, 6, 2)), keras.layers.Conv2D(5, 3, name="conv"),
        keras.layers.Flatten(), keras.layers.Dense(2, name="logits")]),
        layers=["conv"], pattern=Channels("cosine"))
    model.get_layer("prune_conv").layer.kernel.assign(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kerasprune.update_masks(model, 0.2)
    kept = channels_kept(np.asarray(kerasprune.prune_wrappers(model)[0].masks[0]))
    assert kept.tolist() == [True, True, True, False, True]


def test_cosine_sees_collinear_filters_of_different_norms_and_signs():
    w = np.array([[1.0, -3.0, 0.0], [2.0, -6.0, 1.0]])  # channel 1 = -3 x channel 0
    scores = channel_scores(w, "cosine")
    assert scores[0] == pytest.approx(0.0, abs=1e-12)  # the weaker of the pair
    assert scores[1] > 0.5 and scores[2] > 0.05


def test_fpgm_prunes_the_filter_nearest_the_geometric_median():
    # Four filters at the corners of a square and one at its centre: the centre is the
    # geometric median, so it is the most replaceable.
    corners = [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    w = np.array([*corners, (0, 0.1)], dtype=float).T
    scores = channel_scores(w, "fpgm")
    assert scores.argmin() == 4
    np.testing.assert_allclose(scores[0], 4 + 2 * np.sqrt(2) + np.hypot(1, 1.1))


def test_l0_counts_nonzero_weights_and_breaks_ties_by_l1():
    w = np.array([[1.0, 0.0, 5.0, 2.0], [1.0, 3.0, 0.0, 0.0], [1.0, 3.0, 0.0, 0.0]])
    scores = channel_scores(w, "l0")
    assert np.argsort(scores).tolist() == [3, 2, 1, 0]  # 1 nonzero (2 < 5), 2 (6), 3
    assert np.floor(scores).tolist() == [3.0, 2.0, 1.0, 1.0]


def test_entropy_ranks_a_constant_channel_last():
    pooled = RNG.normal(size=(200, 4))
    pooled[:, 2] = 0.7
    scores = channel_scores(np.ones((3, 4)), "entropy", activations=activity(pooled))
    assert scores.argmin() == 2 and scores[2] == 0.0
    assert np.all(scores[[0, 1, 3]] > 2.0)  # 32 bins: a spread channel has nats to spare


def test_correlation_marks_the_weaker_of_two_correlated_channels_redundant():
    a, b = RNG.normal(size=(2, 300))
    pooled = np.stack([a, b, 0.5 * a + 0.01 * RNG.normal(size=300), np.full(300, 2.0)], 1)
    scores = channel_scores(np.ones((2, 4)), "correlation", activations=activity(pooled))
    assert scores[2] < 0.01 and scores[3] == 0.0  # redundant copy; constant channel
    assert scores[0] > 0.8 and scores[1] > 0.8


def test_lda_scores_the_class_discriminative_channel_first():
    labels = np.repeat([0, 1, 2], 50)
    pooled = RNG.normal(size=(150, 3))
    pooled[:, 1] += 4.0 * labels  # separates the classes
    scores = channel_scores(np.ones((2, 3)), "lda", activations=activity(pooled, labels))
    assert scores.argmax() == 1 and scores[1] > 20 * max(scores[0], scores[2])
    with pytest.raises(ValueError, match=r"labels.*CriterionData\(x, y\)"):
        channel_scores(np.ones((2, 3)), "lda", activations=activity(pooled))


def test_channel_activity_pools_each_example_and_reads_labels_from_one_hot_targets():
    model = kerasprune.prune(keras.Sequential([keras.Input((2, 1)), keras.layers.Dense(
        2, use_bias=False, kernel_initializer="ones")]))
    x = np.array([[[1.0], [3.0]], [[0.0], [-2.0]]])
    stats = channel_activity(model, x, y=np.eye(2)[[1, 0]])
    pooled = next(iter(stats.values()))
    np.testing.assert_allclose(pooled.pooled, [[2.0, 2.0], [-1.0, -1.0]])
    assert pooled.labels.tolist() == [1, 0]


def test_channels_already_removed_score_zero_under_every_criterion():
    w = RNG.normal(size=(4, 3))
    w[:, 1] = 0.0
    pooled = RNG.normal(size=(40, 3))
    for criterion in ("l0", "fpgm", "cosine", "correlation", "entropy", "lda", "taylor2"):
        scores = channel_scores(w, criterion, gradients=[RNG.normal(size=w.shape)],
                                activations=activity(pooled, np.arange(40) % 2))
        assert scores[1] == 0.0, criterion


def test_lda_needs_labels_and_the_callback_says_so_before_training():
    model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        6, name="hidden"), keras.layers.Dense(2, name="logits")]), pattern=Channels("lda"))
    model.compile("adam", "mse")
    assert needed_data(model) == ["activations", "labels"]
    x = RNG.normal(size=(32, 4))
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=0, data=CriterionData(x))
    with pytest.raises(ValueError, match="targets"):
        model.fit(x, np.zeros((32, 2)), epochs=1, callbacks=[callback], verbose=0)
    assert all(np.all(np.asarray(m) == 1) for w in kerasprune.prune_wrappers(model)
               for m in w.masks)
    with pytest.raises(ValueError, match="`y`"):
        CriterionData(x).for_update(model)


@pytest.mark.parametrize("criterion", ["taylor2", "l0", "fpgm", "cosine", "correlation",
                                       "entropy", "lda"])
def test_each_criterion_prunes_coupled_groups_and_round_trips(criterion):
    inputs = keras.Input((6, 6, 2))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 1, name="b")(inputs)
    x = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    pattern = Channels(criterion, seed=3)
    assert Channels.from_config(pattern.get_config()).get_config() == pattern.get_config()
    pruned = kerasprune.one_shot_prune(model, 0.5, pattern=pattern, exclude=["logits"],
                                       data=(RNG.normal(size=(24, 6, 6, 2)),
                                             np.arange(24) % 3))
    masks = {w.layer.name: channels_kept(np.asarray(w.masks[0]))
             for w in kerasprune.prune_wrappers(pruned)}
    assert masks["a"].tolist() == masks["b"].tolist() and masks["a"].sum() == 2
    small = kerasprune.shrink(pruned)
    assert small.get_layer("a").filters == 2
