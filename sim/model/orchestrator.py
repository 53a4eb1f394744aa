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
        self.last_answer = [-math.inf] * len(stores)  # when each store last answered a poll
        self.all_answered = -math.inf  # the last round in which every store answered
        self.unsettled = 0  # detectors counting misses or holding a store declared down
        self.sleeping = False

    def start(self) -> None:
        self.stores[0].fleet.on_crash = self.wake
        self._schedule(1)

    def _schedule(self, tick: int) -> None:
        event = At(self.env, tick * self.spec.poll_interval, POLL)
        event.tick = tick
        event.callbacks.append(self._poll)
        self.sleeping = False

    def _poll(self, event: At) -> None:
        """Poll round number `event.tick`; then the next, unless there is nothing to watch.

        While every store is up and no detector counts anything, a round changes nothing,
        so the orchestrator sleeps and a crash wakes it for the first round at or after
        the crash: the rounds are those of polling every interval, without the idle ones.
        """
        self.poll_once()
        if self.unsettled == 0 and self.stores[0].fleet.down == 0:
            self.sleeping = True
        else:
            self._schedule(event.tick + 1)

    def wake(self) -> None:
        """A store crashed: resume polling at the first round at or after now."""
        if not self.sleeping:
            return
        interval, now = self.spec.poll_interval, self.env.now
        tick = max(1, math.ceil(now / interval))
        while tick > 1 and (tick - 1) * interval >= now:
            tick -= 1
        while tick * interval < now:
            tick += 1
        if tick > 1:
            self.all_answered = max(self.all_answered, (tick - 1) * interval)
        self._schedule(tick)

    def went_silent(self, store: Store) -> float:
        """The first crash after the store last answered: when it went silent (it may
        have come back and crashed again between two polls since)."""
        crashes = store.crashes
        answered = max(self.last_answer[store.index], self.all_answered)
        return crashes[bisect_right(crashes, answered)]

    def poll_once(self) -> None:
        """One round of polls; the decisions it leads to."""
        now = self.env.now
        if self.unsettled == 0 and self.stores[0].fleet.down == 0:
            # Every store answers and no detector has anything to count: the round
            # changes nothing (the common case; polls are frequent, crashes rare).
            self.all_answered = now
            return
        down = []
        unsettled = 0
        for store, detector in zip(self.stores, self.detectors, strict=True):
            if store.up:
                self.last_answer[store.index] = now
                if detector.settled:
                    continue  # answered, and nothing to count: observe() would do nothing
            verdict = detector.observe(store.up)
            unsettled += not detector.settled
            if verdict == "down":
                delay = now - self.went_silent(store)
                self.recorder.event(now, "detected_down", store.index, detection_delay=delay)
                down.append(store)
            elif verdict == "up":
                self.recorder.event(now, "detected_up", store.index)
                self.on_up(store)
        self.unsettled = unsettled
        if down:
            self.on_down(down)
