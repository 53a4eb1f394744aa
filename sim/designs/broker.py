"""The broker core every broker design shares: a queue of messages, deliveries to consumers
in turn, returns counted towards a limit, a dead-letter queue, outages and cancellation.

Messages are orders. `ready` holds the ones waiting to be delivered, head first, and
`again` the ones returned to the queue (requeued by a closed connection, a nack, an
expired lease), served before `ready`, in the order they came back; a message
settled (acknowledged, deleted, dead-lettered, cancelled) while it still sits in `ready` is
skipped when its turn comes instead of being searched for, so settling costs O(1).
Consumers with room take turns (`offer` puts a consumer in the rotation); how much room a
consumer has, and what delivering means, are the design's (`room`, `deliver`). A broker
with a scheduler (ActiveMQ's redeliveryPlugin) holds a failed message for a delay and then
sends it to the queue again (`schedule`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from simpy import Environment

from sim.model.events import POLL, At
from sim.records import BROKER_DOWN, DB_DOWN, Recorder

UNLIMITED = 1 << 62  # room of a consumer with no prefetch limit


class Broker:
    """One queue of a broker and its dead-letter queue."""

    def __init__(
        self,
        env: Environment,
        recorder: Recorder,
        durable: bool = True,
        batch: int = 1,
        retry: bool = False,
    ):
        self.env = env
        self.recorder = recorder
        self.durable = durable
        # database.when_down: retry: a publish refused while the broker is down is sent
        # again by the customer's app when it is back (else the order is lost at the door).
        self.retry = retry
        self.pending: list[int] = []
        self.batch = batch  # messages handed to a consumer at each turn
        self.up = True
        self.ready: deque[int] = deque()
        self.again: deque[int] = deque()
        self.queued: set[int] = set()  # orders in `ready` or `again`
        self.gone: set[int] = set()  # settled: never delivered again
        self.returns: dict[int, int] = {}  # order -> times returned unprocessed or failed
        self.scheduled: set[int] = set()  # held by the scheduler, to be sent again
        self.overdue: list[int] = []  # came due while the broker was down
        self.kept: set[int] = set()  # in `pending` or `overdue`: waiting for `broker_up`
        self.rotation: deque = deque()
        self.in_rotation: set = set()
        self.room: Callable[[object], int] = lambda consumer: 0
        self.deliver: Callable[[int, object], bool] = lambda order, consumer: False
        # Whether an order outlives the loss of its message (made already, or a copy
        # in a consumer's hands): the design's (`BrokerDesign.survives`).
        self.survives: Callable[[int], bool] = lambda order: False
        self._feeding = False

    def publish(self, order: int) -> None:
        """A producer sends `order`; while the broker is down it is lost, or kept by the
        customer's app until the broker is back (`retry`)."""
        if not self.up:
            if self.retry:
                self.pending.append(order)
                self.kept.add(order)
            else:  # turned away at the door, as the seed's database does (`rejected`)
                self.recorder.lose(order, self.env.now, DB_DOWN)
            return
        self._enqueue(order)
        self.feed()

    def _enqueue(self, order: int) -> None:
        """Append `order` to the tail of the queue."""
        self.ready.append(order)
        self.queued.add(order)

    def schedule(self, order: int, delay: float) -> None:
        """The broker's scheduler sends `order` to the queue again `delay` from now (see
        `_due`); meanwhile no consumer holds it."""
        if not self.up and not self.durable:
            # The poison ack reached a transient broker that is down: when it comes back
            # the message is gone, as every message it held.
            self.gone.add(order)
            if not self.survives(order):
                self.recorder.lose(order, self.env.now, BROKER_DOWN)
            return
        self.scheduled.add(order)
        event = At(self.env, self.env.now + delay, POLL)
        event.order = order
        event.callbacks.append(self._due)

    def _due(self, event: At) -> None:
        """A scheduled message is sent again: at the tail of the queue, as a new send is
        (ActiveMQ's scheduler re-sends it to its destination). While the broker is down
        it waits in the scheduler's store and is sent when the broker is back."""
        order = event.order
        if order not in self.scheduled:
            return  # lost with a transient broker that went down
        self.scheduled.discard(order)
        if order in self.gone:
            return  # cancelled meanwhile
        if not self.up:
            self.overdue.append(order)
            self.kept.add(order)
            return
        self._enqueue(order)
        self.feed()

    def requeue(self, orders: Iterable[int]) -> None:
        """Return messages to the queue, in the given order: after the messages returned
        before them and still waiting, before every message never delivered (as a
        quorum queue serves its returns first, in the order they came back)."""
        for order in orders:
            if order not in self.gone and order not in self.queued:
                self.again.append(order)
                self.queued.add(order)
        self.feed()

    def returned(self, order: int, limit: int | None) -> bool:
        """Count a return of `order`; past `limit` returns it is dead-lettered (False)."""
        count = self.returns.get(order, 0) + 1
        self.returns[order] = count
        if limit is not None and count > limit:
            self.dead_letter(order)
            return False
        return True

    def settle(self, order: int) -> None:
        """The message is done with (acknowledged or deleted): it is never delivered again."""
        self.gone.add(order)

    def dead_letter(self, order: int) -> None:
        """Move `order` to the dead-letter queue."""
        if order not in self.gone:
            self.gone.add(order)
            self.recorder.dead_letter(order, self.env.now)

    def cancel(self, order: int) -> bool:
        """Remove a message still waiting: in the queue, in the scheduler (due or not), or
        kept by the customer's app for the broker's return (the customer called the order
        off); False if it is not waiting (delivered, settled, or unknown)."""
        waiting = order in self.queued or order in self.scheduled or order in self.kept
        if waiting and order not in self.gone:
            self.gone.add(order)
            return True
        return False

    def offer(self, consumer) -> None:
        """`consumer` may have room: give it its turn."""
        if consumer not in self.in_rotation:
            self.rotation.append(consumer)
            self.in_rotation.add(consumer)
        self.feed()

    def feed(self) -> None:
        """Deliver waiting messages to consumers with room, `batch` at each turn."""
        if self._feeding or not self.up:
            return
        self._feeding = True
        room, rotation = self.room, self.rotation
        while (self.again or self.ready) and rotation:
            consumer = rotation.popleft()
            self.in_rotation.discard(consumer)
            wanted = min(room(consumer), self.batch)
            while wanted > 0:
                order = self._take()
                if order is None:
                    break
                wanted -= self.deliver(order, consumer)
            if room(consumer) > 0:
                rotation.append(consumer)
                self.in_rotation.add(consumer)
        self._feeding = False

    def _take(self) -> int | None:
        for waiting in (self.again, self.ready):
            while waiting:
                order = waiting.popleft()
                self.queued.discard(order)
                if order not in self.gone:
                    return order
        return None

    def broker_down(self) -> list[int]:
        """The broker goes down: nothing is delivered or accepted until `broker_up`; without
        durability the waiting messages, scheduled ones included, are lost (returned)."""
        self.up = False
        if self.durable:
            return []
        waiting = [*self.again, *self.ready, *sorted(self.scheduled)]
        now = self.env.now
        lost = []
        for order in waiting:
            if order in self.gone:
                continue
            self.gone.add(order)
            if not self.survives(order):
                lost.append(order)
                self.recorder.lose(order, now, BROKER_DOWN)
        self.again.clear()
        self.ready.clear()
        self.queued.clear()
        self.scheduled.clear()
        return lost

    def broker_up(self) -> None:
        """The broker is back: the scheduled messages that came due meanwhile are sent
        (the scheduler starts with the broker), then the publishes kept meanwhile land;
        deliveries resume."""
        self.up = True
        overdue, self.overdue = self.overdue, []
        pending, self.pending = self.pending, []
        self.kept.clear()
        for order in [*overdue, *pending]:
            if order not in self.gone:  # else cancelled meanwhile
                self._enqueue(order)
        self.feed()
