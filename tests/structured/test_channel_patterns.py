"""Specification of the Channels and NM mask patterns, alone and inside prune/update_masks."""

import re
import warnings

import keras
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import kerasprune
from kerasprune.core.selection import select_pruned
from kerasprune.structured.channel_patterns import NM, Channels, channels_kept
from tests.mutation_scope import examples
from tests.helpers import first_masks

RNG = np.random.default_rng(0)


def test_channels_groups_output_channels_of_conv_dense_and_depthwise_kernels():
    for shape, channels, size in [((3, 3, 4, 6), 6, 36), ((5, 7), 7, 5), ((3, 3, 8, 1), 8, 9)]:
        scores, sizes = Channels("l2").group_scores(RNG.normal(size=shape))
        assert scores.shape == (channels,)
        assert sizes.tolist() == [size] * channels


def test_channels_expand_zeroes_whole_channels():
    keep = np.array([True, False, True, False])
    mask = Channels().expand(keep, (3, 3, 2, 4))
    assert mask.shape == (3, 3, 2, 4)
    np.testing.assert_array_equal(channels_kept(mask), keep)
    assert set(np.unique(mask)) == {0.0, 1.0}


def test_layer_scope_prunes_the_lowest_l1_channels_of_each_layer():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="a"),
                              keras.layers.Dense(4, name="b")])
    kernel = np.ones((6, 8), "float32") * np.arange(1, 9, dtype="float32")
    model.get_layer("a").set_weights([kernel, np.zeros(8, "float32")])
    pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=["b"])
    kerasprune.update_masks(pruned, 0.5)
    assert channels_kept(first_masks(pruned)["a"]).tolist() == [False] * 4 + [True] * 4


def test_global_scope_with_min_channels_keeps_channels_in_every_layer():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="big"),
                              keras.layers.Dense(8, name="tiny"),
                              keras.layers.Dense(2, name="logits")])
    model.get_layer("tiny").set_weights([RNG.normal(size=(8, 8)).astype("float32") * 1e-3,
                                         np.zeros(8, "float32")])
    for min_channels, tiny_kept in [(0, 0), (2, 2)]:
        pruned = kerasprune.prune(model, scope="global", exclude=["logits"], min_density=0.0,
                                  pattern=Channels("l1", min_channels=min_channels))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the emptied layer is named in a warning
            kerasprune.update_masks(pruned, 0.7)
        masks = first_masks(pruned)
        assert channels_kept(masks["tiny"]).sum() == tiny_kept


def test_random_criterion_is_a_fixed_order_and_masks_only_grow():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, name="d"),
                              keras.layers.Dense(2, name="logits")])
    pruned = kerasprune.prune(model, pattern=Channels("random", seed=3), exclude=["logits"])
    kerasprune.update_masks(pruned, 0.25)
    first = channels_kept(first_masks(pruned)["d"])
    kerasprune.update_masks(pruned, 0.5)
    second = channels_kept(first_masks(pruned)["d"])
    assert first.sum() == 12 and second.sum() == 8
    assert not np.any(second & ~first)  # nothing pruned comes back


def test_channels_serializes():
    pattern = Channels("taylor", normalize="layer", min_channels=2, seed=5)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(pattern))
    assert isinstance(restored, Channels)
    assert restored.get_config() == pattern.get_config()


@pytest.mark.parametrize("kwargs, name", [({"criterion": "l3"}, "criterion"),
                                          ({"normalize": "max"}, "normalize"),
                                          ({"min_channels": -1}, "min_channels")])
def test_channels_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Channels(**kwargs)


@settings(max_examples=examples(25), deadline=None)
@given(n=st.integers(1, 3), extra=st.integers(1, 3), runs=st.integers(1, 4),
       outs=st.integers(1, 5), conv=st.booleans())
