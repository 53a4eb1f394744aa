"""Apache Kafka (`queue: kafka`): a partitioned log, a consumer group, committed offsets and
rebalances.

An online order is a record appended to partition `hash(key) mod partitions`; walk-ins
stay pinned to their store. The stores form one consumer group; each partition is read
by the member the assignor gives it to (`sim.designs.kafka_assignors`), in offset order,
one record at a time, a store preparing records of up to `workers` partitions at once.

A consumer *polls* while it could take another record: a worker is free and one of its
partitions has no record in preparation (or it owns none). At a poll at least
`auto_commit_interval` after its last commit (the timer restarts when it joins the
group), auto-commit commits its position: every record fetched so far, finished or still
in preparation, as the Java consumer does. With `commit: sync` each record's offset is
committed once it is finished. Commits land `commit_delay` after they are made, unless
the consumer crashed or lost the partition meanwhile. A consumer that has not polled for
`max_poll_interval` leaves the group (its partitions go to others, uncommitted); it
rejoins at its next poll. A crashed consumer stops heartbeating and is removed by the
coordinator (`sim.designs.kafka_group`). A new reader starts at the committed offset:
records after it that were finished are prepared again (duplicates); a record in
preparation at a crash that a commit covered is never read again (lost).

Rebalances: with the eager protocol (range, roundrobin, sticky) every member stops
fetching when one starts; a live owner finishes the record it is preparing on each
partition and commits it, then lets the partition go (as a well-behaved rebalance
listener does); when the rebalance completes each partition goes to its new owner as
soon as it is free. With cooperative-sticky members keep fetching; only partitions that
move stop, and those taken from a live member move in a follow-up rebalance. A failed
attempt is retried in place (the consumer seeks back to it): a poison record blocks its
partition, as it does in Kafka.

Outages of the cluster (`database.outages`): `sim.designs.kafka_outage`.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

from simpy import Environment

from sim.designs.base import BrokerDesign
from sim.designs.broker import Broker
from sim.designs.consumer import Consumer, Delivery
from sim.designs.kafka_assignors import ASSIGNORS
from sim.designs.kafka_group import GroupCoordinator
from sim.designs.kafka_log import Claim, Partition
from sim.designs.kafka_outage import ClusterOutages
from sim.designs.kafka_rebalance import Rebalancing
from sim.model.events import POLL, At
from sim.model.orders import OrderBook
from sim.records import Recorder
from sim.sections import KafkaSpec


class Kafka(Rebalancing, ClusterOutages, BrokerDesign):
    """One topic consumed by one consumer group of every store."""

    def __init__(
        self,
        env: Environment,
        book: OrderBook,
        consumers: Sequence[Consumer],
        recorder: Recorder,
        broker: Broker,
        spec: KafkaSpec,
    ):
        super().__init__(env, book, consumers, recorder, broker)
        self.spec = spec
        self.key_hash = book.key_hash
        self.in_prep = array("i", bytes(4 * len(book.arrival)))  # copies in preparation
        self.cancelled: set[int] = set()  # records whose customer called them off
        self.partitions = [Partition(i) for i in range(spec.partitions)]
        self.assignor = ASSIGNORS[spec.assignor]()
        count = len(self.consumers)
        self.owned: list[list[int]] = [[] for _ in range(count)]  # partitions it reads
        self.assignment: dict[int, list[int]] = {}
        self.in_group = [True] * count
        self.stalled = [False] * count  # not polling, since `stalled_token` was set
        self.stall_token = [0] * count
        self.last_commit = [0.0] * count
        self.commit_timer = [False] * count
        self.cursor = [0] * count  # where the next scan of its partitions starts
        self.paused_time = 0.0
        self.max_lag = 0
        self.unsent: list[tuple] = []  # commit requests waiting for the cluster to be back
        self.group = GroupCoordinator(
            self.env, spec, self.recorder, self._rebalance_started, self._rebalance_done
        )

    def start(self) -> None:
        """The group forms: every store is a member, partitions assigned at once."""
        stores = list(range(len(self.consumers)))
        self.group.form(stores)
        assignment = self.assignor.assign(stores, len(self.partitions), {})
        for store, parts in assignment.items():
            for index in parts:
                self._activate(self.partitions[index], store)
        self.assignment = {store: list(parts) for store, parts in assignment.items()}

    # Records in: the producer side.

    def dispatch(self, order: int) -> None:
        """A walk-in goes to its store; an online order is appended to its partition."""
        if self.pinned[order] >= 0:
            super().dispatch(order)
            self._after(self.consumers[self.pinned[order]])
            return
        if not self.broker.up:  # the send fails: lost at the door, or kept (`when_down`)
            self.broker.publish(order)
            return
        self._append(order)

    def _append(self, order: int) -> None:
        partition = self.partitions[self.key_hash[order] % len(self.partitions)]
        partition.log.append(order)
        waiting = partition.waiting()
        if waiting > self.max_lag:
            self.max_lag = waiting
        if partition.active and partition.busy is None:
            consumer = self.consumers[partition.owner]
            if consumer.has_room():
                self._after(consumer)  # a poll under way returns the record

    # Fetching and preparing.

    def _ready(self, consumer: Consumer) -> bool:
        """Whether the consumer is polling: it could take another record now."""
        if not consumer.has_room():
            return False
        owned = self.owned[consumer.index]
        return not owned or any(self.partitions[i].busy is None for i in owned)

    def _after(self, consumer: Consumer) -> None:
        """Something changed at the consumer: poll if it is ready, and if it is not (any
        more), start counting towards max_poll_interval."""
        if not consumer.up:
            return
        store = consumer.index
        if self._ready(consumer):
            if self.stalled[store]:
                self.stalled[store] = False
                self.stall_token[store] += 1
            self._poll(consumer)
        if not self.stalled[store] and not self._ready(consumer):
            self.stalled[store] = True
            self.stall_token[store] += 1
            event = At(self.env, self.env.now + self.spec.max_poll_interval, POLL)
            event.consumer, event.token = consumer, self.stall_token[store]
            event.callbacks.append(self._poll_expired)

    def _poll(self, consumer: Consumer) -> None:
        """A poll: rejoin if out of the group, auto-commit if due, fetch records."""
        store = consumer.index
        if not self.in_group[store]:
            self.in_group[store] = True
            self.group.join(store)
            return
        if not self.broker.up:
            return  # no records, no commit; it polls again when the cluster is back
        if self.spec.enable_auto_commit:
            self._auto_commit(consumer)
        self._fetch(consumer)
        auto = self.spec.enable_auto_commit
        if auto and not self.commit_timer[store] and self._uncommitted(store):
            self.commit_timer[store] = True
            due = self.last_commit[store] + self.spec.auto_commit_interval
            event = At(self.env, max(due, self.env.now), POLL)
            event.consumer = consumer
            event.callbacks.append(self._commit_due)

    def _fetch(self, consumer: Consumer) -> None:
        """Hand the consumer the next record of each of its idle partitions, in turn,
        while it has a free worker."""
        store = consumer.index
        owned = self.owned[store]
        count = len(owned)
        start = self.cursor[store]
        for step in range(count):
            if not consumer.has_room():
                break
            partition = self.partitions[owned[(start + step) % count]]
            if partition.busy is None and partition.position < len(partition.log):
                self._hand_out(partition, consumer)
                self.cursor[store] = (start + step + 1) % count

    def _hand_out(self, partition: Partition, consumer: Consumer) -> None:
        offset = partition.position
        log, cancelled = partition.log, self.cancelled
        while cancelled and log[offset] in cancelled:  # skipped: its customer called it off
            offset += 1
            if offset == len(log):
                partition.position = offset
                return
        order = partition.log[offset]
        partition.position = offset + 1
        claim = Claim(partition, offset, partition.lease)
        delivery = Delivery(order, consumer, self.env.now, connection=claim)
        partition.busy = delivery
        self.in_prep[order] += 1
        self.recorder.deliveries[order] += 1
        self.recorder.sent_to[order] = consumer.index
        consumer.deliver(delivery)

    def _finished(self, delivery: Delivery) -> None:
        if not delivery.pinned:
            self.in_prep[delivery.order] -= 1
        super()._finished(delivery)
        self._after(delivery.consumer)

    def _failed(self, delivery: Delivery) -> None:
        if not delivery.pinned:
            self.in_prep[delivery.order] -= 1
        super()._failed(delivery)
        self._after(delivery.consumer)

    def finished(self, delivery: Delivery) -> None:
        """A record is done: free its partition; commit it (sync, or revoking)."""
        claim: Claim = delivery.connection
        partition = claim.partition
        if claim.lease != partition.lease:
            return  # the partition moved on: this consumer's commits fail
        partition.busy = None
        if self.spec.commit == "sync":
            self._commit(partition, claim.offset + 1, delivery.consumer)
        if partition.revoking:
            self._commit(partition, partition.position, delivery.consumer, then=self._release)

    def failed(self, delivery: Delivery) -> None:
        """A failed record is retried in place: the consumer seeks back to it."""
        claim: Claim = delivery.connection
        partition = claim.partition
        if claim.lease != partition.lease:
            return
        partition.busy = None
        partition.position = claim.offset
        if partition.revoking:
            self._commit(partition, claim.offset, delivery.consumer, then=self._release)

    def cancel(self, order: int) -> bool:
        """An online record no consumer is preparing (not yet fetched, or to be read
        again after a crash) is skipped when its turn comes; False if it is done, lost,
        in preparation, or a walk-in."""
        recorder = self.recorder
        if self.pinned[order] >= 0 or recorder.completions[order] or recorder.lost_reason[order]:
            return False
        if self.in_prep[order]:
            return False
        self.cancelled.add(order)
        return True

    # Commits.

    def _uncommitted(self, store: int) -> bool:
        partitions = self.partitions
        return any(partitions[i].position > partitions[i].committed for i in self.owned[store])

    def _auto_commit(self, consumer: Consumer) -> None:
        """Commit the position of every partition if the interval has passed. When there
        is nothing to commit the commit is not simulated, but its timer keeps its phase."""
        store, now = consumer.index, self.env.now
        interval = self.spec.auto_commit_interval
        due = self.last_commit[store] + interval
        if now < due:
            return
        if not self._uncommitted(store):
            self.last_commit[store] = due + interval * math.floor((now - due) / interval)
            return
        self.last_commit[store] = now
        for index in self.owned[store]:
            partition = self.partitions[index]
            if partition.position > partition.committed:
                self._commit(partition, partition.position, consumer)

    def _commit_due(self, event: At) -> None:
        consumer = event.consumer
        self.commit_timer[consumer.index] = False
        if consumer.up and self.in_group[consumer.index] and self._ready(consumer):
            self._poll(consumer)

    def _commit(self, partition: Partition, offset: int, consumer: Consumer, then=None) -> None:
        """Commit `offset` for `partition`; it lands `commit_delay` later unless the
        consumer crashed or the partition moved on meanwhile; then `then(partition)`."""
        self._send(partition, offset, partition.lease, consumer, consumer.epoch, then)

    def _send(self, *commit) -> None:
        """Send a commit request; while the cluster is down it waits (`unsent`)."""
        if not self.broker.up:
            self.unsent.append(commit)
        elif self.spec.commit_delay == 0:
            self._land(*commit)
        else:
            event = At(self.env, self.env.now + self.spec.commit_delay, POLL)
            event.commit = commit
            event.callbacks.append(lambda event: self._land(*event.commit))

    def _land(self, partition, offset, lease, consumer, epoch, then) -> None:
        if consumer.epoch != epoch or partition.lease != lease:
            return
        if not self.broker.up:  # in flight when the cluster went down: sent again
            self._send(partition, offset, lease, consumer, epoch, then)
            return
        # A commit only covers records its consumer fetched under this lease, which are
        # finished or still in its hands (a crash would have stopped it landing).
        if offset > partition.committed:
            partition.committed = offset
        if then is not None:
            then(partition)

    # Crashes, recoveries, leaving the group.

    def crash(self, consumer: Consumer) -> None:
        for delivery in consumer.preparing:
            if not delivery.pinned:
                self.in_prep[delivery.order] -= 1
        super().crash(consumer)

    def only_copy(self, delivery: Delivery) -> bool:
        """A record dropped by a crash is lost if a commit passed it, it was never
        finished and no other copy is in preparation: nobody will read it again."""
        order = delivery.order
        if self.recorder.completions[order] or self.in_prep[order]:
            return False
        return delivery.connection.offset < delivery.connection.partition.committed

    def connection_lost(self, consumer: Consumer, dropped: list[Delivery]) -> None:
        """Its partitions stop; partitions it was giving up are let go uncommitted; its
        heartbeats stop."""
        store = consumer.index
        for partition in self.partitions:
            if partition.owner == store:
                partition.busy = None
                if partition.revoking:
                    self._release(partition)
        self.stalled[store] = False
        self.stall_token[store] += 1
        if self.in_group[store]:
            self.group.crash(store, len(self.owned[store]))

    def reconnect(self, consumer: Consumer) -> None:
        """A static member back in time resumes its partitions at the committed offsets;
        otherwise the store joins the group again (a rebalance)."""
        store = consumer.index
        self.last_commit[store] = self.env.now
        if self.in_group[store] and self.group.resume(store):
            for index in self.owned[store]:
                partition = self.partitions[index]
                partition.position = partition.committed
            self._after(consumer)
            return
        self._drop_partitions(store)
        self.in_group[store] = True
        self.group.join(store)

    def _poll_expired(self, event: At) -> None:
        """No poll for max_poll_interval: the consumer leaves the group; its partitions
        are lost to it, uncommitted (what it prepares meanwhile cannot be committed)."""
        consumer = event.consumer
        store = consumer.index
        if event.token != self.stall_token[store] or not self.in_group[store]:
            return
        self.in_group[store] = False
        self.recorder.event(self.env.now, "left_group", store)
        self.group.leave(store)  # a rebalance starting now lets its partitions go
        self._drop_partitions(store)

    def _drop_partitions(self, store: int) -> None:
        for partition in self.partitions:
            if partition.owner == store:
                self._release(partition)
        self.assignment.pop(store, None)

    # The broker core's interface, unused: Kafka consumers fetch from partitions.

    def room(self, consumer: Consumer) -> int:
        return 0

    def deliver(self, order: int, consumer: Consumer) -> bool:
        return False

    def end_of_run(self, horizon: float) -> None:
        paused = sum(horizon - p.paused_at for p in self.partitions if p.paused_at is not None)
        self.recorder.counters["paused_time"] = self.paused_time + paused
        self.recorder.counters["max_lag"] = float(self.max_lag)
