"""Mask patterns: grouping weights and expanding group decisions back."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasprune.core.patterns import Blocks, Unstructured, get


@settings(max_examples=40, deadline=None)
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


def test_blocks_on_conv_kernel_cover_in_out_axes():
    weight = np.ones((3, 3, 8, 2), dtype="float32")
    scores, sizes = Blocks((4, 1)).group_scores(weight)
    assert scores.size == 3 * 3 * 2 * 2 and set(sizes) == {4}


def test_unstructured_and_get():
    assert isinstance(get(None), Unstructured)
    with pytest.raises(TypeError, match="`pattern` must be"):
        get(3)
    with pytest.raises(ValueError, match="`block_shape` must be"):
        Blocks((4, -1))
    with pytest.raises(ValueError, match="more axes"):
        Blocks((1, 1, 1)).group_scores(np.ones((2, 2)))


def test_unstructured_criterion_is_checked_and_snip_needs_gradients():
    with pytest.raises(ValueError, match="Received: criterion='grasp'"):
        Unstructured("grasp")
    assert Unstructured("snip").needs_gradients and not Unstructured().needs_gradients
    with pytest.raises(ValueError, match="loss gradients"):
        Unstructured("snip").group_scores(np.ones((2, 2)))
    mask = np.array([[1.0, 0.0]])
    assert Unstructured("snip").pruned_groups(mask).tolist() == [False, True]