def test_nm_masks_keep_exactly_n_of_every_m_along_the_input_axis(n, extra, runs, outs, conv):
    m = n + extra
    shape = (3, 3, runs * m, outs) if conv else (runs * m, outs)
    weight = np.random.default_rng(runs * 7 + outs).normal(size=shape)
    pattern = NM(n, m)
    scores, sizes = pattern.group_scores(weight)
    pruned = select_pruned(scores, sizes, np.zeros(scores.size, bool),
                                            pattern.sparsity)
    mask = pattern.expand(~pruned, shape)
    per_run = np.moveaxis(mask, -2, -1).reshape(-1, m).sum(axis=1)
    assert np.all(per_run == n)
    # the kept weights are the n largest of their run
    runs_w = np.abs(np.moveaxis(weight, -2, -1).reshape(-1, m))
    runs_m = np.moveaxis(mask, -2, -1).reshape(-1, m)
    assert np.all(runs_w[runs_m == 1].reshape(-1, n).min(axis=1)
                  >= runs_w[runs_m == 0].reshape(-1, m - n).max(axis=1))


def test_nm_through_gradual_pruning_ends_exactly_2_of_4():
    model = keras.Sequential([keras.Input((3, 3, 8)), keras.layers.Conv2D(6, 2, name="c"),
                              keras.layers.Flatten(), keras.layers.Dense(4, name="d")])
    pruned = kerasprune.prune(model, pattern=NM(2, 4))
    pruned.compile("adam", "mse")
    x, y = RNG.normal(size=(32, 3, 3, 8)), RNG.normal(size=(32, 4))
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=1)
    pruned.fit(x, y, epochs=3, callbacks=[callback], verbose=0)
    for name, mask in first_masks(pruned).items():
        per_run = np.moveaxis(mask, -2, -1).reshape(-1, 4).sum(axis=1)
        assert np.all(per_run == 2), name
    weights = kerasprune.strip(pruned).get_layer("d").kernel.numpy()
    assert np.all(np.count_nonzero(weights.T.reshape(-1, 4), axis=1) <= 2)


def test_nm_rejects_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match="n=4, m=4"):
        NM(4, 4)
    with pytest.raises(ValueError, match="multiple of 4"):
        NM(2, 4).group_scores(np.ones((6, 3)))


@pytest.mark.parametrize("normalize, kept_a, kept_b", [
    # raw L1: a's channels sum 8 weights, b's 4, so all of b goes first
    ("none", [True] * 4, [False] * 4),
    # mean |w|: a's two smallest channels
    ("size", [False, False, True, True], [True] * 4),
    # L1 over the layer's L2 norm: b's norm is the larger, so b gives up two channels
    ("layer", [False, True, True, True], [False, False, True, True]),
])
def test_global_scope_normalization_decides_which_layer_gives_up_channels(
        normalize, kept_a, kept_b):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(4, name="b")])
    alpha = np.array([1.0, 1.5, 1.55, 1.6], "float32")  # |w| of each channel of a (fan-in 8)
    beta = np.array([1.6, 1.7, 1.9, 1.95], "float32")  # and of b (fan-in 4)
    model.get_layer("a").set_weights([np.ones((8, 4), "float32") * alpha, np.zeros(4, "float32")])
    model.get_layer("b").set_weights([-np.ones((4, 4), "float32") * beta, np.zeros(4, "float32")])
    # Layer by layer (no channel groups), the target counts weights.
    pattern = Channels("l1", normalize=normalize, min_channels=0, groups=False)
    pruned = kerasprune.prune(model, scope="global", pattern=pattern, min_density=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # raw L1 empties b, which is named in a warning
        kerasprune.update_masks(pruned, 16 / 48)  # 16 weights: 2 channels of a or 4 of b
    masks = first_masks(pruned)
    assert channels_kept(masks["a"]).tolist() == kept_a
    assert channels_kept(masks["b"]).tolist() == kept_b


@pytest.mark.parametrize("normalize, kept_a, kept_b", [
    # raw L1: a = 8 * alpha = [8, 12, 12.4, 12.8], b = 4 * beta = [6.4, 6.8, 7.6, 7.8]
    ("none", [True] * 4, [False, False, True, True]),
    # mean |w|: alpha against beta
    ("size", [False, False, True, True], [True] * 4),
    # over the layer's L2 norm: a = [.349, .523, .541, .558], b = [.446, .474, .530, .544]
    ("layer", [False, True, True, True], [False, True, True, True]),
])
def test_global_channel_groups_are_ranked_by_normalized_scores(normalize, kept_a, kept_b):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(4, name="b"), keras.layers.Dense(2, name="out")])
    alpha = np.array([1.0, 1.5, 1.55, 1.6], "float32")
    beta = np.array([1.6, 1.7, 1.9, 1.95], "float32")
    model.get_layer("a").set_weights([np.ones((8, 4), "float32") * alpha, np.zeros(4, "float32")])
    model.get_layer("b").set_weights([-np.ones((4, 4), "float32") * beta, np.zeros(4, "float32")])
    pattern = Channels("l1", normalize=normalize, min_channels=0)
    pruned = kerasprune.prune(model, scope="global", pattern=pattern, exclude=["out"])
    kerasprune.update_masks(pruned, 2 / 8)  # with groups, the target counts channels
    masks = first_masks(pruned)
    assert channels_kept(masks["a"]).tolist() == kept_a
    assert channels_kept(masks["b"]).tolist() == kept_b


