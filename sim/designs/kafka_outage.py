"""Outages of the Kafka cluster (`database.outages`, for a Kafka design), as the Kafka
design meets them.

While the cluster is down nothing reaches it. A producer's send fails: the record is lost
at the door (`db_down`), or, with `database.when_down: retry`, kept by the producer and
appended to its partition when the cluster is back, in arrival order. A poll returns no
records and commits nothing; a commit request made meanwhile (a record finished under
`commit: sync`, a revocation's commit), or in flight when the cluster went down, is
retried by the client when the cluster is back and lands `commit_delay` after that, unless
its consumer crashed or lost the partition first (then the record is read again: a
duplicate). The coordinator is down too (`GroupCoordinator.down`): no session expires, no
rebalance completes. Records already in the log survive: the log is replicated and
durable. Records in preparation go on: a consumer needs no broker to prepare them.
"""

from __future__ import annotations


class ClusterOutages:
    """The outage side of `sim.designs.kafka.Kafka` (a mixin: it uses the design's
    broker flag and door, coordinator, consumers and commits)."""

    def broker_down(self) -> list[int]:
        """The cluster goes down; the log survives (nothing is lost now)."""
        self.broker.up = False
        self.group.down()
        return []

    def broker_up(self) -> None:
        """The cluster is back: commits waiting are sent again, the coordinator gives every
        member a fresh session, records kept by producers are appended, consumers poll
        from their positions."""
        self.broker.up = True
        unsent, self.unsent = self.unsent, []
        for commit in unsent:
            self._send(*commit)
        self.group.up()
        kept, self.broker.pending = self.broker.pending, []
        self.broker.kept.clear()  # Kafka's own `cancel` skips a kept record when appended
        for order in kept:
            self._append(order)
        for consumer in self.consumers:
            self._after(consumer)
