"""Amazon SQS (`queue: sqs`): a shared queue with leases (visibility timeouts).

A store with a free worker and nothing buffered receives up to `batch` visible messages
(long polling: at once). A received message is invisible for `visibility_timeout`; if it
is not deleted by then it becomes visible again and any store may receive it, including
a live store still preparing it (a duplicate: the consumer cannot tell). While preparing,
a consumer with `extend_visibility` calls ChangeMessageVisibility every that often,
setting the visibility to now + visibility_timeout. A finished order's DeleteMessage
lands `delete_delay` later (any receipt deletes the message) unless the store crashes
first. A failed attempt is simply not deleted: the message comes back when its lease
expires. With `max_receive_count`, a message received that many times is moved to the
dead-letter queue instead of being received again (the redrive policy). A crashed store's
messages come back when their leases expire: no orchestrator, no other detection.

Extensions are not simulated one call at a time: when a lease's expiry comes, the last
extension a live preparation made before then (start + k * extend_visibility) is worked
out and, if it pushed the deadline later, the expiry is put off to that deadline. The
outcome is that of the calls themselves, for one event per lease instead of one per call.
"""

from __future__ import annotations

import math

from sim.designs.base import BrokerDesign
from sim.designs.consumer import DONE, PREPARING, Consumer, Delivery
from sim.model.events import POLL, At
from sim.sections import SqsSpec


class Lease:
    """The visibility of one message in flight: its newest receipt and its deadline, and
    the deliveries of it that may still extend it."""

    __slots__ = ("copies", "deadline", "receipt")

    def __init__(self) -> None:
        self.receipt = 0
        self.deadline = 0.0
        self.copies: list[Delivery] = []


class Sqs(BrokerDesign):
    """Leases, redrive to a DLQ, visibility extension and idempotent consumers."""

    def __init__(self, *args, spec: SqsSpec, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.leases: dict[int, Lease] = {}
        self.done_here: list[set[int]] = [set() for _ in self.consumers]  # idempotency

    def room(self, consumer: Consumer) -> int:
        return self.spec.batch if consumer.has_room() else 0

    def deliver(self, order: int, consumer: Consumer) -> bool:
        """A receive of `order` by `consumer` (or its redrive to the DLQ)."""
        limit, deliveries = self.spec.max_receive_count, self.recorder.deliveries
        if limit is not None and deliveries[order] >= limit:
            self.broker.dead_letter(order)
            self.leases.pop(order, None)
            return False
        deliveries[order] += 1
        self.recorder.sent_to[order] = consumer.index
        now = self.env.now
        lease = self.leases.get(order)
        if lease is None:
            lease = self.leases[order] = Lease()
        lease.receipt += 1
        lease.deadline = now + self.spec.visibility_timeout
        self._expire_at(order, lease)
        if self.spec.idempotent and (
            consumer.holds(order) or order in self.done_here[consumer.index]
        ):
            if order in self.done_here[consumer.index]:
                self._delete(order)  # the lookup says it is done: delete it now
            return True  # skipped: the order is held or was completed here
        delivery = Delivery(order, consumer, now, connection=self)
        lease.copies = [d for d in lease.copies if d.state != DONE] + [delivery]
        consumer.deliver(delivery)
        return True

    def _expire_at(self, order: int, lease: Lease) -> None:
        event = At(self.env, lease.deadline, POLL)
        event.order, event.receipt = order, lease.receipt
        event.callbacks.append(self._expire)

    def _expire(self, event: At) -> None:
        """A lease's deadline: extended meanwhile, or the message is visible again."""
        order = event.order
        lease = self.leases.get(order)
        if lease is None or lease.receipt != event.receipt:
            return  # deleted, or received again since: a newer lease rules
        deadline = max(lease.deadline, self._extended(lease))
        if deadline > self.env.now:
            lease.deadline = deadline
            self._expire_at(order, lease)
            return
        del self.leases[order]
        self.broker.requeue([order])

    def _extended(self, lease: Lease) -> float:
        """The deadline set by the last ChangeMessageVisibility before now."""
        period, now, best = self.spec.extend_visibility, self.env.now, -math.inf
        if period is None:
            return best
        for delivery in lease.copies:
            if delivery.state != PREPARING or delivery.consumer.epoch != delivery.epoch:
                continue  # finished, or its store crashed: no more calls
            calls = math.floor((now - delivery.started) / period)
            if calls >= 1:
                best = max(best, delivery.started + calls * period + self.spec.visibility_timeout)
        return best

    def finished(self, delivery: Delivery) -> None:
        consumer = delivery.consumer
        if self.spec.idempotent:
            self.done_here[consumer.index].add(delivery.order)
        if self.spec.delete_delay == 0:
            self._delete(delivery.order)
        else:
            event = At(self.env, self.env.now + self.spec.delete_delay, POLL)
            event.delivery, event.epoch = delivery, consumer.epoch
            event.callbacks.append(self._delete_landed)
        self.broker.offer(consumer)

    def _delete_landed(self, event: At) -> None:
        if event.delivery.consumer.epoch == event.epoch:  # the store did not crash
            self._delete(event.delivery.order)

    def _delete(self, order: int) -> None:
        self.leases.pop(order, None)
        self.broker.settle(order)

    def failed(self, delivery: Delivery) -> None:
        """Not deleted: the message comes back when its lease expires."""
        self.broker.offer(delivery.consumer)

    def connection_lost(self, consumer: Consumer, dropped: list[Delivery]) -> None:
        """Nothing to do: the leases of what it held expire by themselves."""
