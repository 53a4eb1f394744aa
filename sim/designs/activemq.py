"""ActiveMQ Classic (`queue: activemq`): JMS over OpenWire, with a large prefetch and a
redelivery policy.

The broker dispatches to consumers with room under `prefetch` (1000 for queues), round
robin. With `ack: client` a store acknowledges an order when it finishes it; with
`ack: auto` the message is acknowledged when the store takes it to prepare (receive()
returning), so a crash loses what was in preparation. A crashed store's connection is
closed at once if its process died on a live host (`failures.crash: process`); if its host
went down, by the inactivity monitor: it checks every `max_inactivity` that something was
read since the last check (the client writes a keep-alive every third of it; its acks
count too). The connection's prefetched and unacknowledged messages then go back to the
queue for the other consumers. A failed attempt is redelivered by the JMS client to the
same consumer after `redelivery_delay` (times `backoff` to the power of the redeliveries
before it), which holds it meanwhile; after `max_redeliveries` redeliveries the consumer
sends a poison ack and the broker moves the message to `ActiveMQ.DLQ`. With
`redelivery_plugin` the broker redelivers instead: a failed attempt is a poison ack at
once, the consumer is free for its next message, and the broker's scheduler sends the
message to the queue again after the delay (times `backoff` for each redelivery it
scheduled before), to whichever consumer has room, up to `max_redeliveries` times, then to
the DLQ. A message returned by a closed connection counts as redelivered only if it had
been handed to the application. With `persistent: false` messages do not survive the
broker going down, scheduled ones included.
"""

from __future__ import annotations

from sim.designs.connection import Connection, silence_detected
from sim.designs.consumer import Delivery
from sim.designs.push import PushDesign
from sim.model.events import POLL, At
from sim.sections import ActivemqSpec


class Activemq(PushDesign):
    """A queue of ActiveMQ Classic and its JMS consumers."""

    def __init__(self, *args, spec: ActivemqSpec, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.prefetch = spec.prefetch
        self.return_limit = None if spec.max_redeliveries < 0 else spec.max_redeliveries
        self.last_delay: dict[int, float] = {}  # order -> the plugin's last delay for it
        if spec.ack == "auto":
            for consumer in self.consumers:
                consumer.on_started = self._acknowledge_on_receive

    def silence_detected(self, connection: Connection) -> float:
        return silence_detected(
            connection.opened,
            self.env.now,
            self.spec.max_inactivity,
            writes=3,
            missed=1,
            last_read=connection.last_read,
        )

    def _acknowledge_on_receive(self, delivery: Delivery) -> None:
        if not delivery.pinned and self.ack(delivery):
            delivery.settled = True

    def finished(self, delivery: Delivery) -> None:
        if self.spec.ack == "client":
            self.ack(delivery)

    def failed(self, delivery: Delivery) -> None:
        """Redelivered to the same consumer after the delay, or by the broker's plugin,
        or to the DLQ (poison ack)."""
        if delivery.settled:
            self.lose_failed(delivery)
            return
        connection = delivery.connection
        if not connection.open or delivery not in connection.unacked:
            return  # returned with its connection already
        if self.spec.redelivery_plugin:
            self._poison_ack(delivery)
            return
        if not self.broker.returned(delivery.order, self.return_limit):
            del connection.unacked[delivery]  # poison ack: the broker dead-lettered it
            connection.last_read = self.env.now
            self.broker.offer(delivery.consumer)
            return
        count = self.broker.returns[delivery.order]
        delay = self.spec.redelivery_delay * self.spec.backoff ** (count - 1)
        event = At(self.env, self.env.now + delay, POLL)
        event.delivery, event.epoch = delivery, delivery.consumer.epoch
        event.callbacks.append(self._redeliver)

    def _poison_ack(self, delivery: Delivery) -> None:
        """The message leaves the consumer, which may take the next one at once; the
        redeliveryPlugin schedules its redelivery, or past the limit dead-letters it."""
        order = delivery.order
        del delivery.connection.unacked[delivery]
        delivery.connection.last_read = self.env.now  # the poison ack is a frame read
        if self.broker.returned(order, self.return_limit):
            # The plugin's delay: redeliveryDelay the first time it schedules this
            # message, then its previous delay times the back-off multiplier.
            previous = self.last_delay.get(order)
            delay = self.spec.redelivery_delay if previous is None else previous * self.spec.backoff
            self.last_delay[order] = delay
            self.broker.schedule(order, delay)
        self.broker.offer(delivery.consumer)

    def _redeliver(self, event: At) -> None:
        delivery = event.delivery
        connection, consumer = delivery.connection, delivery.consumer
        if consumer.epoch != event.epoch or not connection.open:
            return  # the store crashed: the message goes back with its connection
        self.recorder.deliveries[delivery.order] += 1
        consumer.deliver(delivery)

    def counts_return(self, delivery: Delivery) -> bool:
        return delivery.attempt > 0  # handed to the application, not only prefetched
