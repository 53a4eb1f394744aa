"""The orchestrator: polls every store and declares it down, or back up."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence

from simpy import Environment

from sim.model.events import POLL, At
from sim.model.store import Store
from sim.records import Recorder
from sim.scenario import OrchestratorSpec


class Detector:
    """The decision, without SimPy: `misses` unanswered polls in a row mean down.

    `observe(answered)` returns "down" when the store is declared down, "up" when a store
    declared down answers again, and None otherwise.
    """

    def __init__(self, misses: int):
        self.misses = misses
        self.silent = 0
        self.declared_down = False

    @property
    def settled(self) -> bool:
        """Nothing to count: the store answers and is not declared down."""
        return self.silent == 0 and not self.declared_down

    def observe(self, answered: bool) -> str | None:
        if answered:
            self.silent = 0
            if self.declared_down:
                self.declared_down = False
                return "up"
            return None
        self.silent += 1
        if self.silent >= self.misses and not self.declared_down:
            self.declared_down = True
            return "down"
        return None


class Orchestrator:
    """Polls all stores at k * poll_interval (k = 1, 2, ...), in store order.

    A store that is down at a poll's instant does not answer. After polling every store,
    `on_down(stores)` is called once with the stores newly declared down (if any), and
    `on_up(store)` for each store declared down that answered.

    A round visits only the stores it watches: a poll of a store that answers with its
    detector settled, or of a store declared down that is still down, changes nothing, so
    such stores are left out until something happens to them. `watch(store)` puts a store
    back in view: the fleet calls it when a store crashes or recovers, and any other
    mechanism that can change what a poll sees (a lost poll, a partition) must call it
    too. A visited store leaves the watch once its detector has nothing more to count.
    The rounds are those of polling every store at every interval, with the same result
    (tests/component/test_sleeping.py compares the two); while nothing is watched the
    orchestrator sleeps, and the first `watch` wakes it for the round at or after now.
    A round then costs the stores that changed, not the chain.
    """

    def __init__(
        self,
        env: Environment,
        spec: OrchestratorSpec,
        stores: Sequence[Store],
        recorder: Recorder,
        on_down: Callable[[list[Store]], None],
        on_up: Callable[[Store], None],
    ):
        self.env = env
        self.spec = spec
        self.stores = stores
        self.recorder = recorder
        self.on_down = on_down
        self.on_up = on_up
        self.detectors = [Detector(spec.misses) for _ in stores]
        # When each store last answered, as of its last visit. A store out of view has
        # not crashed since (a crash puts it in view), so `went_silent` still finds the
        # right crash: the first one after that answer.
        self.last_answer = [-math.inf] * len(stores)
        self.watched: set[int] = set()  # indexes of the stores the next round visits
        self.sleeping = True

    def start(self) -> None:
        fleet = self.stores[0].fleet
        fleet.on_crash = fleet.on_recover = self.watch

    def watch(self, store: Store) -> None:
        """Poll `store` from the next round on, until it has nothing left to count."""
        self.watched.add(store.index)
        if self.sleeping:
            self._schedule(self._round_at_or_after())

    def _schedule(self, tick: int) -> None:
        event = At(self.env, tick * self.spec.poll_interval, POLL)
        event.tick = tick
        event.callbacks.append(self._poll)
        self.sleeping = False

    def _poll(self, event: At) -> None:
        """Poll round number `event.tick`; then the next, unless nothing is watched."""
        self.poll_once()
        if self.watched:
            self._schedule(event.tick + 1)
        else:
            self.sleeping = True

    def _round_at_or_after(self) -> int:
        """The first round (tick) at or after now, computed as `_schedule` places it."""
        interval, now = self.spec.poll_interval, self.env.now
        tick = max(1, math.ceil(now / interval))
        while tick > 1 and (tick - 1) * interval >= now:
            tick -= 1
        while tick * interval < now:
            tick += 1
        return tick

    def went_silent(self, store: Store) -> float:
        """The first crash after the store last answered: when it went silent (it may
        have come back and crashed again between two polls since)."""
        crashes = store.crashes
        return crashes[bisect_right(crashes, self.last_answer[store.index])]

    def poll_once(self) -> None:
        """One round of polls of the watched stores, in store order; the decisions."""
        now = self.env.now
        down = []
        for index in sorted(self.watched):
            store, detector = self.stores[index], self.detectors[index]
            if store.up:
                self.last_answer[index] = now
            verdict = detector.observe(store.up)
            if detector.settled or (detector.declared_down and not store.up):
                self.watched.discard(index)  # further polls would change nothing
            if verdict == "down":
                delay = now - self.went_silent(store)
                self.recorder.event(now, "detected_down", index, detection_delay=delay)
                down.append(store)
            elif verdict == "up":
                self.recorder.event(now, "detected_up", index)
                self.on_up(store)
        if down:
            self.on_down(down)
