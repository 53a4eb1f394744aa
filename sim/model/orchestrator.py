"""The orchestrator: polls the stores and declares them down, or back up."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence

from simpy import Environment

from sim.model.events import POLL, At
from sim.model.network import Network
from sim.model.outages import Outages, rounds_from
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

    A store answers a poll when it is up, not partitioned off (`network.cut`) and its
    answer is not lost (`network.lost(k)`); while the orchestrator itself is down
    (`outages`) it holds no rounds. A round reads every answer first, then acts once:
    `on_up(store)` for each store declared down that answered, `on_down(stores)` once
    with the stores newly declared down (if any); with `incarnations`, `on_restart(stores)`
    with the stores whose answer shows a restart not seen before; then, if the design has
    work waiting for a round (`backlog.pending`), `backlog.flush()`.

    A round reads only the stores whose answer can change a count (`watch`): a store is
    put in view when it crashes, recovers, is cut off or reconnected, and for the round in
    which its answer is lost; it leaves the view once an answer would change nothing (it
    answers with nothing counted, or it is declared down and cannot answer until an event
    puts it back in view). While nothing is watched and no work waits, the orchestrator
    sleeps until the next lost answer or the first event that puts a store in view. The
    rounds are those of polling every store at every interval, with the same result
    (tests/component/test_sleeping.py compares the two): a round costs the stores that
    changed, not the chain.
    """

    def __init__(
        self,
        env: Environment,
        spec: OrchestratorSpec,
        stores: Sequence[Store],
        recorder: Recorder,
        on_down: Callable[[list[Store]], None],
        on_up: Callable[[Store], None],
        network: Network | None = None,
        outages: Outages | None = None,
        backlog: Backlog | None = None,
    ):
        self.env = env
        self.spec = spec
        self.stores = stores
        self.recorder = recorder
        self.on_down = on_down
        self.on_up = on_up
        self.on_restart: Callable[[list[Store]], None] = lambda stores: None
        self.network = network if network is not None else Network(env, len(stores), recorder)
        self.outages = outages if outages else None
        self.backlog = backlog if backlog is not None else Backlog()
        self.detectors = [Detector(spec.misses) for _ in stores]
        self.last_answer = [-math.inf] * len(stores)  # when each store last answered a poll
        self.last_round = -math.inf  # the last round held (or slept through)
        self.last_tick = 0
        # Stores whose answer may change a count: crashed, recovered, cut off or
        # reconnected since they were last read, or counted by their detector. A round
        # reads only these (and the stores whose answer is lost), so idle stores, and
        # stores declared down that cannot answer yet, cost nothing however many there are.
        self.watch: set[int] = set()
        self.incarnations = spec.incarnations
        self.restarts_seen = [0] * len(stores)  # per store, the restarts its answers showed
        self.sleeping = False

    def start(self) -> None:
        fleet = self.stores[0].fleet
        fleet.on_crash = fleet.on_recover = self._changed
        self.network.on_cut = self._cut
        self._schedule(1)

    def _schedule(self, tick: int) -> None:
        event = At(self.env, tick * self.spec.poll_interval, POLL)
        event.tick = tick
        event.callbacks.append(self._poll)
        self.sleeping = False

    def _quiet(self) -> bool:
        """Whether a round could change nothing but lost answers: no store is watched
        (crashed, cut off or counted since it last answered) and no work waits."""
        return not self.watch and not self.backlog.pending

    def _poll(self, event: At) -> None:
        """Poll round number `event.tick`; then the next, unless there is nothing to watch.

        While a round would change nothing, the orchestrator sleeps until the next lost
        answer, and a crash, a partition or waiting work wakes it for the first round at
        or after now: the rounds are those of polling every interval, without the idle
        ones. Of two events for the same round (a wake-up and a round already due), the
        second does nothing.
        """
        tick = event.tick
        if tick <= self.last_tick:
            return
        self.last_tick = tick
        back = self.outages.back_at(self.env.now) if self.outages is not None else None
        if back is not None:  # no polls while the orchestrator is down
            self._schedule(rounds_from(back, self.spec.poll_interval))
            return
        self.poll_once(tick)
        if not self._quiet():
            self._schedule(tick + 1)
            return
        alarm = self.network.next_loss(tick)
        if alarm is not None:
            self._schedule(alarm)
        self.sleeping = True

    def _changed(self, store: Store) -> None:
        """A store crashed or recovered: watch it until it answers (a restart shows in
        that answer) or, declared down, cannot answer."""
        self.watch.add(store.index)
        self.wake()

    def _cut(self, store: int) -> None:
        self.watch.add(store)
        self.wake()

    def wake(self) -> None:
        """A store crashed, recovered, was cut off or reconnected, or work waits: hold the
        first round at or after now, if asleep."""
        if not self.sleeping:
            return
        tick = rounds_from(self.env.now, self.spec.poll_interval)
        if tick > 1:  # the rounds slept through: every store answered them
            self.last_round = max(self.last_round, (tick - 1) * self.spec.poll_interval)
        self._schedule(tick)

    def went_silent(self, store: Store) -> float:
        """The first crash after the store last answered: when it went silent (it may
        have come back and crashed again between two polls since)."""
        crashes = store.crashes
        return crashes[bisect_right(crashes, self.last_answer[store.index])]

    def poll_once(self, tick: int) -> None:
        """One round of polls (number `tick`); the decisions it leads to."""
        now = self.env.now
        lost = self.network.lost(tick)
        stores = self._to_read(lost)
        if not stores and not self.backlog.pending:
            # Every store answers and nothing is counted (the common case: polls are
            # frequent, failures rare): the round changes nothing.
            self.last_round = now
            return
        ups, downs, restarted = self._read(stores, lost, now)
        self.last_round = now
        self._act(ups, downs, restarted, now)

    def _to_read(self, lost: Sequence[int]) -> Sequence[Store]:
        """The stores whose answer can change a count this round, in store order."""
        indices = self.watch.union(lost) if lost else self.watch
        return [self.stores[index] for index in sorted(indices)]

    def _read(
        self, stores: Sequence[Store], lost: Sequence[int], now: float
    ) -> tuple[list[Store], list[Store], list[Store]]:
        """Every answer of the round, read before acting on any."""
        ups, downs, restarted = [], [], []
        cut, watch = self.network.cut, self.watch
        for store in stores:
            index = store.index
            detector = self.detectors[index]
            answered = store.up and not cut[index] and (not lost or index not in lost)
            if answered:
                self.last_answer[index] = now
                if self.incarnations and len(store.crashes) != self.restarts_seen[index]:
                    self.restarts_seen[index] = len(store.crashes)
                    restarted.append(store)
                if detector.settled:
                    watch.discard(index)
                    continue  # answered, and nothing to count: observe() would do nothing
            elif detector.settled:
                self.last_answer[index] = self.last_round  # it answered the round before
            verdict = detector.observe(answered)
            if answered and detector.settled:
                watch.discard(index)
            elif detector.declared_down and (not store.up or cut[index]):
                # Silent until it recovers or is reconnected, which puts it back in view;
                # polls in between would only count misses past the verdict.
                watch.discard(index)
            else:
                watch.add(index)
            if verdict == "down":
                downs.append(store)
            elif verdict == "up":
                ups.append(store)
        return ups, downs, restarted

    def _act(
        self, ups: list[Store], downs: list[Store], restarted: list[Store], now: float
    ) -> None:
        """The round's decisions, once for the whole round."""
        for store in ups:
            self.recorder.event(now, "detected_up", store.index)
            self.on_up(store)
        for store in downs:
            if store.up:  # lost answers or a partition: a false detection
                self.recorder.event(now, "false_detection", store.index)
            else:
                delay = now - self.went_silent(store)
                self.recorder.event(now, "detected_down", store.index, detection_delay=delay)
        if downs:
            self.on_down(downs)
        if restarted:
            self.on_restart(restarted)
        if self.backlog.pending:
            self.backlog.flush()


class Backlog:
    """Work a design keeps for the next round it can do it in (nothing, by default)."""

    pending = False

    def flush(self) -> None:
        """Do the waiting work, if it can be done now."""