def test_channel_scores_are_normalized_by_size_or_by_the_layer_norm():
    kernel = RNG.normal(size=(3, 3, 4, 5))
    l1 = np.abs(kernel).sum(axis=(0, 1, 2))
    scores = {n: Channels("l1", normalize=n, min_channels=0).group_scores(kernel)[0]
              for n in ("none", "size", "layer")}
    np.testing.assert_allclose(scores["none"], l1)
    np.testing.assert_allclose(scores["size"], l1 / 36)
    np.testing.assert_allclose(scores["layer"], l1 / np.linalg.norm(l1))


def test_nm_prints_and_serializes_as_constructed():
    pattern = NM(1, 4)
    assert repr(pattern) == "NM(1, 4)" and repr(Channels("l2")) == "Channels('l2')"
    assert pattern.get_config() == {"n": 1, "m": 4}
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(pattern))
    assert (type(restored), restored.n, restored.m, restored.sparsity) == (NM, 1, 4, 0.75)


def test_group_ids_are_channels_or_runs_of_m_inputs():
    assert Channels().group_ids((2, 3)).tolist() == [[0, 1, 2], [0, 1, 2]]
    depthwise = Channels().group_ids((1, 2, 3, 1))  # channels on axis -2
    assert depthwise[0, :, :, 0].tolist() == [[0, 1, 2], [0, 1, 2]]
    # Runs of 4 consecutive inputs (axis -2) of each output column.
    ids = NM(2, 4).group_ids((8, 2))
    assert ids.dtype.kind == "i" and ids.T.tolist() == [
        [0, 0, 0, 0, 1, 1, 1, 1], [2, 2, 2, 2, 3, 3, 3, 3]]
    with pytest.raises(ValueError, match=r"multiple of 4\. Received: shape=\(6, 2\)"):
        NM(2, 4).group_ids((6, 2))


def test_nm_runs_of_a_conv_kernel_lie_along_its_input_axis():
    shape = (1, 2, 4, 3)  # [height, width, in, out]: every axis a different size
    ids = NM(2, 4).group_ids(shape)
    assert ids.shape == shape and np.unique(ids).size == 6
    assert all(np.unique(ids[0, w, :, o]).size == 1 for w in range(2) for o in range(3))
    scores, _ = NM(2, 4).group_scores(np.arange(24.0).reshape(shape))
    ranks = np.floor(scores).reshape(shape)  # magnitudes grow along the input axis
    assert all(ranks[0, w, :, o].tolist() == [0, 1, 2, 3] for w in range(2) for o in range(3))


def test_nm_scores_are_the_rank_in_the_run_plus_half_the_magnitude_over_the_run_peak():
    # Runs along axis -2: column 0 is one run, column 1 another, column 2 is all zero.
    weight = np.array([[4, 1, 0], [-1, 2, 0], [3, 0, 0], [0.5, 0, 0]], dtype="float32")
    scores, sizes = NM(2, 4).group_scores(weight)
    expected = np.array([[3.5, 2.25, 0], [1.125, 3.5, 1], [2.375, 0, 2], [0.0625, 1, 3]])
    assert scores.dtype == np.float64 and scores.tolist() == expected.ravel().tolist()
    assert sizes.dtype == np.int64 and sizes.tolist() == [1] * 12
    # float64 arithmetic on float32 weights: 1/3 of a peak of 1.5 is 1/6 exactly.
    thirds, _ = NM(1, 2).group_scores(np.array([[1.5], [0.5]], dtype="float32"))
    assert thirds.tolist() == [1.5, 1 / 6]
    small, _ = NM(1, 2).group_scores(np.array([[0.5], [0.25]]))  # a peak below 1
    assert small.tolist() == [1.5, 0.25]


