"""Latency as a cost of channel decisions: a per-layer table, interpolated (NetAdapt, HALP).

A model's latency on a CPU is not its multiply-accumulates: a 1x1 convolution, a depthwise
one and a Dense layer of the same MACs take different times, and small channel counts
waste vector lanes. NetAdapt (Yang et al. 2018) and HALP (Shen et al. 2022) predict it
from a table measured once on the target device: the latency of each layer, alone, as a
function of the channels it keeps, summed over the layers.

`LatencyCost` asks a table (any callable `requests -> microseconds`; the measured one is
`tflite_export.latency_table.LatencyTable`, LiteRT's interpreter on this machine) for each
timed layer of a model on a grid of its kept channel counts (`timed_channels` and
`timed_layer` of its `LayerRule`: inputs x outputs for a convolution or a Dense layer, the
channels of a depthwise one), between the fewest its channel groups can leave and all of
them, and interpolates linearly in between. `cost(decision)` is the predicted latency of a
decision; `savings(units)` each unit's latency saved per group removed, which the
selection uses to rank groups by importance per microsecond (HALP's knapsack, greedily).
Layers without a timing rule (additions, pooling, normalization the converter folds) are
left out of the sum.

A sum of layers timed alone misses what they do to each other (a smaller activation stays
in cache for the next op): on a 2-core x86 server, MobileNetV2 pruned to a predicted half
of its latency ran at 0.42 of it. So when the table can also time whole models (a
`model_ratio` method, as `LatencyTable` has), `Calibration` measures the model's own
shrunk candidates against its dense self and maps the latency asked for to the predicted
one that really gives it (linear between the measured points); the points are kept with
the table, per model and ranking, so each is measured once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from kerasprune.structured.channel_analysis import Decision

#: Grid points per channel axis, beyond the fewest kept: 0, 1/4, ..., all of the range.
GRID_STEPS = 4
#: A measured latency ratio this close to the one asked for settles the calibration.
TOLERANCE = 0.02
#: Candidates measured at most per selection.
MEASUREMENTS = 4


@dataclass(frozen=True)
class LatencyRequest:
    """One layer to time alone: its serialized Keras form and its input shape (no batch)."""

    layer: dict
    input_shape: tuple[int, ...]


@dataclass
class _TimedCall:
    call: object
    grids: list[np.ndarray]
    values: np.ndarray  # microseconds on the grid, one axis per channel count

    def latency(self, counts: tuple[int, ...]) -> float:
        return interpolate(self.grids, self.values, counts)


class LatencyCost:
    """The predicted latency (microseconds) of a model's channel decisions.

    Args:
        groups: the model's `ChannelGroups`.
        table: a callable taking a list of `LatencyRequest`s and returning their
            latencies in microseconds (one per request).

    Example:

    >>> import keras
    >>> from kerasprune.structured.channel_groups import ChannelGroups
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
    ...                           keras.layers.Dense(2)])
    >>> def macs_as_microseconds(requests):
    ...     return [r.input_shape[-1] * r.layer["config"]["units"] / 10 for r in requests]
    >>> cost = LatencyCost(ChannelGroups(model), macs_as_microseconds)
    >>> round(cost.dense, 3), round(cost(np.arange(8) < 4), 3)
    (4.8, 2.4)
    """

    def __init__(self, groups, table):
        self.groups = groups
        analysis = groups.analysis
        whole = Decision(analysis, groups.removal(np.zeros(groups.count, dtype=bool)))
        least = Decision(analysis, groups.removal(np.ones(groups.count, dtype=bool)))
        timed, requests = [], []
        for call in analysis.calls.values():
            rule = call.rule
            counts = None if rule is None else rule.timed_channels(
                whole, call.layer, call.inputs, call.output)
            if counts is None:
                continue
            fewest = rule.timed_channels(least, call.layer, call.inputs, call.output)
            grids = [grid(low, high) for low, high in zip(fewest, counts)]
            points = list(np.ndindex(*[g.size for g in grids]))
            for point in points:
                chosen = tuple(int(g[i]) for g, i in zip(grids, point))
                requests.append(LatencyRequest(*rule.timed_layer(call.layer, call.inputs,
                                                                 chosen)))
            timed.append((call, grids, len(points)))
        values = np.asarray(table(requests) if requests else [], dtype=np.float64)
        if values.shape != (len(requests),) or not np.all(np.isfinite(values) & (values >= 0)):
            raise ValueError(
                f"The latency table must return one finite number >= 0 of microseconds per "
                f"request: {len(requests)} requested. Received: {values!r}")
        self._timed, start = [], 0
        for call, grids, size in timed:
            self._timed.append(_TimedCall(call, grids, values[start:start + size].reshape(
                [g.size for g in grids])))
            start += size
        self.dense = self(np.zeros(groups.count, dtype=bool))

    def __call__(self, pruned: np.ndarray) -> float:
        """Predicted latency with the groups `pruned` (a boolean vector) removed."""
        return self.cost(Decision(self.groups.analysis, self.groups.removal(pruned)))

    def cost(self, decision: Decision) -> float:
        """Predicted latency of a decision: the sum of its timed layers'."""
        return float(sum(
            t.latency(t.call.rule.timed_channels(decision, t.call.layer, t.call.inputs,
                                                 t.call.output))
            for t in self._timed))

    def savings(self, index_sets: list[np.ndarray], pruned: np.ndarray) -> np.ndarray:
        """Microseconds saved per group when a tenth of each set's groups (`index_sets`,
        group numbers of each unit) is removed on top of `pruned`: each unit's price."""
        base = self(pruned)
        saved = np.zeros(len(index_sets))
        for i, index in enumerate(index_sets):
            alive = index[~pruned[index]]
            if not alive.size:
                continue
            step = alive[: max(1, alive.size // 10)]
            trial = pruned.copy()
            trial[step] = True
            saved[i] = (base - self(trial)) / step.size
        return saved


def grid(low: int, high: int, steps: int = GRID_STEPS) -> np.ndarray:
    """Channel counts from `low` to `high` at which a layer is timed.

    Example:

    >>> grid(8, 64).tolist(), grid(3, 3).tolist()
    ([8, 22, 36, 50, 64], [3])
    """
    low, high = max(1, int(low)), max(1, int(high))
    return np.unique(np.round(np.linspace(low, high, steps + 1)).astype(np.int64))


def interpolate(grids: list[np.ndarray], values: np.ndarray, point) -> float:
    """Multilinear interpolation of `values` (on `grids`) at `point`, clamped to the grid.

    Example:

    >>> interpolate([np.array([1, 3])], np.array([10.0, 30.0]), (2,))
    20.0
    >>> interpolate([np.array([0, 2]), np.array([0, 2])],
    ...             np.array([[0.0, 2.0], [2.0, 4.0]]), (1, 1))
    2.0
    """
    values = np.asarray(values, dtype=np.float64)
    for axis in reversed(range(len(grids))):
        g, x = grids[axis], float(point[axis])
        values = np.apply_along_axis(lambda v: np.interp(x, g, v), axis, values) \
            if values.ndim > 1 else np.interp(x, g, values)
    return float(values)


class Calibration:
    """Measured latency ratios of a model's shrunk candidates, against the predicted ones.

    Args:
        key: what the points are kept under (`fingerprint(model)` and the ranking).
        cost: the model's `LatencyCost`.
        table: the latency table; it measures (and keeps points) when it has
            `model_ratio(reference, candidate)`, `calibration(key)` and
            `add_calibration(key, predicted, measured)`.

    Example:

    >>> calibration = Calibration("m", None, lambda requests: [])
    >>> calibration.predicted_goal(0.5), calibration.measures
    (0.5, False)
    """

    def __init__(self, key: str, cost: LatencyCost | None, table):
        self.key, self.cost, self.table = key, cost, table
        self.measures = all(hasattr(table, name) for name in
                            ("model_ratio", "calibration", "add_calibration"))
        self.points = [tuple(p) for p in table.calibration(key)] if self.measures else []

    def predicted_goal(self, ratio: float) -> float:
        """The predicted latency ratio that measured ratios place at `ratio` (linear
        between the measured points, through (0, 0) and (1, 1))."""
        points = sorted({(0.0, 0.0), (1.0, 1.0), *self.points})
        predicted = np.array([p for p, _ in points])
        measured = np.maximum.accumulate(np.array([m for _, m in points]))
        return float(np.interp(ratio, measured, predicted))

    def settled(self, ratio: float, predicted: float) -> bool:
        """True without measurements, or when a measured point is at `ratio` already or
        was measured for this very prediction."""
        return not self.measures or any(
            abs(m - ratio) <= TOLERANCE or abs(p - predicted) <= 1e-3 for p, m in self.points)

    def shortfall(self, ratio: float, predicted: float) -> float:
        """How far the candidate of this prediction is from meeting `ratio`: 0 when met
        (measured within `TOLERANCE`, settled by a point at `ratio`, or a table that cannot
        measure), 1 when it was not measured (the measurements ran out), `1 + excess`
        when it was measured above `ratio`.

        Example:

        >>> class Points:
        ...     def calibration(self, key): return [(0.4, 0.55), (0.3, 0.49)]
        ...     def add_calibration(self, key, predicted, measured): pass
        ...     def model_ratio(self, reference, candidate): return 0.5
        >>> calibration = Calibration("m", None, Points())
        >>> [round(calibration.shortfall(0.5, p), 3) for p in (0.4, 0.3, 0.2)]
        [1.05, 0.0, 0.0]
        >>> round(Calibration("m", None, Points()).shortfall(0.4, 0.2), 3)
        1.0
        """
        measured = [m for p, m in self.points if abs(p - predicted) <= 1e-3]
        if measured:
            return 0.0 if measured[-1] <= ratio + TOLERANCE else 1.0 + measured[-1] - ratio
        return 0.0 if self.settled(ratio, predicted) else 1.0

    def measure(self, predicted: float, reference, candidate) -> float:
        """Time `candidate` against `reference` (both Keras models) and keep the point."""
        measured = float(self.table.model_ratio(reference, candidate))
        self.points.append((predicted, measured))
        self.table.add_calibration(self.key, predicted, measured)
        return measured


def fingerprint(model) -> str:
    """A key for a model's calibration points: a hash of its architecture (JSON)."""
    return hashlib.sha1(model.to_json().encode()).hexdigest()[:16]


def calibrated_selection(choose: Callable[[float], np.ndarray], cost: LatencyCost,
                         calibration: Calibration, ratio: float,
                         shrunk: Callable[[np.ndarray], tuple]) -> np.ndarray:
    """The groups to remove (boolean per group) for a measured latency ratio `ratio`.

    `choose(predicted_ratio)` selects groups for a predicted ratio (by the table);
    `shrunk(by_group)` builds `(dense model, shrunk candidate)` to measure. Measures at
    most `MEASUREMENTS` candidates, each only when no point answers already.
    """
    chosen = choose(calibration.predicted_goal(ratio))
    for _ in range(MEASUREMENTS):
        predicted = cost(chosen) / cost.dense
        if calibration.settled(ratio, predicted):
            break
        measured = calibration.measure(predicted, *shrunk(chosen))
        if abs(measured - ratio) <= TOLERANCE:
            break
        chosen = choose(calibration.predicted_goal(ratio))
    return chosen
