"""A store as a broker's consumer: prepares the deliveries it is handed, `workers` at once.

Unlike a `Store`, a consumer cannot tell a new delivery of a message it is still preparing
from a new message: each `Delivery` is prepared on its own, so one store may prepare two
copies of an order at once (SQS leases that expire mid-preparation do exactly that).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence

from simpy import Environment

from sim.model.attempts import MAX_ATTEMPTS, Fails
from sim.model.slowdown import Slowdown
from sim.model.store import Fleet, Preparation
from sim.records import Recorder

BUFFERED, PREPARING, DONE = 0, 1, 2


class Delivery:
    """One delivery of an order to a consumer (`connection`: the channel it came on, for
    push brokers; None for a walk-in, which no broker holds)."""

    __slots__ = (
        "at",
        "attempt",
        "connection",
        "consumer",
        "epoch",
        "order",
        "settled",
        "started",
        "state",
        "takes",
    )

    def __init__(self, order: int, consumer: Consumer, at: float, connection: object = None):
        self.order = order
        self.consumer = consumer
        self.connection = connection
        self.at = at
        self.state = BUFFERED
        self.attempt = 0
        self.epoch = -1
        self.started = 0.0
        self.takes = 0.0  # how long its preparation takes (longer in a slowdown)
        self.settled = False  # the broker forgot the message: this is its only copy

    @property
    def pinned(self) -> bool:
        return self.connection is None


class Consumer:
    """Prepares deliveries first come first served; a crash drops them all.

    `on_finished(delivery)` / `on_failed(delivery)` are called when an attempt ends,
    after the next buffered delivery has started; `on_started(delivery)` when one starts.
    """

    def __init__(
        self,
        env: Environment,
        index: int,
        workers: int,
        prep: Sequence[float],
        recorder: Recorder,
        fails: Fails = None,
    ):
        self.env = env
        self.index = index
        self.workers = workers
        self.prep = prep
        self.recorder = recorder
        self.fails = fails
        self.fleet = Fleet()
        self.up = True
        self.epoch = 0
        self.crashes: list[float] = []
        self.buffer: deque[Delivery] = deque()
        self.preparing: dict[Delivery, float] = {}
        self.holding: dict[int, int] = {}  # order -> deliveries of it held here
        self.peak = 0
        self.on_finished: Callable[[Delivery], None] = lambda delivery: None
        self.on_failed: Callable[[Delivery], None] = lambda delivery: None
        self.on_started: Callable[[Delivery], None] | None = None
        self.slow: Slowdown | None = None  # its slowdowns (failures.slowdowns), if any

    @property
    def held(self) -> Iterator[int]:
        """The orders this consumer holds (buffered or in preparation)."""
        return iter(self.holding)

    def deliver(self, delivery: Delivery) -> bool:
        """Take a delivery; False (and nothing held) if the store is down."""
        trace = self.recorder.trace
        if not self.up:
            if trace is not None:
                trace.append((self.env.now, "refused", self.index, delivery.order))
            return False
        if trace is not None:
            trace.append((self.env.now, "sent", self.index, delivery.order))
        order = delivery.order
        self.holding[order] = self.holding.get(order, 0) + 1
        held = len(self.preparing) + len(self.buffer) + 1
        if held > self.peak:
            self.peak = held
        delivery.state = BUFFERED
        if len(self.preparing) < self.workers:
            self._start(delivery)
        else:
            self.buffer.append(delivery)
        return True

    def holds(self, order: int) -> bool:
        return order in self.holding

    def copies(self, order: int) -> list[Delivery]:
        """The deliveries of `order` this consumer holds, in preparation or buffered."""
        if order not in self.holding:
            return []
        return [d for d in (*self.preparing, *self.buffer) if d.order == order]

    def has_room(self) -> bool:
        """A worker is free and nothing waits in the buffer."""
        return self.up and not self.buffer and len(self.preparing) < self.workers

    def crash(self) -> list[Delivery]:
        """Go down: every delivery held is dropped (in preparation first, then buffered)."""
        now, trace = self.env.now, self.recorder.trace
        for delivery, start in self.preparing.items():
            self._spent(delivery.order, start, now)
        if trace is not None:
            trace += [(now, "abandon", self.index, d.order) for d in self.preparing]
            trace += [(now, "drop", self.index, d.order) for d in self.buffer]
        dropped = [*self.preparing, *self.buffer]
        for delivery in dropped:
            delivery.state = DONE
        self.up = False
        self.epoch += 1
        self.crashes.append(now)
        self.preparing.clear()
        self.buffer.clear()
        self.holding.clear()
        return dropped

    def recover(self) -> None:
        """Come back up, empty."""
        self.up = True

    def discard(self, connection: object) -> None:
        """Forget the buffered deliveries that came on `connection` (it was closed)."""
        kept, trace = deque(), self.recorder.trace
        for delivery in self.buffer:
            if delivery.connection is connection:
                delivery.state = DONE
                self._release(delivery.order)
                if trace is not None:
                    trace.append((self.env.now, "discard", self.index, delivery.order))
            else:
                kept.append(delivery)
        self.buffer = kept

    def under_way(self) -> Iterator[tuple[int, float]]:
        """(order, start) of each preparation under way."""
        return ((delivery.order, start) for delivery, start in self.preparing.items())

    def _spent(self, order: int, start: float, now: float) -> None:
        """Count an attempt cut short (a crash) or failed: its work, and its slow time."""
        if self.slow is None:
            self.recorder.work[order] += now - start
            return
        done = self.slow.progress(start, now)
        self.recorder.work[order] += done
        self.recorder.slow_time[order] += now - start - done

    def _release(self, order: int) -> None:
        count = self.holding[order] - 1
        if count:
            self.holding[order] = count
        else:
            del self.holding[order]

    def _start(self, delivery: Delivery) -> None:
        now, order = self.env.now, delivery.order
        delivery.state = PREPARING
        delivery.epoch = self.epoch
        delivery.started = now
        self.preparing[delivery] = now
        delivery.attempt = self.recorder.attempts[order] = self.recorder.attempts[order] + 1
        if self.recorder.trace is not None:
            self.recorder.trace.append((now, "start", self.index, order))
        takes = self.prep[order]
        if self.slow is not None:
            takes = self.slow.duration(now, takes)
        delivery.takes = takes
        if delivery.attempt <= MAX_ATTEMPTS:  # else stuck on it until a crash
            event = Preparation(self.env, order, takes, self.epoch)
            event.delivery = delivery
            event.callbacks.append(self._finish)
        if self.on_started is not None:
            self.on_started(delivery)

    def _finish(self, event: Preparation) -> None:
        if event.epoch != self.epoch:
            return  # abandoned by a crash
        delivery = event.delivery
        start = self.preparing.pop(delivery)
        order = delivery.order
        self._release(order)
        delivery.state = DONE
        failed = self.fails is not None and self.fails(order, delivery.attempt)
        if self.recorder.trace is not None:
            self.recorder.trace.append(
                (self.env.now, "fail" if failed else "finish", self.index, order)
            )
        if failed:
            self._spent(order, start, self.env.now)
        elif self.slow is not None:  # the work itself is counted on completion
            self.recorder.slow_time[order] += self.env.now - start - self.prep[order]
        if self.buffer and len(self.preparing) < self.workers:
            self._start(self.buffer.popleft())
        (self.on_failed if failed else self.on_finished)(delivery)