def test_nm_ranks_equal_magnitudes_by_position_in_long_runs():
    weight = np.random.default_rng(1).integers(-2, 3, size=(32, 3)).astype("float64")
    scores, _ = NM(2, 16).group_scores(weight)
    ranks = np.floor(scores).reshape(weight.shape)
    for column in range(3):
        for start in (0, 16):
            run = np.abs(weight[start:start + 16, column])
            expected = np.argsort(np.argsort(run, kind="stable"), kind="stable")
            assert ranks[start:start + 16, column].tolist() == expected.tolist()


def test_nm_defaults_to_2_of_4_and_reads_pruned_weights_off_the_mask():
    assert (NM().n, NM().m) == (2, 4)
    message = r"^Expected ints with 1 <= n < m\. Received: n=2\.0, m=4$"
    with pytest.raises(ValueError, match=message):
        NM(2.0, 4)
    with pytest.raises(ValueError, match=r"Received: n=True, m=4$"):
        NM(True, 4)
    mask = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert NM(1, 2).pruned_groups(mask).tolist() == [False, True, True, False]
    expanded = NM(1, 2).expand(np.array([True, False, False, True]), (2, 2))
    assert expanded.dtype == np.float32 and expanded.tolist() == mask.tolist()


def test_channels_pass_gradients_and_activations_to_their_criterion():
    from kerasprune.core.criterion_data import ChannelActivity

    weight = np.array([[1.0, 2.0], [3.0, 4.0]])
    gradient = np.array([[1.0, 0.0], [1.0, 0.5]])
    taylor = Channels("taylor", normalize="none", min_channels=0)
    scores, sizes = taylor.group_scores(weight, [gradient])
    assert scores.tolist() == [16.0, 4.0]  # (1*1 + 3*1)^2, (2*0 + 4*0.5)^2
    assert sizes.dtype == np.int64 and sizes.tolist() == [2, 2]
    activity = ChannelActivity(zero_fraction=np.array([0.25, 0.5]), mean=np.array([3.0, 1.0]))
    apoz = Channels("apoz", normalize="none", min_channels=0)
    scores, _ = apoz.group_scores(weight, None, activity)
    assert scores.tolist() == [0.75, 0.5]


def test_channels_expand_along_the_depthwise_channel_axis_as_float32():
    mask = Channels().expand(np.array([True, False, True]), (2, 2, 3, 1))
    assert mask.dtype == np.float32 and mask[..., 0].sum(axis=(0, 1)).tolist() == [4, 0, 4]


