"""A store: prepares up to `workers` orders at once from a queue held in RAM, and can crash."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from simpy import Environment
from simpy.events import Event

from sim.model.attempts import MAX_ATTEMPTS, Fails
from sim.model.events import COMPLETION
from sim.model.slowdown import Slowdown
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
        self.fenced = False  # declared down by a fencing orchestrator: takes nothing
        self.taking = True  # takes orders: up and not fenced
        self.slow: Slowdown | None = None  # its slowdowns, if it has any
        self.epoch = 0
        self.crashes: list[float] = []  # when each crash happened
        self.queue: deque[int] = deque()
        self.preparing: dict[int, float] = {}  # order -> start of its attempt
        self.held: set[int] = set()
        self.peak = 0  # the most orders held at once

    def accept(self, order: int) -> bool:
        """Take `order` into RAM; False if the store is down or already holds it."""
        trace = self.recorder.trace
        if not self.taking or order in self.held:
            if trace is not None:
                what = "ignored" if self.taking else "refused"
                trace.append((self.env.now, what, self.index, order))
            return False
        if trace is not None:
            trace.append((self.env.now, "sent", self.index, order))
        held = self.held
        held.add(order)
        self.recorder.holders[order] += 1
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
            self.recorder.holders[order] -= 1
            if self.recorder.trace is not None:
                self.recorder.trace.append((self.env.now, "withdrawn", self.index, order))
        return True

    def crash(self) -> list[int]:
        """Go down: every held order is dropped (in preparation first, then queued)."""
        dropped = self._drop()
        self.up = self.taking = False
        self.fleet.down += 1
        self.crashes.append(self.env.now)
        self.fleet.on_crash(self)
        return dropped

    def recover(self) -> None:
        """Come back up, empty (still taking nothing while fenced)."""
        self.up = True
        self.taking = not self.fenced
        self.fleet.down -= 1
        self.fleet.on_recover(self)

    def under_way(self):
        """(order, start) of each preparation under way."""
        return self.preparing.items()

    def fence(self) -> list[int]:
        """Stop, drop every held order like a crash (its D writes in flight are refused
        too), and take nothing until `unfence`; the store stays up."""
        dropped = self._drop() if self.up else []
        self.fenced = True
        self.taking = False
        return dropped

    def unfence(self) -> None:
        self.fenced = False
        self.taking = self.up

    def _drop(self) -> list[int]:
        """Abandon the preparations under way and empty the queue."""
        now = self.env.now
        work = self.recorder.work
        for order, start in self.preparing.items():
            if self.slow is None:
                work[order] += now - start
            else:
                done = self.slow.progress(start, now)
                work[order] += done
                self.recorder.slow_time[order] += now - start - done
        queued = [order for order in self.queue if order in self.held]  # not withdrawn
        dropped = [*self.preparing, *queued]
        holders = self.recorder.holders
        for order in dropped:
            holders[order] -= 1
        if self.recorder.trace is not None:
            self.recorder.trace += [(now, "abandon", self.index, order) for order in self.preparing]
            self.recorder.trace += [(now, "drop", self.index, order) for order in queued]
        self.epoch += 1
        self.preparing.clear()
        self.queue.clear()
        self.held.clear()
        return dropped

    def _start(self, order: int) -> None:
        self.preparing[order] = self.env.now
        attempt = self.recorder.attempts[order] + 1
        self.recorder.attempts[order] = attempt
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "start", self.index, order))
        if attempt > MAX_ATTEMPTS:
            return  # stuck on it until a crash (see MAX_ATTEMPTS)
        prep = self.prep[order]
        if self.slow is not None:
            prep = self.slow.duration(self.env.now, prep)
        event = Preparation(self.env, order, prep, self.epoch)
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
        start = self.preparing.pop(order)
        if self.slow is not None:
            self.recorder.slow_time[order] += self.env.now - start - self.prep[order]
        self.held.discard(order)
        self.recorder.holders[order] -= 1
        self.on_done(order, self)
        if len(self.preparing) < self.workers:
            self._next()

    def _failed(self, order: int) -> None:
        """The attempt failed: its time is spent, the order dropped, the next one started;
        then the design decides what happens to the order."""
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "fail", self.index, order))
        now, start = self.env.now, self.preparing.pop(order)
        done = now - start if self.slow is None else self.slow.progress(start, now)
        self.recorder.work[order] += done
        self.recorder.slow_time[order] += now - start - done
        self.held.discard(order)
        self.recorder.holders[order] -= 1
        self._next()
        self.on_failed(order, self)

    def _next(self) -> None:
        """Start the next queued order still held (a withdrawn one is skipped)."""
        queue, held = self.queue, self.held
        while queue:
            order = queue.popleft()
            if order in held:  # not withdrawn
                self._start(order)
                break
