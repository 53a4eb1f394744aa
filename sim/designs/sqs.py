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

Extensions are not simulated one call at a time: a lease's expiry is scheduled at the
deadline its last call will set (the call at start + k * extend_visibility last before the
preparation ends, plus the timeout), and a crash, which stops the calls, moves the expiry
back to the deadline of the last call made before it. The outcome is that of the calls
themselves, for one event per receipt instead of one per call. An extension period of at
least the timeout extends nothing: the lease lapses before the first call.
"""

from __future__ import annotations

import math

from sim.designs.base import BrokerDesign
from sim.designs.consumer import DONE, PREPARING, Consumer, Delivery
from sim.model.events import POLL, At
from sim.sections import SqsSpec


class Lease:
    """The visibility of one message in flight: its newest receipt, the deadline that
    receipt set, the deliveries of it that may extend it, and which expiry timer rules."""

    __slots__ = ("copies", "deadline", "receipt", "timer")

    def __init__(self) -> None:
        self.receipt = 0
        self.timer = 0
        self.deadline = 0.0
        self.copies: list[Delivery] = []


class Sqs(BrokerDesign):
    """Leases, redrive to a DLQ, visibility extension and idempotent consumers."""

    def __init__(self, *args, spec: SqsSpec, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.leases: dict[int, Lease] = {}
        self.done_here: list[set[int]] = [set() for _ in self.consumers]  # idempotency
        # Extending every `period` keeps a lease only if a call comes before it lapses.
        period = spec.extend_visibility
        self.period = period if period is not None and period < spec.visibility_timeout else None

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
        done_here = self.done_here[consumer.index]
        if self.spec.idempotent and (consumer.holds(order) or order in done_here):
            self._expire_at(order, lease, lease.deadline)
            if order in done_here:
                self._delete(order)  # the lookup says it is done: delete it now
            return True  # skipped: the order is held or was completed here
        delivery = Delivery(order, consumer, now, connection=self)
        lease.copies = [d for d in lease.copies if d.state != DONE]
        lease.copies.append(delivery)
        consumer.deliver(delivery)
        self._expire_at(order, lease, max(lease.deadline, self._extended(lease)))
        return True

    def _expire_at(self, order: int, lease: Lease, when: float) -> None:
        lease.timer += 1
        event = At(self.env, when, POLL)
        event.order, event.timer = order, lease.timer
        event.callbacks.append(self._expire)

    def _expire(self, event: At) -> None:
        """A lease's deadline: extended meanwhile, or the message is visible again."""
        order = event.order
        lease = self.leases.get(order)
        if lease is None or lease.timer != event.timer:
            return  # deleted, or a newer timer rules
        deadline = max(lease.deadline, self._extended(lease))
        if deadline > self.env.now:
            self._expire_at(order, lease, deadline)
            return
        del self.leases[order]
        self.broker.requeue([order])

    def _extended(self, lease: Lease, crashed: Delivery | None = None) -> float:
        """The deadline set by the last ChangeMessageVisibility of the copies under way:
        calls at start + k * period while preparing, so up to the end of the preparation
        (a crash, which stops them, reschedules the expiry: `connection_lost`)."""
        period, best = self.period, -math.inf
        if period is None:
            return best
        for delivery in lease.copies:
            if delivery.state != PREPARING or delivery.consumer.epoch != delivery.epoch:
                continue
            best = max(best, self._last_call(delivery, delivery.takes))
        return best

    def _last_call(self, delivery: Delivery, within: float) -> float:
        """Deadline set by the last call strictly within `within` of the start."""
        calls = math.ceil(within / self.period) - 1
        if calls < 1:
            return -math.inf
        return delivery.started + calls * self.period + self.spec.visibility_timeout

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
        """The leases of what the store held expire by themselves; those it was extending
        now end with the last call it made before the crash."""
        if self.period is None:
            return
        now = self.env.now
        for delivery in dropped:
            lease = self.leases.get(delivery.order)
            if (
                lease is None
                or delivery.epoch != consumer.epoch - 1
                or delivery not in lease.copies
            ):
                continue  # not in preparation at the crash, or its lease is gone
            cut = self._last_call(delivery, now - delivery.started)
            lease.deadline = max(lease.deadline, cut)
            when = max(lease.deadline, self._extended(lease), now)
            self._expire_at(delivery.order, lease, when)