class _Tower(keras.Model):
    """Dense a -> b -> out, subclassed: no graph of layers to find channel groups in."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = keras.layers.Dense(4, name="a")
        self.b = keras.layers.Dense(4, name="b")
        self.out = keras.layers.Dense(2, name="out")

    def call(self, x):
        return self.out(self.b(self.a(x)))


def _tower(kind):
    """The same model as a Functional one or a subclassed one; L1 ranks the channels of a
    and b 0 < 1 < 2 < 3."""
    if kind == "functional":
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="a"),
                                  keras.layers.Dense(4, name="b"),
                                  keras.layers.Dense(2, name="out")])
    else:
        model = _Tower(name="tower")
        model(np.zeros((1, 4), "float32"))
    kernel = np.ones((4, 4), "float32") * np.arange(1, 5, dtype="float32")
    for name in ("a", "b"):
        model.get_layer(name).set_weights([kernel, np.zeros(4, "float32")])
    return model


def _update_quietly(pruned, sparsity, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Model 'tower' has no graph of layers")
        kerasprune.update_masks(pruned, sparsity, **kwargs)
    return {name: channels_kept(mask).tolist() for name, mask in first_masks(pruned).items()}


def test_a_subclassed_model_is_pruned_layer_by_layer_with_a_warning():
    pruned = kerasprune.prune(_tower("subclassed"), pattern=Channels("l1"), exclude=["out"])
    message = ("Model 'tower' has no graph of layers (it is subclassed): its channels are "
               "chosen layer by layer, not by coupled group, and shrink cannot rebuild it.")
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        kerasprune.update_masks(pruned, 0.5)
    masks = first_masks(pruned)
    assert channels_kept(masks["a"]).tolist() == channels_kept(masks["b"]).tolist() == [
        False, False, True, True]


@pytest.mark.parametrize("kind", ["functional", "subclassed"])
def test_channel_overrides_ramp_to_the_final_sparsity_with_or_without_a_graph(kind):
    pruned = kerasprune.prune(_tower(kind), pattern=Channels("l1"), exclude=["out"],
                              sparsity_overrides={"a": 0.5})
    kept = _update_quietly(pruned, 0.25, final_sparsity=0.5)
    # Halfway to the final target: a is halfway to its 0.5, b at the model's 0.25.
    assert kept["a"] == kept["b"] == [False, True, True, True]


@pytest.mark.parametrize("kind", ["functional", "subclassed"])
def test_taylor_and_apoz_score_channels_with_the_data_given_to_update_masks(kind):
    from kerasprune.core.criterion_data import ChannelActivity

    gradient = np.array([[1.0, 1.0, 1.0, 0.0]] * 4, "float32")  # Taylor: channel 3 is 0
    activity = ChannelActivity(zero_fraction=np.array([0.0, 0.0, 0.9, 0.0]),
                               mean=np.ones(4))  # APoZ: channel 2 is mostly zero
    for criterion, data, dropped in [("taylor", "gradients", 3), ("apoz", "activations", 2)]:
        pruned = kerasprune.prune(_tower(kind), pattern=Channels(criterion), exclude=["out"])
        paths = [w.pruned_weights[0].path for w in kerasprune.prune_wrappers(pruned)]
        given_data = {p: [gradient] if data == "gradients" else activity for p in paths}
        kept = _update_quietly(pruned, 0.25, **{data: given_data})
        expected = [channel != dropped for channel in range(4)]
        assert kept["a"] == kept["b"] == expected, criterion  # not L1's channel 0


@pytest.mark.parametrize("kwargs, error, message", [
    ({"criterion": "l3"}, ValueError, "`criterion` must be one of ('l1', 'l2', 'taylor', "
     "'random', 'apoz', 'mean_activation', 'taylor2', 'l0', 'fpgm', 'cosine', 'correlation', "
     "'entropy', 'lda'). Received: criterion='l3'"),
    ({"normalize": "max"}, ValueError,
     "`normalize` must be one of ('none', 'size', 'layer'). Received: normalize='max'"),
    ({"combine": "min"}, ValueError,
     "`combine` must be one of ('mean', 'sum', 'max'). Received: combine='min'"),
    ({"target": "bytes"}, ValueError,
     "`target` must be one of ('channels', 'flops', 'params', 'latency'). Received: target='bytes'"),
    ({"min_channels": -1}, ValueError,
     "`min_channels` must be an int >= 0. Received: min_channels=-1"),
    ({"min_channels": 1.0}, ValueError,
     "`min_channels` must be an int >= 0. Received: min_channels=1.0"),
    ({"max_fraction": 0}, ValueError,
     "`max_fraction` must be a number in (0, 1]. Received: max_fraction=0"),
    ({"max_fraction": 1.5}, ValueError,
     "`max_fraction` must be a number in (0, 1]. Received: max_fraction=1.5"),
    ({"max_fraction": "1"}, ValueError,
     "`max_fraction` must be a number in (0, 1]. Received: max_fraction='1'"),
    ({"groups": 1}, TypeError, "`groups` must be True or False. Received: groups=1"),
    ({"target": "flops", "groups": False}, ValueError,
     "`target='flops'` needs groups=True (the cost is the model's). "
     "Received: target='flops', groups=False"),
])
def test_channels_name_the_bad_argument_and_what_is_allowed(kwargs, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        Channels(**kwargs)


def test_channels_accept_the_edges_of_their_ranges():
    pattern = Channels(min_channels=0, max_fraction=1, target="params")
    assert (pattern.min_channels, pattern.max_fraction) == (0, 1.0)
    assert isinstance(pattern.max_fraction, float)
    assert Channels(max_fraction=0.5).max_fraction == 0.5


def test_channels_defaults_are_their_config():
    assert Channels().get_config() == {
        "criterion": "l1", "normalize": "size", "min_channels": 1, "max_fraction": 1.0,
        "groups": True, "combine": "mean", "target": "channels", "seed": 0}
    assert not Channels().needs_gradients and Channels("taylor").needs_gradients
    assert Channels("apoz").needs_activations and not Channels("l2").needs_activations
    assert Channels().selects_over_model and not Channels(groups=False).selects_over_model


def test_layer_normalization_divides_by_a_norm_below_one_too():
    kernel = np.array([[0.1, 0.2, 0.3]])  # L1 [0.1, 0.2, 0.3]: norm 0.374
    scores, _ = Channels("l1", normalize="layer", min_channels=0).group_scores(kernel)
    np.testing.assert_allclose(scores, [0.1, 0.2, 0.3] / np.linalg.norm([0.1, 0.2, 0.3]))
    zeros, _ = Channels("l1", normalize="layer", min_channels=0).group_scores(np.zeros((2, 3)))
    assert zeros.tolist() == [0.0, 0.0, 0.0]  # a zero norm leaves the scores as they are


def test_random_scores_follow_the_seed():
    weight = np.ones((4, 8))
    def scores(seed):
        return Channels("random", seed=seed, min_channels=0).group_scores(weight)[0]
    assert scores(1).tolist() == scores(1).tolist()
    assert scores(1).tolist() != scores(2).tolist()
    assert Channels("random", min_channels=0).group_scores(weight)[0].tolist() == scores(0).tolist()


def test_protect_keeps_the_highest_channels_first_of_equal_ones_and_never_zero_ones():
    scores = np.array([2.0, 1.0, 2.0, 2.0, 0.0], "float32")
    protected = Channels(min_channels=2).protect(scores)
    assert protected.dtype == np.float64
    assert protected.tolist() == [np.inf, 1.0, np.inf, 2.0, 0.0]  # ties: the first ones
    # max_fraction 0.5 keeps ceil(half) of the channels, but a zero score stays prunable.
    capped = Channels(min_channels=0, max_fraction=0.5).protect(scores)
    assert capped.tolist() == [np.inf, 1.0, np.inf, np.inf, 0.0]
    assert Channels(min_channels=0).protect(scores) is scores  # nothing to protect
    assert Channels(min_channels=9).protect(scores).tolist() == [np.inf] * 4 + [0.0]


def test_protect_breaks_ties_by_position_in_a_wide_layer_too():
    # Past 16 values NumPy's default sort is no longer stable: the tie order must not move.
    scores = np.tile([1.0, 3.0, 2.0, 3.0], 16)
    protected = Channels(min_channels=20, max_fraction=1.0).protect(scores)
    first_threes = np.flatnonzero(scores == 3)[:20]
    assert np.flatnonzero(np.isinf(protected)).tolist() == first_threes.tolist()


def attention_model(heads: int = 3, key_dim: int = 4, hidden: int = 16) -> keras.Model:
    inputs = keras.Input((5, hidden))
    attention = keras.layers.MultiHeadAttention(heads, key_dim, name="mha")
    return keras.Model(inputs, attention(inputs, inputs))


def test_nm_on_attention_kernels_runs_along_their_input_axis_and_wanda_reads_it():
    """2:4 is defined along the reduction axis: the hidden axis of the query, key and
    value kernels [hidden, heads, dim] (axis 0), head_dim of the output kernel
    [heads, dim, hidden]. There the input norms vary inside a run, so Wanda's 2:4 is not
    magnitude's."""
    model = attention_model()
    x = RNG.normal(size=(32, 5, 16)) * RNG.uniform(0.05, 20, size=16)  # unequal norms
    masks = {}
    for criterion in ("magnitude", "wanda"):
        pruned = kerasprune.one_shot_prune(model, 0.5, criterion=criterion, data=(x,),
                                           pattern=NM(2, 4))
        (wrapper,) = kerasprune.prune_wrappers(pruned)
        masks[criterion] = {name.split("/")[0]: np.asarray(mask)
                            for name, mask in zip(wrapper.weight_names, wrapper.masks)}
    for name in ("query", "key", "value"):
        for criterion, mask in ((c, m[name]) for c, m in masks.items()):
            assert mask.shape == (16, 3, 4)
            runs = mask.reshape(4, 4, 3, 4)  # 4 runs of 4 consecutive hidden entries
            assert np.all(runs.sum(axis=1) == 2), (criterion, name)
        assert not np.array_equal(masks["wanda"][name], masks["magnitude"][name]), name
    output = masks["wanda"]["attention_output"]  # [heads, dim, hidden]: runs along dim
    assert np.all(output.sum(axis=1) == 2)


