"""Outages of a single component (the database, the orchestrator, a store's link), as the
model reads them: is it down now, and when is it back."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence

from simpy import Environment

from sim.model.events import FAILURE, At


class Outages:
    """Sorted, disjoint down intervals `[start, end)`, asked about at any time."""

    def __init__(self, intervals: Sequence[tuple[float, float]]):
        self.starts = [start for start, _ in intervals]
        self.ends = [end for _, end in intervals]

    def __bool__(self) -> bool:
        return bool(self.starts)

    def back_at(self, time: float) -> float | None:
        """When the outage covering `time` ends, or None if `time` is in none."""
        index = bisect_right(self.starts, time) - 1
        if index >= 0 and time < self.ends[index]:
            return self.ends[index]
        return None


def first_round(tick: int, interval: float, *outages: Outages) -> int:
    """The first poll number at or after `tick` at whose instant none of `outages` is
    down (rounds of the orchestrator, and checks that need the database up)."""
    moved = True
    while moved:
        moved = False
        for down in outages:
            back = down.back_at(tick * interval)
            if back is not None:
                tick, moved = rounds_from(back, interval), True
    return tick


def rounds_from(time: float, interval: float) -> int:
    """The first poll number k ≥ 1 with k * interval ≥ time (exactly as polls are timed)."""
    tick = max(1, math.ceil(time / interval))
    while tick > 1 and (tick - 1) * interval >= time:
        tick -= 1
    while tick * interval < time:
        tick += 1
    return tick


class Switch:
    """Calls `on_down()` at the start and `on_up()` at the end of each interval (ranked
    with crashes and recoveries among simultaneous events)."""

    def __init__(
        self,
        env: Environment,
        intervals: Sequence[tuple[float, float]],
        on_down: Callable[[], None],
        on_up: Callable[[], None],
    ):
        self.env = env
        self.intervals = intervals
        self.on_down = on_down
        self.on_up = on_up

    def start(self) -> None:
        if self.intervals:
            self.env.process(self._run())

    def _run(self):
        for start, end in self.intervals:
            yield At(self.env, start, FAILURE)
            self.on_down()
            yield At(self.env, end, FAILURE)  # past the horizon: never runs
            self.on_up()
