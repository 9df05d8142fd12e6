"""kth_smallest: the k-th alive score by streaming counts, checked against a sort."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kerasprune.core import order_statistics
from kerasprune.core.order_statistics import kth_smallest, kth_smallest_of_parts
from kerasprune.core.selection import select_pruned
from tests.core.test_selection import reference_selection
from tests.mutation_scope import examples


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Small chunks, samples and direct sizes, so short arrays take every branch."""
    monkeypatch.setattr(order_statistics, "_CHUNK", 7)
    monkeypatch.setattr(order_statistics, "_DIRECT", 3)
    monkeypatch.setattr(order_statistics, "_SAMPLE", 5)


@pytest.fixture
def passes(monkeypatch):
    """What a search costs: its counting passes over the scores, and the candidates its
    final copy-and-partition takes (one entry per call of each)."""
    seen = {"counts": 0, "copied": []}
    count, partition = order_statistics._counts, order_statistics._partition_inside

    def counting(parts, lo, hi, tests):
        seen["counts"] += 1
        return count(parts, lo, hi, tests)

    def copying(parts, lo, hi, rank, below_lo):
        (inside,) = count(parts, lo, hi, [(np.inf, np.less_equal)])
        seen["copied"].append(inside)
        return partition(parts, lo, hi, rank, below_lo)

    monkeypatch.setattr(order_statistics, "_counts", counting)
    monkeypatch.setattr(order_statistics, "_partition_inside", copying)
    return seen


values = st.one_of(st.sampled_from([0.0, 0.0, 1.0, 2.5, np.inf, -np.inf]),
                   st.floats(-10, 10, width=32))


@settings(max_examples=examples(150), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # constants only
@given(scores=arrays(np.float32, st.integers(1, 120), elements=values), data=st.data())
def test_kth_smallest_matches_a_sort_on_every_branch(tiny_chunks, scores, data):
    alive = data.draw(arrays(bool, scores.size))
    if not alive.any():
        alive[0] = True
    k = data.draw(st.integers(1, int(alive.sum())))
    value, below = kth_smallest(scores, alive, k)
    ordered = np.sort(scores[alive])
    assert value == ordered[k - 1]
    assert below == int(np.count_nonzero(ordered < value))


def test_a_mass_of_ties_is_answered_without_partitioning_it(tiny_chunks, passes):
    scores = np.zeros(1000, np.float32)
    scores[::10] = np.arange(1, 101)
    value, below = kth_smallest(scores, np.ones(1000, bool), 850)
    assert (value, below) == (0.0, 0)
    assert passes["copied"] == []



@pytest.mark.parametrize("seed", range(3))
def test_every_rank_of_a_vector_with_ties_and_dead_entries_matches_a_sort(tiny_chunks, seed):
    # Deterministic companion of the property above: every rank takes its own path
    # through the narrowing (the highest ones above the upper pivot, the lowest below).
    rng = np.random.default_rng(seed)
    scores = rng.choice([0.0, 0.0, 1.0, 2.5, np.inf, -np.inf, *rng.normal(size=10)], 150)
    scores = scores.astype(np.float32)
    alive = rng.random(150) < 0.8
    ordered = np.sort(scores[alive])
    for k in range(1, ordered.size + 1):
        value, below = kth_smallest(scores, alive, k)
        assert value == ordered[k - 1]
        assert below == int(np.count_nonzero(ordered < value))

@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scores=arrays(np.float32, st.integers(1, 80), elements=values.filter(lambda v: v > -np.inf)),
       data=st.data(), sparsity=st.floats(0.0, 1.0))
def test_selection_through_the_streaming_path_matches_the_reference(tiny_chunks, scores, data,
                                                                     sparsity):
    already = data.draw(arrays(bool, scores.size))
    sizes = np.ones(scores.size, np.int64)
    np.testing.assert_array_equal(select_pruned(np.abs(scores), 1, already, sparsity),
                                  reference_selection(np.abs(scores), sizes, already, sparsity))


@pytest.mark.parametrize("k", [1_000, 1_000_000, 1_999_000])
def test_two_million_scores_take_one_counting_pass_and_copy_about_two_percent(passes, k):
    # The module's promise: pivots 3/sqrt(65,536) of the rank apart around the target
    # leave ~2.4% of the entries after one pass (more when some are dead: the sample
    # holds fewer of them); those alone are copied.
    scores = np.random.default_rng(k).random(2_000_000, dtype=np.float32)
    tracemalloc.start()
    value, below = kth_smallest(scores, None, k)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.4 * scores.nbytes  # chunk-sized masks and the sample, never a copy
    assert value == np.partition(scores, k - 1)[k - 1]
    assert below == int(np.count_nonzero(scores < value))
    assert passes["counts"] == 1
    (copied,) = passes["copied"]
    assert copied <= 0.027 * scores.size


def test_parts_with_dead_entries_are_searched_like_one_vector(passes):
    rng = np.random.default_rng(1)
    scores = [rng.random(n, dtype=np.float32) for n in (700_000, 1_000, 1_500_000)]
    alive = [None, rng.random(1_000) < 0.5, rng.random(1_500_000) < 0.9]
    joined = np.concatenate([s if a is None else s[a] for s, a in zip(scores, alive)])
    k = joined.size // 3
    value, below = kth_smallest_of_parts(list(zip(scores, alive)), k)
    assert kth_smallest_of_parts(list(zip(scores, alive)), k) == (value, below)
    assert passes["copied"][0] == passes["copied"][1]  # the same path: a fixed seed
    assert value == np.partition(joined, k - 1)[k - 1]
    assert below == int(np.count_nonzero(joined < value))
    assert passes["counts"] == 2  # one per search
    assert passes["copied"][0] <= 0.027 * joined.size


def test_a_mass_of_ties_ends_the_search_in_one_pass_without_a_copy(passes):
    scores = np.zeros(2_000_000, np.float32)
    scores[::10] = np.arange(1, 200_001)
    value, below = kth_smallest(scores, None, 1_500_000)
    assert (value, below) == (0.0, 0)
    assert (passes["counts"], passes["copied"]) == (1, [])


@pytest.mark.parametrize("k", [1, 2, 7, 12_345, 99_999, 100_000])
def test_a_direct_partition_of_many_candidates_matches_a_sort(k):
    # Large enough that NumPy's introselect does not just sort them.
    scores = np.random.default_rng(k).normal(size=100_000).astype(np.float32)
    alive = np.random.default_rng(0).random(scores.size) < 0.99
    alive[: k + 1] = True
    value, below = kth_smallest(scores, alive, min(k, int(alive.sum())))
    ordered = np.sort(scores[alive])
    assert value == ordered[min(k, ordered.size) - 1]
    assert below == int(np.count_nonzero(ordered < value))
