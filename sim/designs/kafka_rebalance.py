"""How the Kafka design carries out rebalances: which partitions stop when one starts,
who gets which when it completes, and how a partition passes from one member to another.

A live owner giving a partition up finishes the record it is preparing and commits its
position first (as a well-behaved rebalance listener does); a partition whose owner is
gone (crashed, left the group) is let go at once, uncommitted. A partition is *paused*
from the moment a rebalance stops it until its new owner reads it (`paused_time`).
"""

from __future__ import annotations

from sim.designs.kafka_assignors import moved
from sim.designs.kafka_log import Partition


class Rebalancing:
    """The rebalance side of `sim.designs.kafka.Kafka` (a mixin: it uses the design's
    partitions, consumers, group, assignor and commits)."""

    def _rebalance_started(self, now: float) -> None:
        """Eager: every member stops and gives up its partitions. Cooperative: only the
        partitions of members that are gone stop."""
        members = self.group.members
        for partition in self.partitions:
            partition.target = -1
            gone = partition.owner not in members or not members[partition.owner].alive
            if self.assignor.cooperative and not (gone and partition.active):
                continue
            if partition.paused_at is None:
                partition.paused_at = now
            if partition.active:
                if gone:
                    self._release(partition)
                else:
                    self._revoke(partition)

    def _rebalance_done(self, now: float, members: list[int]) -> None:
        """Assign the partitions; each goes to its new owner as soon as it is free."""
        previous = {m: self.assignment.get(m, []) for m in members}
        target = self.assignor.assign(members, len(self.partitions), previous)
        follow_up = False
        for store in members:
            self.last_commit[store] = now
            for index in target[store]:
                follow_up |= self._reassign(self.partitions[index], store)
        self.assignment = {m: [] for m in members}
        for partition in self.partitions:
            owner = partition.owner if partition.active else partition.target
            if owner in self.assignment:
                self.assignment[owner].append(partition.index)
        self.recorder.event(now, "rebalance", orders=moved(previous, target))
        if follow_up:
            self.group.trigger()
        for store in members:
            self._after(self.consumers[store])

    def _reassign(self, partition: Partition, store: int) -> bool:
        """Give `partition` to `store`; True if it must first be revoked from a live
        member (cooperative: in a follow-up rebalance)."""
        if partition.active and partition.owner == store:
            return False
        if partition.active:
            owner = partition.owner
            alive = self.consumers[owner].up and owner in self.group.members
            if alive:
                partition.paused_at = self.env.now
                self._revoke(partition)
                return True
            self._release(partition)
        if partition.revoking:
            partition.target = store
        else:
            self._activate(partition, store)
        return False

    def _revoke(self, partition: Partition) -> None:
        """The owner stops fetching; it commits and lets go once its record is done."""
        store = partition.owner
        partition.active = False
        partition.revoking = True
        self.owned[store].remove(partition.index)
        if partition.busy is None:
            self._commit(partition, partition.position, self.consumers[store], then=self._release)

    def _release(self, partition: Partition) -> None:
        """Nobody reads the partition now; it goes to its target if it has one."""
        if partition.active:
            self.owned[partition.owner].remove(partition.index)
        partition.active = partition.revoking = False
        partition.busy = None
        partition.owner = -1
        partition.lease += 1
        if partition.paused_at is None:
            partition.paused_at = self.env.now
        if partition.target >= 0:
            # Only after the rebalance (the old owner finished its record, or its commit
            # landed): the new owner, maybe idle, polls it now; nobody else would.
            target = partition.target
            self._activate(partition, target)
            self._after(self.consumers[target])

    def _activate(self, partition: Partition, store: int) -> None:
        """`store` reads the partition from now on, from the committed offset."""
        partition.target = -1
        partition.owner = store
        partition.active = True
        partition.position = partition.committed
        self.owned[store].append(partition.index)
        if partition.paused_at is not None:
            self.paused_time += self.env.now - partition.paused_at
            partition.paused_at = None
