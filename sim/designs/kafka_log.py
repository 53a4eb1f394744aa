"""A Kafka topic's partitions as the Kafka design reads them: a log of records, the group's
committed offset, and which consumer reads it (its lease) from which position.
"""

from __future__ import annotations


class Partition:
    """One partition: records (orders) at offsets 0, 1, ... in `log`; `committed`, the
    group's committed offset (the next record a new reader starts from).

    While `active`, `owner` fetches records from `position`, one at a time (`busy`: the
    delivery in preparation). Each time it loses its reader (revoked, lost) its `lease`
    goes up, so that what the old reader still does (finishing, committing) is known to
    be stale.
    While `revoking`, the old owner finishes the record it is preparing and commits it
    before letting go; `target` is the member it then goes to (-1: not decided yet).
    `paused_at` is when it stopped being read for a rebalance (None: it is not paused).
    """

    __slots__ = (
        "active",
        "busy",
        "committed",
        "index",
        "lease",
        "log",
        "owner",
        "paused_at",
        "position",
        "revoking",
        "target",
    )

    def __init__(self, index: int):
        self.index = index
        self.log: list[int] = []
        self.committed = 0
        self.position = 0
        self.owner = -1
        self.active = False
        self.lease = 0
        self.busy = None
        self.revoking = False
        self.target = -1
        self.paused_at: float | None = None

    def waiting(self) -> int:
        """Records no reader has fetched yet: from the position of its reader, or from
        the committed offset, where the next reader will start."""
        return len(self.log) - (self.position if self.active else self.committed)


class Claim:
    """A record fetched by a consumer: the partition, its offset, and the lease it was
    fetched under (the `connection` of its `Delivery`)."""

    __slots__ = ("lease", "offset", "partition")

    def __init__(self, partition: Partition, offset: int, lease: int):
        self.partition = partition
        self.offset = offset
        self.lease = lease