def test_nm_and_blocks_refuse_an_attention_kernel_by_its_input_axis():
    # 3 heads of 4 would pass along the heads; the hidden axis (6) is what must divide.
    with pytest.raises(ValueError, match=r"input axis \(0\) is a multiple of 4"):
        kerasprune.prune(attention_model(heads=4, hidden=6), pattern=NM(2, 4))
    model = kerasprune.prune(attention_model(), pattern=kerasprune.Blocks((4, 1)))
    (wrapper,) = kerasprune.prune_wrappers(model)
    kerasprune.update_masks(model, 0.5)
    query = np.asarray(wrapper.masks[0]).reshape(4, 4, 3, 4)  # blocks of 4 hidden entries
    assert np.all(query.all(axis=1) | ~query.any(axis=1))
    assert 0 < query.mean() < 1


@pytest.mark.parametrize("activation, warned", [
    ("sigmoid", ["'sigmoid'", "arbitrary"]), ("tanh", ["'tanh'"]), ("relu", []),
    ("relu6", []), ("linear", []), ("gelu", ["'gelu'"]), ("swish", ["'silu'"]),
    ("leaky_relu", ["'leaky_relu'"]), ("elu", ["'elu'"]), ("selu", ["'selu'"]),
    ("softplus", ["'softplus'"]), ("mish", ["'mish'"]),
    (keras.layers.LeakyReLU(0.1), ["'LeakyReLU'"])])
