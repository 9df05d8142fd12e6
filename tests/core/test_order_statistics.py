"""kth_smallest: the k-th alive score by streaming counts, checked against a sort."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kerasprune.core import order_statistics
from kerasprune.core.order_statistics import kth_smallest
from kerasprune.core.selection import select_pruned
from tests.core.test_selection import reference_selection


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Small chunks, samples and direct sizes, so short arrays take every branch."""
    monkeypatch.setattr(order_statistics, "_CHUNK", 7)
    monkeypatch.setattr(order_statistics, "_DIRECT", 3)
    monkeypatch.setattr(order_statistics, "_SAMPLE", 5)


values = st.one_of(st.sampled_from([0.0, 0.0, 1.0, 2.5, np.inf, -np.inf]),
                   st.floats(-10, 10, width=32))


@settings(max_examples=150, deadline=None,
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


def test_a_mass_of_ties_is_answered_without_partitioning_it(tiny_chunks):
    scores = np.zeros(1000, np.float32)
    scores[::10] = np.arange(1, 101)
    value, below = kth_smallest(scores, np.ones(1000, bool), 850)
    assert (value, below) == (0.0, 0)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scores=arrays(np.float32, st.integers(1, 80), elements=values.filter(lambda v: v > -np.inf)),
       data=st.data(), sparsity=st.floats(0.0, 1.0))
def test_selection_through_the_streaming_path_matches_the_reference(tiny_chunks, scores, data,
                                                                     sparsity):
    already = data.draw(arrays(bool, scores.size))
    sizes = np.ones(scores.size, np.int64)
    np.testing.assert_array_equal(select_pruned(np.abs(scores), 1, already, sparsity),
                                  reference_selection(np.abs(scores), sizes, already, sparsity))
