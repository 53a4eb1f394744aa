"""Gray failure: a store that is up and answers polls, but prepares `factor` times slower.

Work progresses at rate 1 outside a slowdown and 1 / factor inside one, so a preparation
that straddles the start or the end of a slowdown is slowed for the part inside it only.
The end of an attempt is computed when it starts (the schedule is known in the world), so
a slowdown costs no event per order.
"""

from __future__ import annotations

from collections.abc import Sequence

from simpy import Environment

from sim.model.outages import Switch
from sim.records import Recorder


class Slowdown:
    """One store's slowdowns, `(start, end, factor)`, sorted and disjoint."""

    def __init__(self, spells: Sequence[tuple[float, float, float]]):
        self.spells = tuple(spells)

    def duration(self, start: float, work: float) -> float:
        """How long `work` (time units at full speed) takes from `start`."""
        now, total = start, work
        for begin, end, factor in self.spells:
            if end <= now:
                continue
            if begin > now:  # full speed until the slowdown begins
                if now + work <= begin:
                    break
                work -= begin - now
                now = begin
            if now + work * factor <= end:
                return now + work * factor - start
            work -= (end - now) / factor
            now = end
        # Untouched by any slowdown: exactly the work, as on any other store.
        return total if now == start else now + work - start

    def progress(self, start: float, stop: float) -> float:
        """The work done between `start` and `stop`."""
        done, now = 0.0, start
        for begin, end, factor in self.spells:
            if end <= now:
                continue
            if begin >= stop:
                break
            done += max(0.0, begin - now)
            now = max(now, begin)
            done += (min(end, stop) - now) / factor
            now = min(end, stop)
        return done + max(0.0, stop - now)

    def start_timeline(self, env: Environment, recorder: Recorder, store: int) -> None:
        """Record each slowdown's start and end in the timeline."""
        Switch(
            env,
            [(begin, end) for begin, end, _ in self.spells],
            lambda: recorder.event(env.now, "slowdown", store),
            lambda: recorder.event(env.now, "slowdown_end", store),
        ).start()
