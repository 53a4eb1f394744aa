"""RabbitMQ (`queue: rabbitmq`): push with prefetch, acknowledgements and heartbeats, on a
quorum queue.

Messages go round-robin to consumers with room under `prefetch` (basic.qos; None:
unlimited). With `ack: manual` a store acknowledges an order when it finishes it; the
ack lands `ack_delay` later, unless the connection closed meanwhile. With `ack: auto` the
broker forgets a message as soon as it pushes it (at-most-once; prefetch does not apply).
A crashed store's connection is closed at once if its process died on a live host
(`failures.crash: process`); if its host went down, when the broker's heartbeat receiver,
which checks every `heartbeat` for data read, has found none twice in a row (the client
sends a heartbeat every `heartbeat / 2`; its acks count too): until then the broker keeps
pushing to it, as it really does. A closed
connection's unacknowledged messages go back to the head of the queue, redelivered to the
other consumers. An unacknowledged delivery older than `consumer_timeout` closes the
channel the same way (the store opens a new one). A failed attempt is rejected with
requeue; each return counts towards `delivery_limit`, past which the message is
dead-lettered. With `durable: false` the queue's messages do not survive the broker
going down (`Broker.broker_down`).
"""

from __future__ import annotations

from sim.designs.connection import Connection, silence_detected
from sim.designs.consumer import Delivery
from sim.designs.push import PushDesign
from sim.model.events import POLL, At
from sim.sections import RabbitmqSpec


class Rabbitmq(PushDesign):
    """A quorum queue and its consumers."""

    def __init__(self, *args, spec: RabbitmqSpec, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.prefetch = spec.prefetch
        self.auto_ack = spec.ack == "auto"
        self.return_limit = spec.delivery_limit

    def silence_detected(self, connection: Connection) -> float:
        h = self.spec.heartbeat
        return silence_detected(
            connection.opened, self.env.now, h, writes=2, missed=2, last_read=connection.last_read
        )

    def finished(self, delivery: Delivery) -> None:
        if self.auto_ack:
            self.broker.offer(delivery.consumer)
        elif self.spec.ack_delay == 0:
            self.ack(delivery)
        else:
            event = At(self.env, self.env.now + self.spec.ack_delay, POLL)
            event.delivery, event.epoch = delivery, delivery.consumer.epoch
            event.callbacks.append(self._ack_landed)

    def _ack_landed(self, event: At) -> None:
        if event.delivery.consumer.epoch == event.epoch:  # the store did not crash
            self.ack(event.delivery)

    def failed(self, delivery: Delivery) -> None:
        """basic.nack with requeue: back to the head, unless past the delivery limit."""
        if self.auto_ack:
            self.lose_failed(delivery)
            return
        connection = delivery.connection
        if not connection.open or delivery not in connection.unacked:
            return  # the channel closed meanwhile: the message was already returned
        del connection.unacked[delivery]
        connection.last_read = self.env.now
        if self.broker.returned(delivery.order, self.return_limit):
            self.broker.requeue([delivery.order])
        self.broker.offer(delivery.consumer)

    def delivered(self, connection: Connection) -> None:
        if not connection.timer:
            self._check_at(connection, self.env.now + self.spec.consumer_timeout)

    def _check_at(self, connection: Connection, when: float) -> None:
        connection.timer = True
        event = At(self.env, when, POLL)
        event.connection = connection
        event.callbacks.append(self._check_timeout)

    def _check_timeout(self, event: At) -> None:
        """One timer per channel, at the oldest unacknowledged delivery's deadline."""
        connection = event.connection
        connection.timer = False
        if not connection.open or not connection.unacked:
            return
        oldest = next(iter(connection.unacked))
        deadline = oldest.at + self.spec.consumer_timeout
        if deadline > self.env.now:
            self._check_at(connection, deadline)
            return
        self.close(connection, "timeout")
        self.reopen(connection)
