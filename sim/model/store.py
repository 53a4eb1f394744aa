"""A store: prepares up to `workers` orders at once from a queue held in RAM, and can crash."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from simpy import Environment
from simpy.events import Event

from sim.model.events import COMPLETION
from sim.records import Recorder


class Preparation(Event):
    """One attempt at preparing an order; it ends `prep` after it starts, unless abandoned.

    A crash abandons the attempts under way by moving the store to a new epoch; an attempt
    of an older epoch does nothing when its time comes.
    """

    def __init__(self, env: Environment, order: int, prep: float, epoch: int):
        # Inlined from Event.__init__ and simpy's Timeout, as SimPy does for speed.
        self.env = env
        self.callbacks = []
        self._value = None
        self._ok = True
        self.order = order
        self.epoch = epoch
        env.schedule(self, COMPLETION, prep)


class Fleet:
    """What the stores share: how many of them are down right now, and whom to tell of a
    crash (the orchestrator sleeps while there is nothing to watch; see `Orchestrator`)."""

    __slots__ = ("down", "on_crash")

    def __init__(self) -> None:
        self.down = 0
        self.on_crash: Callable[[], None] = lambda: None


class Store:
    """Prepares orders handed to it, `workers` at a time, first come first served.

    The store ignores an order it already holds (queued or in preparation); it never reads
    the database. A crash empties the queue and abandons every preparation under way; after
    recovery the store is up again and empty. `on_done(order, store)` is called when a
    preparation finishes.
    """

    def __init__(
        self,
        env: Environment,
        index: int,
        workers: int,
        prep: Sequence[float],
        recorder: Recorder,
        fleet: Fleet | None = None,
    ):
        self.env = env
        self.index = index
        self.workers = workers
        self.prep = prep
        self.recorder = recorder
        self.fleet = fleet if fleet is not None else Fleet()
        self.on_done: Callable[[int, Store], None] = lambda order, store: None
        self.up = True
        self.epoch = 0
        self.crashes: list[float] = []  # when each crash happened
        self.queue: deque[int] = deque()
        self.preparing: dict[int, float] = {}  # order -> start of its attempt
        self.held: set[int] = set()
        self.peak = 0  # the most orders held at once

    def accept(self, order: int) -> bool:
        """Take `order` into RAM; False if the store is down or already holds it."""
        trace = self.recorder.trace
        if not self.up or order in self.held:
            if trace is not None:
                trace.append((self.env.now, "ignored" if self.up else "refused", self.index, order))
            return False
        if trace is not None:
            trace.append((self.env.now, "sent", self.index, order))
        held = self.held
        held.add(order)
        if len(held) > self.peak:
            self.peak = len(held)
        if len(self.preparing) < self.workers:
            self._start(order)
        else:
            self.queue.append(order)
        return True

    def withdraw(self, order: int) -> bool:
        """Take `order` out of the queue (its customer cancelled); False if it is being
        prepared. The queue entry is skipped when its turn comes: a cancelled order is
        never handed to a store again."""
        if order in self.preparing:
            return False
        if order in self.held:
            self.held.discard(order)
            if self.recorder.trace is not None:
                self.recorder.trace.append((self.env.now, "withdrawn", self.index, order))
        return True

    def crash(self) -> list[int]:
        """Go down: every held order is dropped (in preparation first, then queued)."""
        now = self.env.now
        work = self.recorder.work
        for order, start in self.preparing.items():
            work[order] += now - start
        queued = [order for order in self.queue if order in self.held]  # not withdrawn
        dropped = [*self.preparing, *queued]
        if self.recorder.trace is not None:
            self.recorder.trace += [(now, "abandon", self.index, order) for order in self.preparing]
            self.recorder.trace += [(now, "drop", self.index, order) for order in queued]
        self.up = False
        self.fleet.down += 1
        self.fleet.on_crash()
        self.epoch += 1
        self.crashes.append(now)
        self.preparing.clear()
        self.queue.clear()
        self.held.clear()
        return dropped

    def recover(self) -> None:
        """Come back up, empty."""
        self.up = True
        self.fleet.down -= 1

    def _start(self, order: int) -> None:
        self.preparing[order] = self.env.now
        self.recorder.attempts[order] += 1
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "start", self.index, order))
        Preparation(self.env, order, self.prep[order], self.epoch).callbacks.append(self._finish)

    def _finish(self, event: Preparation) -> None:
        if event.epoch != self.epoch:
            return  # abandoned by a crash
        order = event.order
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "finish", self.index, order))
        del self.preparing[order]
        self.held.discard(order)
        self.on_done(order, self)
        queue, held = self.queue, self.held
        while queue:
            order = queue.popleft()
            if order in held:  # not withdrawn
                self._start(order)
                break
