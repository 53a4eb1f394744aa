"""The orchestrator: polls every store and declares it down, or back up."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Generator, Sequence

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

    def start(self) -> None:
        self.env.process(self.poll())

    def poll(self) -> Generator[At, None, None]:
        interval = self.spec.poll_interval
        tick = 1
        while True:
            yield At(self.env, tick * interval, POLL)
            tick += 1
            self.poll_once()

    def went_silent(self, store: Store) -> float:
        """The first crash after the store last answered: when it went silent (it may
        have come back and crashed again between two polls since)."""
        crashes = store.crashes
        return crashes[bisect_right(crashes, self.last_answer[store.index])]

    def poll_once(self) -> None:
        """One round of polls; the decisions it leads to."""
        now = self.env.now
        down = []
        for store, detector in zip(self.stores, self.detectors, strict=True):
            verdict = detector.observe(store.up)
            if store.up:
                self.last_answer[store.index] = now
            if verdict == "down":
                delay = now - self.went_silent(store)
                self.recorder.event(now, "detected_down", store.index, detection_delay=delay)
                down.append(store)
            elif verdict == "up":
                self.recorder.event(now, "detected_up", store.index)
                self.on_up(store)
        if down:
            self.on_down(down)
