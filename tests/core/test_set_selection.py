"""Selection over tensors kept apart (a global-scope set) against a joined reference.

The set's scores are never joined into one vector; these tests join them, select with
the sort-based reference of `test_selection`, and compare, including the per-tensor
floor (`min_density`) and ties across tensors.
"""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kerasprune.core.order_statistics import kth_smallest_of_parts
from kerasprune.core.selection import select_pruned_parts, select_with_floors
from tests.core.test_order_statistics import tiny_chunks, values  # noqa: F401 (a fixture)
from tests.core.test_selection import reference_selection
from tests.mutation_scope import examples

def with_fixture(max_examples):
    """Settings for a property test taking `tiny_chunks` (it only sets constants)."""
    return settings(max_examples=examples(max_examples), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@with_fixture(150)
@given(parts=st.lists(arrays(np.float32, st.integers(0, 30), elements=values),
                      min_size=1, max_size=5),
       data=st.data())
def test_kth_over_parts_matches_a_sort_of_their_concatenation(tiny_chunks, parts, data):
    alive = [data.draw(st.one_of(st.none(), arrays(bool, p.size))) for p in parts]
    joined = np.concatenate([p if a is None else p[a] for p, a in zip(parts, alive)])
    assume(joined.size > 0)
    k = data.draw(st.integers(1, joined.size))
    value, below = kth_smallest_of_parts(list(zip(parts, alive)), k)
    ordered = np.sort(joined)
    assert value == ordered[k - 1]
    assert below == int(np.count_nonzero(ordered < value))


def reference_top(scores, sizes, alive, floor):
    """Positions of the highest alive groups holding `floor` weights. Equal sizes keep
    the later of tied groups; unequal sizes the earlier (and enough groups to reach it)."""
    positions = np.flatnonzero(alive)
    if positions.size == 0 or floor <= 0:
        return positions
    if np.all(sizes == sizes[0]):
        keep = min(positions.size, -(-floor // int(sizes[0])))
        ranked = sorted(positions, key=lambda i: (scores[i], i), reverse=True)
        return np.array(ranked[:keep], dtype=np.int64)
    ranked = sorted(positions, key=lambda i: (-scores[i], i))
    held = np.cumsum(sizes[ranked])
    return np.array(ranked[: int(np.count_nonzero(held < floor)) + 1], dtype=np.int64)


def reference_floored(scores, sizes, already, sparsity, floors):
    """Select over the joined set; a tensor left below its floor has its top groups
    scored +inf and the whole set is selected again, until no other tensor falls short."""
    joined = np.concatenate(scores).astype(np.float64)  # float32 values stay exact
    sizes, already = np.concatenate(sizes), np.concatenate(already)
    bounds = np.cumsum([0] + [s.size for s in scores])
    protected = np.zeros(len(scores), dtype=bool)
    while True:
        pruned = reference_selection(joined, sizes, already, sparsity)
        kept = np.array([sizes[a:b][~pruned[a:b]].sum() for a, b in zip(bounds, bounds[1:])])
        short = ~protected & (kept < floors)
        if not short.any():
            return pruned
        for t in np.flatnonzero(short):
            a, b = bounds[t], bounds[t + 1]
            joined[a + reference_top(joined[a:b], sizes[a:b], ~already[a:b], floors[t])] = np.inf
        protected |= short


tied_scores = st.sampled_from([0.0, 0.25, 1.0, 1.0, 2.0, 3.5, np.inf])


@st.composite
def tensor_sets(draw):
    """Per tensor: scores (many ties, a few +inf), group sizes given as the selection
    takes them (one int, a stride-0 view, or one per group), and already-pruned groups."""
    counts = draw(st.lists(st.integers(1, 40), min_size=1, max_size=5))
    layout = draw(st.sampled_from(["ones", "common", "per tensor", "per group"]))
    common = draw(st.integers(1, 4))
    scores, sizes, given_sizes, already = [], [], [], []
    for n in counts:
        scores.append(draw(arrays(np.float32, n, elements=tied_scores)))
        already.append(draw(arrays(bool, n)) if draw(st.booleans()) else np.zeros(n, bool))
        if layout == "ones":
            given = np.broadcast_to(np.int64(1), (n,))
        elif layout == "common":
            given = common
        elif layout == "per tensor":
            given = draw(st.integers(1, 4))
        else:
            given = draw(arrays(np.int64, n, elements=st.integers(1, 5)))
        given_sizes.append(given)
        sizes.append(np.broadcast_to(np.asarray(given, np.int64), (n,)))
    return scores, sizes, given_sizes, already


@settings(max_examples=examples(300), deadline=None)
@given(tensors=tensor_sets(), sparsity=st.floats(0.0, 1.0), data=st.data())
def test_set_selection_with_floors_matches_the_joined_reference(tensors, sparsity, data):
    scores, sizes, given_sizes, already = tensors
    floors = np.array([data.draw(st.integers(0, int(s.sum())), label="floor") for s in sizes])
    pruned = select_with_floors(scores, given_sizes, already, sparsity, floors)
    expected = reference_floored(scores, sizes, already, sparsity, floors)
    np.testing.assert_array_equal(np.concatenate(pruned), expected)
    assert [p.size for p in pruned] == [s.size for s in scores]


@with_fixture(150)
@given(tensors=tensor_sets(), sparsity=st.floats(0.0, 1.0), data=st.data())
def test_streaming_set_selection_matches_the_joined_reference(tiny_chunks, tensors, sparsity,
                                                              data):
    scores, sizes, given_sizes, already = tensors
    floors = np.array([data.draw(st.integers(0, int(s.sum())), label="floor") for s in sizes])
    pruned = select_with_floors(scores, given_sizes, already, sparsity, floors)
    expected = reference_floored(scores, sizes, already, sparsity, floors)
    np.testing.assert_array_equal(np.concatenate(pruned), expected)
    plain = select_pruned_parts(scores, given_sizes, already, sparsity)
    np.testing.assert_array_equal(
        np.concatenate(plain),
        reference_selection(np.concatenate(scores), np.concatenate(sizes),
                            np.concatenate(already), sparsity))


def test_ties_across_tensors_go_to_the_earlier_tensor():
    scores = [np.ones(3, np.float32), np.ones(3, np.float32)]
    pruned = select_pruned_parts(scores, [1, 1], [None, None], 4 / 6)
    assert [p.tolist() for p in pruned] == [[True, True, True], [True, False, False]]


def test_a_floor_moves_the_pruning_to_the_other_tensors():
    small = np.array([0.1, 0.2, 0.3, 0.4], np.float32)  # the lowest of the set
    large = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0], np.float32)
    pruned = select_with_floors([small, large], [1, 1], [np.zeros(4, bool), np.zeros(6, bool)],
                                0.5, np.array([2, 0]))
    # 5 of 10 pruned; `small` keeps its two highest, so `large` gives its three lowest.
    assert [p.tolist() for p in pruned] == [[True, True, False, False],
                                            [True, True, True, False, False, False]]


def test_unequal_groups_prune_one_weight_when_one_is_asked():
    # 4 weights at 25%: the lowest group holds exactly the one weight to prune.
    (pruned,) = select_pruned_parts([np.array([0.1, 0.5])], [np.array([1, 3])], [None], 0.25)
    assert pruned.tolist() == [True, False]


def test_groups_already_pruned_may_be_given_as_a_float_mask():
    scores = [np.array([0.5, 0.1, 0.9, 0.2], np.float32), np.array([0.3, 0.4], np.float32)]
    as_bool = [np.array([False, True, False, False]), np.array([False, False])]
    as_float = [a.astype(np.float32) for a in as_bool]
    expected = select_pruned_parts(scores, [1, 1], as_bool, 0.5)
    assert [p.tolist() for p in expected] == [[False, True, False, True], [True, False]]
    got = select_pruned_parts(scores, [1, 1], as_float, 0.5)
    assert [p.tolist() for p in got] == [p.tolist() for p in expected]


def test_a_set_mostly_pruned_selects_among_its_alive_groups_like_the_reference():
    # More than 3/4 pruned: the search runs over the alive groups only, which must
    # include every group of a part with nothing pruned yet.
    rng = np.random.default_rng(3)
    scores = [rng.integers(0, 4, n).astype(np.float32) for n in (12, 300, 9)]
    scores[0][[2, 5]] = scores[2][4] = np.inf  # never pruned, in this branch too
    already = [None, rng.random(300) < 0.97, np.zeros(9, bool)]
    joined_already = np.concatenate([np.zeros(12, bool), already[1], already[2]])
    assert joined_already.mean() > 0.75
    for sparsity in (0.95, 0.97, 1.0):
        pruned = select_pruned_parts(scores, [1, 1, 1], already, sparsity)
        expected = reference_selection(np.concatenate(scores), np.ones(321, np.int64),
                                       joined_already, sparsity)
        np.testing.assert_array_equal(np.concatenate(pruned), expected)
        assert np.concatenate(pruned).sum() == min(round(sparsity * 321), 321 - 3)


def test_a_floor_protects_the_highest_alive_groups_not_the_pruned_ones():
    # 6 of 8 pruned: `small`'s two pruned groups score lowest, so its floor protects its
    # highest alive group, and `large` gives three.
    small = np.array([0.5, 0.6, 1.0, 2.0], np.float32)
    large = np.array([5.0, 6.0, 7.0, 8.0], np.float32)
    already = [np.array([True, True, False, False]), np.zeros(4, bool)]
    pruned = select_with_floors([small, large], [1, 1], already, 0.75, np.array([1, 0]))
    assert [p.tolist() for p in pruned] == [[True, True, True, False],
                                            [True, True, True, False]]


def test_a_floor_over_many_tied_blocks_of_unequal_size_keeps_the_earliest():
    # Many ties among a few values: NumPy's default sort would reorder them.
    scores = [np.random.default_rng(0).integers(0, 3, 40).astype(np.float32),
              np.full(10, 5.0, np.float32)]
    sizes = [np.tile(np.array([1, 2, 3, 4]), 10), np.ones(10, np.int64)]
    already = [np.zeros(40, bool), np.zeros(10, bool)]
    pruned = select_with_floors(scores, sizes, already, 0.9, np.array([20, 0]))
    expected = reference_floored(scores, sizes, already, 0.9, np.array([20, 0]))
    np.testing.assert_array_equal(np.concatenate(pruned), expected)


def test_parts_without_groups_select_nothing():
    pruned = select_pruned_parts([np.zeros(0), np.zeros(0)], [1, 4], [None, None], 0.5)
    assert [p.dtype for p in pruned] == [bool, bool] and [p.size for p in pruned] == [0, 0]
