"""What every broker design shares: orders published as messages, walk-ins pinned to their
store, crashes and recoveries of consumers recorded, and the interface of `RamOnly` and
`DatabaseQueue` (`dispatch`, `crash`, `recover`) so that the run treats them alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from simpy import Environment

from sim.designs.broker import Broker
from sim.designs.consumer import Consumer, Delivery
from sim.model.orders import OrderBook
from sim.records import CRASH, FAILED, STORE_DOWN, Recorder


class BrokerDesign:
    """Online orders are messages published durably to `broker`; stores are consumers.

    A walk-in goes straight to its store, as in every design: lost if the store is down
    or crashes, tried again in place if an attempt fails. Subclasses say what happens to
    a message when it is delivered (`deliver`), finished, failed, and when its consumer
    crashes or recovers (`connection_lost`, `reconnect`).
    """

    #: A crash closes the store's connections at once (`failures.crash: process`); only
    #: brokers that notice a dead consumer by its connection (the push brokers) use it:
    #: Kafka's coordinator waits for the session timeout, SQS for the lease.
    crash_closes = False

    def __init__(
        self,
        env: Environment,
        book: OrderBook,
        consumers: Sequence[Consumer],
        recorder: Recorder,
        broker: Broker,
    ):
        self.env = env
        self.consumers = consumers
        self.recorder = recorder
        self.broker = broker
        self.pinned = book.pinned
        self.prep = book.prep
        broker.room = self.room
        broker.deliver = self.deliver
        broker.survives = self.survives
        for consumer in consumers:
            consumer.on_finished = self._finished
            consumer.on_failed = self._failed

    def start(self) -> None:
        for consumer in self.consumers:
            self.broker.offer(consumer)

    def dispatch(self, order: int) -> None:
        """A new order: a walk-in goes to its store; an online order is published."""
        index = self.pinned[order]
        if index < 0:
            self.broker.publish(order)
            return
        consumer = self.consumers[index]
        self.recorder.sent_to[order] = index
        if not consumer.deliver(Delivery(order, consumer, self.env.now)):
            self.recorder.lose(order, self.env.now, STORE_DOWN)

    def crash(self, consumer: Consumer) -> None:
        dropped = consumer.crash()
        now = self.env.now
        lost = [d.order for d in dropped if d.pinned or self.only_copy(d)]
        for order in lost:
            self.recorder.lose(order, now, CRASH)
        self.recorder.event(now, "crash", consumer.index, orders=len(dropped), lost=len(lost))
        self.connection_lost(consumer, dropped)

    def recover(self, consumer: Consumer) -> None:
        consumer.recover()
        self.recorder.event(self.env.now, "recover", consumer.index)
        self.reconnect(consumer)

    def _finished(self, delivery: Delivery) -> None:
        self.recorder.complete(delivery.order, self.env.now, self.prep[delivery.order])
        if not delivery.pinned:
            self.finished(delivery)
        else:  # a worker is free again: a consumer whose room hangs on it takes its turn
            self.broker.offer(delivery.consumer)

    def _failed(self, delivery: Delivery) -> None:
        if delivery.pinned:
            delivery.consumer.deliver(delivery)  # tried again in place
        else:
            self.failed(delivery)

    def broker_down(self) -> list[int]:
        """The broker goes down (the schedule of `database.outages`, for a broker design):
        no deliveries and no publishes until `broker_up`; a non-durable queue loses its
        waiting messages (returned)."""
        return self.broker.broker_down()

    def broker_up(self) -> None:
        self.broker.broker_up()

    def cancel(self, order: int) -> bool:
        """Remove a cancelled order still waiting in the queue; False if it is not, or if
        a consumer still holds a copy (a message requeued while it was being prepared: a
        visibility timeout, a consumer timeout). A message already handed to a consumer
        (in its prefetch buffer) is not called back: it is prepared."""
        recorder = self.recorder
        if recorder.completions[order] or recorder.lost_reason[order]:
            return False  # made (its message may wait for a late delete), or lost
        delivered = recorder.deliveries[order] > 0
        if delivered and any(consumer.holds(order) for consumer in self.consumers):
            return False  # rare: only a requeued message is looked for at every store
        return self.broker.cancel(order)

    def survives(self, order: int) -> bool:
        """Whether `order` outlives the loss of its message by a transient broker: it was
        made already, or a consumer holds a copy (requeued by a closed channel while it
        was being prepared), which is then its only copy."""
        if self.recorder.completions[order]:
            return True
        if not self.recorder.deliveries[order]:
            return False
        copies = [copy for consumer in self.consumers for copy in consumer.copies(order)]
        for copy in copies:
            copy.settled = True  # a crash, or a failed attempt, now loses the order
        return bool(copies)

    def lose_failed(self, delivery: Delivery) -> None:
        """A failed attempt whose message the broker no longer holds (auto-ack)."""
        self.recorder.lose(delivery.order, self.env.now, FAILED)

    # What each broker decides.

    def room(self, consumer: Consumer) -> int:
        raise NotImplementedError

    def deliver(self, order: int, consumer: Consumer) -> bool:
        raise NotImplementedError

    def only_copy(self, delivery: Delivery) -> bool:
        """Whether a consumer held the only copy of this message (the broker let it go)."""
        return False

    def finished(self, delivery: Delivery) -> None:
        raise NotImplementedError

    def failed(self, delivery: Delivery) -> None:
        raise NotImplementedError

    def connection_lost(self, consumer: Consumer, dropped: list[Delivery]) -> None:
        raise NotImplementedError

    def reconnect(self, consumer: Consumer) -> None:
        self.broker.offer(consumer)

    def end_of_run(self, horizon: float) -> None:
        """The run ended at `horizon`: report totals the design keeps (none by default)."""
