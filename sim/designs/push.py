"""Push brokers (RabbitMQ, ActiveMQ Classic): the broker pushes messages to consumers with
room under their prefetch, holds each delivery as unacknowledged on the consumer's
connection, and returns a connection's unacknowledged deliveries to the queue (served
before new messages: `Broker.requeue`) when it closes the connection: at the crash itself
when the store's process died on a host that stays up (`failures.crash: process`: its
kernel closes the socket), after the peer fell silent when the host went down (`host`,
noticed by heartbeats or the inactivity monitor), or for a broker-specific reason.
"""

from __future__ import annotations

from sim.designs.base import BrokerDesign
from sim.designs.broker import UNLIMITED
from sim.designs.connection import Connection
from sim.designs.consumer import Consumer, Delivery
from sim.model.events import POLL, At
from sim.records import STORE_DOWN


class PushDesign(BrokerDesign):
    """Prefetch, acknowledgements and connections; subclasses set the limits and rules."""

    prefetch: int | None = None
    auto_ack = False  # the broker forgets a message once delivered (at-most-once)
    return_limit: int | None = None  # returns before a message is dead-lettered

    def start(self) -> None:
        now = self.env.now
        self.connections = [Connection(consumer, now) for consumer in self.consumers]
        super().start()

    def room(self, consumer: Consumer) -> int:
        connection = self.connections[consumer.index]
        if not connection.open:
            return 0
        if self.prefetch is None or self.auto_ack:
            return UNLIMITED
        # A store runs one consumer per worker on its connection, each with its prefetch.
        return self.prefetch * consumer.workers - len(connection.unacked)

    def deliver(self, order: int, consumer: Consumer) -> bool:
        """Push `order` on the consumer's connection, even a dead one not yet closed."""
        self.recorder.deliveries[order] += 1
        self.recorder.sent_to[order] = consumer.index
        connection = self.connections[consumer.index]
        delivery = Delivery(order, consumer, self.env.now, connection)
        if self.auto_ack:
            self.broker.settle(order)
            delivery.settled = True
        else:
            connection.unacked[delivery] = None
            self.delivered(connection)
        if not consumer.deliver(delivery) and self.auto_ack:
            self.recorder.lose(order, self.env.now, STORE_DOWN)  # pushed into a dead socket
        return True

    def delivered(self, connection: Connection) -> None:
        """A delivery joined `connection.unacked` (RabbitMQ starts its consumer timeout)."""

    def only_copy(self, delivery: Delivery) -> bool:
        return delivery.settled

    def ack(self, delivery: Delivery) -> bool:
        """The consumer acknowledges `delivery` now; False (lost) if its connection closed."""
        connection = delivery.connection
        if not connection.open or delivery not in connection.unacked:
            return False
        del connection.unacked[delivery]
        connection.last_read = self.env.now
        self.broker.settle(delivery.order)
        self.broker.offer(delivery.consumer)
        return True

    def connection_lost(self, consumer: Consumer, dropped: list[Delivery]) -> None:
        """The consumer crashed: its process's socket closes at once, or, when its host
        went down, the broker notices when its heartbeats stop."""
        connection = self.connections[consumer.index]
        if self.crash_closes:
            self.close(connection, "crash")
            return
        when = self.silence_detected(connection)
        event = At(self.env, when, POLL)
        event.connection = connection
        event.callbacks.append(lambda event: self.close(event.connection, "silent"))

    def silence_detected(self, connection: Connection) -> float:
        """When the broker closes `connection`, whose peer fell silent now."""
        raise NotImplementedError

    def close(self, connection: Connection, why: str) -> None:
        """Close `connection`: its unacknowledged deliveries go back to the head of the
        queue, oldest first (each return counted; past the limit, to the DLQ)."""
        if not connection.open:
            return
        connection.open = False
        back = [
            d.order
            for d in connection.unacked
            if not self.counts_return(d) or self.broker.returned(d.order, self.return_limit)
        ]
        connection.unacked.clear()
        index = connection.consumer.index
        self.recorder.event(self.env.now, f"closed_{why}", index, orders=len(back))
        self.broker.requeue(back)

    def counts_return(self, delivery: Delivery) -> bool:
        """Whether a delivery returned by a closing connection counts towards the limit."""
        return True

    def reconnect(self, consumer: Consumer) -> None:
        """A recovered store opens a new connection and consumes again."""
        self.connections[consumer.index] = Connection(consumer, self.env.now)
        self.broker.offer(consumer)

    def reopen(self, connection: Connection) -> None:
        """The broker closed a live consumer's channel: the store drops what it had
        buffered from it and, if it is still its channel, opens a new one at once (as
        client libraries recover)."""
        consumer = connection.consumer
        consumer.discard(connection)
        if consumer.up and self.connections[consumer.index] is connection:
            self.reconnect(consumer)
