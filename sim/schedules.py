"""The failure schedules of one replication, drawn in the world before any design runs.

Each schedule comes from its own named stream (`sim.randomness`), so a scenario that
leaves these keys at their defaults draws nothing new and gets the same numbers as before,
and turning one mode on never reshuffles another. Intervals are `(start, end)` pairs,
sorted, with overlaps merged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from sim.randomness import Streams

Intervals = tuple[tuple[float, float], ...]


def merge_intervals(intervals: Iterable[tuple[float, float]]) -> Intervals:
    """Sorted, with intervals that overlap or touch merged into one."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def random_outages(
    rng: np.random.Generator, mtbf: float, mttr: float, horizon: float
) -> list[tuple[float, float]]:
    """Alternating exponential up times (mean mtbf) and repair times (mean mttr)."""
    intervals: list[tuple[float, float]] = []
    now = 0.0
    batch = int(horizon / (mtbf + mttr) * 1.5) + 8
    while True:
        # Standard exponentials drawn in (up, down) pairs and then scaled, so the batch
        # size and the means do not change which numbers a crash gets.
        pairs = rng.standard_exponential((batch, 2))
        for up, down in (pairs * (mtbf, mttr)).tolist():
            start = now + up
            if start >= horizon:
                return intervals
            now = start + down
            intervals.append((start, now))


def outages(spec, rng: np.random.Generator | None, horizon: float) -> Intervals:
    """Scripted outages (`at`, `down_for`) and random ones (`mtbf`, `mttr`) of one
    `OutagesSpec`; `rng` is drawn from only when the outages are random."""
    intervals = [(s.at, s.at + s.down_for) for s in spec.scripted]
    if spec.mtbf is not None and spec.mttr is not None and rng is not None:
        intervals += random_outages(rng, spec.mtbf, spec.mttr, horizon)
    return merge_intervals(intervals)


def group_outages(groups: Sequence, streams: Streams, horizon: float, count: int) -> list[list]:
    """Per store, the outages of the groups it belongs to (a group goes down together)."""
    per_store: list[list[tuple[float, float]]] = [[] for _ in range(count)]
    for index, group in enumerate(groups):
        rng = streams.get("group_outages", index) if group.random else None
        for interval in outages(group, rng, horizon):
            for store in set(group.stores):
                per_store[store].append(interval)
    return per_store


def spells(spec, store: int, rng: np.random.Generator, horizon: float) -> Intervals:
    """One store's partitions: scripted (`at`, `for`) and random (`mtbf`, `mttr`)."""
    intervals = [(s.at, s.at + s.for_) for s in spec.scripted if s.store == store]
    if spec.mtbf is not None and spec.mttr is not None:
        intervals += random_outages(rng, spec.mtbf, spec.mttr, horizon)
    return merge_intervals(intervals)


def slowdowns(
    spec, store: int, rng: np.random.Generator, horizon: float
) -> tuple[tuple[float, float, float], ...]:
    """One store's slowdowns as (start, end, factor); overlapping ones merge into one
    with the larger factor."""
    items = [
        (s.at, s.at + s.for_, s.factor if s.factor is not None else spec.factor)
        for s in spec.scripted
        if s.store == store
    ]
    if spec.mtbf is not None and spec.mttr is not None:
        items += [
            (a, b, spec.factor) for a, b in random_outages(rng, spec.mtbf, spec.mttr, horizon)
        ]
    merged: list[tuple[float, float, float]] = []
    for start, end, factor in sorted(items):
        if merged and start < merged[-1][1]:
            first, last, other = merged[-1]
            merged[-1] = (first, max(last, end), max(other, factor))
        else:
            merged.append((start, end, factor))
    return tuple(merged)


def lost_polls(rng: np.random.Generator, p: float, polls: int) -> np.ndarray:
    """The numbers k (1 ≤ k ≤ polls) of the polls whose answer is lost, each independently
    with probability `p`: geometric gaps between losses, drawn in numpy batches (the
    sequence does not depend on the batch size, so designs polling at different
    intervals see the same losses at the same poll numbers)."""
    if p == 0 or polls < 1:
        return np.empty(0, dtype=np.int64)
    batch = int(p * polls * 1.1) + 16
    parts, last = [], 0
    while last < polls:
        ticks = last + np.cumsum(rng.geometric(p, batch))
        parts.append(ticks)
        last = int(ticks[-1])
    ticks = np.concatenate(parts)
    return ticks[ticks <= polls]


def poll_count(horizon: float, intervals: Iterable[float]) -> int:
    """The most polls any design makes in [0, horizon) (0 if no design polls)."""
    return max((math.ceil(horizon / interval) for interval in intervals), default=0)
