"""Mask patterns: grouping weights and expanding group decisions back."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasprune.core.patterns import Blocks, Unstructured, get
from tests.mutation_scope import examples


@settings(max_examples=examples(40), deadline=None)
@given(rows=st.integers(1, 11), cols=st.integers(1, 7), bh=st.integers(1, 5), bw=st.integers(1, 3))
def test_blocks_round_trip_and_sizes(rows, cols, bh, bw):
    weight = np.random.default_rng(0).normal(size=(rows, cols)).astype("float32")
    pattern = Blocks((bh, bw))
    scores, sizes = pattern.group_scores(weight)
    assert sizes.sum() == weight.size
    assert (scores * sizes).sum() == pytest.approx(np.abs(weight).sum(), rel=1e-5)
    keep = np.arange(scores.size) % 2 == 0
    mask = pattern.expand(keep, weight.shape)
    assert mask.shape == weight.shape
    # Each group's weights are kept or pruned together.
    kept_scores, _ = pattern.group_scores(mask)
    np.testing.assert_array_equal(kept_scores > 0, keep)


def test_edge_blocks_hold_the_rows_and_columns_left_over():
    # 5 x 3 in blocks of 4 x 2: a 4 x 2 block, a 4 x 1 edge, a 1 x 2 edge and a 1 x 1 corner.
    scores, sizes = Blocks((4, 2)).group_scores(np.ones((5, 3), "float32"))
    assert sorted(sizes.tolist()) == [1, 2, 4, 8]
    np.testing.assert_allclose(scores, 1.0)


def test_blocks_on_conv_kernel_cover_in_out_axes():
    weight = np.ones((3, 3, 8, 2), dtype="float32")
    scores, sizes = Blocks((4, 1)).group_scores(weight)
    assert scores.size == 3 * 3 * 2 * 2 and set(sizes) == {4}


def test_unstructured_and_get():
    assert isinstance(get(None), Unstructured)
    message = ("`pattern` must be a kerasprune.patterns.MaskPattern instance or None. "
               "Received: pattern=3 of type int")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        get(3)
    with pytest.raises(ValueError, match="`block_shape` must be"):
        Blocks((4, -1))
    with pytest.raises(ValueError, match="more axes"):
        Blocks((1, 1, 1)).group_scores(np.ones((2, 2)))


def test_unstructured_criterion_is_checked_and_snip_needs_gradients():
    with pytest.raises(ValueError, match="Received: criterion='grasp'"):
        Unstructured("grasp")
    assert Unstructured("snip").needs_gradients and not Unstructured().needs_gradients
    message = ("The 'snip' criterion needs the loss gradients of the weight (each of shape "
               "(2, 2)) on one or more batches. Pass `data=kerasprune.CriterionData(x, y)` "
               "to the pruning callback or one_shot_prune, or "
               "`**kerasprune.CriterionData(x, y).for_update(model)` to update_masks.")
    for gradients in (None, [np.ones((2, 3))]):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            Unstructured("snip").group_scores(np.ones((2, 2)), gradients)
    mask = np.array([[1.0, 0.0]])
    assert Unstructured("snip").pruned_groups(mask).tolist() == [False, True]


def test_blocks_max_pooling_scores_a_block_by_its_largest_magnitude():
    w = np.array([[0.1, 0.2], [-5.0, 0.3], [1.0, 1.0], [1.0, 1.0]], dtype="float32")
    mean_scores, _ = Blocks((2, 1)).group_scores(w)
    max_scores, _ = Blocks((2, 1), pooling="max").group_scores(w)
    assert max_scores.tolist() == pytest.approx([5.0, 0.3, 1.0, 1.0])
    assert mean_scores.tolist() == pytest.approx([2.55, 0.25, 1.0, 1.0])
    restored = Blocks.from_config(Blocks((2, 1), pooling="max").get_config())
    assert restored.pooling == "max" and restored.block_shape == (2, 1)
    with pytest.raises(ValueError, match="pooling"):
        Blocks((2, 1), pooling="avg")


def test_blocks_take_a_list_and_refuse_anything_but_positive_ints_in_full():
    import re

    assert Blocks([4, 1]).block_shape == (4, 1)
    assert Blocks(np.array([4, 1])).block_shape == (4, 1)  # a 1-d integer array, as a list
    for bad in (np.array([4.0, 1.0]), np.array([[4, 1]])):
        with pytest.raises(ValueError, match=r"^`block_shape` must be a non-empty tuple"):
            Blocks(bad)
    for bad in ((), 4, "41", (4, 0), (2.0, 1)):
        message = ("`block_shape` must be a non-empty tuple of positive ints, such as (4, 1). "
                   f"Received: block_shape={bad!r}")
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            Blocks(bad)


def test_masks_are_float32_of_the_weight_shape():
    for pattern, shape in ((Blocks((2, 2)), (5, 3)), (Unstructured(), (2, 3))):
        scores, _ = pattern.group_scores(np.ones(shape, "float32"))
        mask = pattern.expand(np.ones(scores.size, bool), shape)
        assert mask.dtype == np.float32 and mask.shape == shape and mask.min() == 1.0


def test_patterns_print_and_serialize_as_constructed():
    import keras

    assert repr(Unstructured()) == "Unstructured()" and repr(Blocks([4, 1])) == "Blocks((4, 1))"
    for pattern in (Unstructured(), Blocks((2, 3))):
        config = keras.saving.serialize_keras_object(pattern)
        restored = keras.saving.deserialize_keras_object(config)
        assert type(restored) is type(pattern) and restored.get_config() == pattern.get_config()
    assert Blocks((2, 3)).get_config() == {"block_shape": [2, 3], "pooling": "mean"}


def test_group_ids_number_the_groups_a_penalty_acts_on():
    from kerasprune.core.patterns import MaskPattern

    assert Unstructured().group_ids((2, 3)).tolist() == [[0, 1, 2], [3, 4, 5]]
    # 2x2 blocks over a 3x5 kernel: a 2x3 grid of blocks, the edge blocks cut.
    assert Blocks((2, 2)).group_ids((3, 5)).tolist() == [
        [0, 0, 1, 1, 2], [0, 0, 1, 1, 2], [3, 3, 4, 4, 5]]
    # A block of fewer axes covers the last ones.
    assert Blocks((2,)).group_ids((2, 3)).tolist() == [[0, 0, 1], [2, 2, 3]]
    assert Blocks((2,)).group_ids((1, 2, 3)).tolist() == [[[0, 0, 1], [2, 2, 3]]]

    class Bare(MaskPattern):
        pass

    with pytest.raises(NotImplementedError, match=r"^Bare does not define group_ids\.$"):
        Bare().group_ids((2, 2))


def test_a_group_is_pruned_when_its_mask_scores_zero():
    mask = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0]])
    assert Blocks((2, 1)).pruned_groups(mask).tolist() == [False, True, False]
    assert Unstructured().pruned_groups(mask).tolist() == [False, True, True, False, True, False]


def test_block_sizes_are_ints_and_max_pooling_prints():
    _, sizes = Blocks((2, 2)).group_scores(np.ones((3, 3), "float32"))
    assert sizes.dtype == np.int64 and sizes.tolist() == [4, 2, 2, 1]
    assert repr(Blocks((2, 1), pooling="max")) == "Blocks((2, 1), pooling='max')"