def test_apoz_on_a_layer_not_ending_in_relu_is_named_in_a_warning(activation, warned):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation, name="a"),
                              keras.layers.Dense(4, name="c")])
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kerasprune.one_shot_prune(model, 0.5, pattern=Channels("apoz"), exclude=["c"],
                                  data=(x,))
    messages = [str(w.message) for w in caught]
    for words in warned:  # sigmoid outputs are never <= 0: every channel's APoZ ties
        assert any(words in m and "'a'" in m and "Channels('apoz')" in m for m in messages)
    assert bool(warned) == any("'a'" in m for m in messages), messages


@pytest.mark.parametrize("after, warned", [
    (keras.layers.Activation("swish"), "is followed by 'silu'"),
    (keras.layers.LeakyReLU(0.1), "is followed by 'LeakyReLU'"),
    (keras.layers.ReLU(), None), (keras.layers.Activation("relu"), None)])
def test_apoz_on_a_linear_layer_followed_by_another_nonlinearity_is_warned(after, warned):
    # a linear layer was taken as ReLU-followed: Conv -> BN -> swish (EfficientNet) was silent
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(8, 1, name="a"),
                              keras.layers.BatchNormalization(), after,
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, name="c")])
    x = np.random.default_rng(0).normal(size=(16, 4, 4, 3)).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kerasprune.one_shot_prune(model, 0.5, pattern=Channels("apoz"), exclude=["c"],
                                  data=(x,))
    messages = [str(w.message) for w in caught if "as a ReLU sees them" in str(w.message)]
    assert len(messages) == (warned is not None), messages
    assert warned is None or ("'a'" in messages[0] and warned in messages[0])
