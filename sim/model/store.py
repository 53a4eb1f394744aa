"""A store: prepares up to `workers` orders at once from a queue held in RAM, and can crash."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from simpy import Environment
from simpy.events import Event

from sim.model.attempts import Fails
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
    crash or a recovery (the orchestrator polls only the stores it was told about; see
    `Orchestrator`)."""

    __slots__ = ("down", "on_crash", "on_recover")

    def __init__(self) -> None:
        self.down = 0
        self.on_crash: Callable[[Store], None] = lambda store: None
        self.on_recover: Callable[[Store], None] = lambda store: None


class Store:
    """Prepares orders handed to it, `workers` at a time, first come first served.

    The store ignores an order it already holds (queued or in preparation); it never reads
    the database. A crash empties the queue and abandons every preparation under way; after
    recovery the store is up again and empty. `on_done(order, store)` is called when a
    preparation finishes, `on_failed(order, store)` when it fails (`fails`, see
    `sim.model.attempts`); either way the store then drops the order.
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
        self.on_failed: Callable[[int, Store], None] = lambda order, store: None
        self.fails: Fails = None
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

    def crash(self) -> list[int]:
        """Go down: every held order is dropped (in preparation first, then queued)."""
        now = self.env.now
        work = self.recorder.work
        for order, start in self.preparing.items():
            work[order] += now - start
        dropped = [*self.preparing, *self.queue]
        if self.recorder.trace is not None:
            self.recorder.trace += [(now, "abandon", self.index, order) for order in self.preparing]
            self.recorder.trace += [(now, "drop", self.index, order) for order in self.queue]
        self.up = False
        self.fleet.down += 1
        self.epoch += 1
        self.crashes.append(now)
        self.preparing.clear()
        self.queue.clear()
        self.held.clear()
        self.fleet.on_crash(self)
        return dropped

    def recover(self) -> None:
        """Come back up, empty."""
        self.up = True
        self.fleet.down -= 1
        self.fleet.on_recover(self)

    def under_way(self):
        """(order, start) of each preparation under way."""
        return self.preparing.items()

    def _start(self, order: int) -> None:
        self.preparing[order] = self.env.now
        attempt = self.recorder.attempts[order] + 1
        self.recorder.attempts[order] = attempt
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "start", self.index, order))
        event = Preparation(self.env, order, self.prep[order], self.epoch)
        event.attempt = attempt
        event.callbacks.append(self._finish)

    def _finish(self, event: Preparation) -> None:
        if event.epoch != self.epoch:
            return  # abandoned by a crash
        order = event.order
        if self.fails is not None and self.fails(order, event.attempt):
            self._failed(order)
            return
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "finish", self.index, order))
        del self.preparing[order]
        self.held.discard(order)
        self.on_done(order, self)
        if self.queue and len(self.preparing) < self.workers:
            self._start(self.queue.popleft())

    def _failed(self, order: int) -> None:
        """The attempt failed: its time is spent, the order dropped, the next one started;
        then the design decides what happens to the order."""
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "fail", self.index, order))
        self.recorder.work[order] += self.env.now - self.preparing.pop(order)
        self.held.discard(order)
        if self.queue:
            self._start(self.queue.popleft())
        self.on_failed(order, self)
