"""Kafka's partition assignors for one topic, as plain classes (no SimPy).

Each `assign(members, partitions, previous)` says which partitions each member owns after
a rebalance: `members` are the group's members in the order the assignor sorts them
(stores by number here, as static members are sorted by `group.instance.id`),
`partitions` the topic's partition count, `previous` what each member owned before (the
sticky assignors use it; the others ignore it). Each follows its Javadoc:

- `RangeAssignor`: partitions in numeric order, members in order; each member gets a
  contiguous range of `partitions // members`, the first `partitions % members` one more.
- `RoundRobinAssignor`: partitions in order dealt to members in turn.
- `StickyAssignor`: as balanced as possible (counts differ by at most one), then as many
  existing assignments kept as possible; starting fresh it deals like round robin.
- `CooperativeStickyAssignor`: the sticky assignment, with the cooperative protocol (only
  partitions that move stop; those taken from a live member move in a second rebalance).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

Assignment = dict[int, list[int]]
Previous = Mapping[int, Sequence[int]] | None


class RangeAssignor:
    """Contiguous ranges, the first members one partition more (eager protocol)."""

    name = "range"
    cooperative = False

    def assign(
        self, members: Sequence[int], partitions: int, previous: Previous = None
    ) -> Assignment:
        count = len(members)
        if count == 0:
            return {}
        share, extra = divmod(partitions, count)
        result, start = {}, 0
        for rank, member in enumerate(members):
            size = share + (1 if rank < extra else 0)
            result[member] = list(range(start, start + size))
            start += size
        return result


class RoundRobinAssignor:
    """Partitions dealt to members in turn (eager protocol)."""

    name = "roundrobin"
    cooperative = False

    def assign(
        self, members: Sequence[int], partitions: int, previous: Previous = None
    ) -> Assignment:
        result: Assignment = {member: [] for member in members}
        if not members:
            return result
        for partition in range(partitions):
            result[members[partition % len(members)]].append(partition)
        return result


class StickyAssignor:
    """Balanced first, then sticky (eager protocol).

    With every member subscribed to the one topic: each member gets `partitions //
    members` partitions, `partitions % members` of them one more. A member keeps what it
    owned up to its quota (members in order take the larger quotas while any are left,
    if they owned that many); each partition left over, in numeric order, goes to the
    member with the fewest partitions (the first in order among equals), which keeps
    the counts within one of each other and, starting fresh, deals like round robin.
    """

    name = "sticky"
    cooperative = False

    def assign(
        self, members: Sequence[int], partitions: int, previous: Previous = None
    ) -> Assignment:
        if not members:
            return {}
        low, larger = divmod(partitions, len(members))
        result, taken = self._keep(members, partitions, previous or {}, low, larger)
        heap = [(len(result[member]), rank, member) for rank, member in enumerate(members)]
        heapq.heapify(heap)
        for partition in range(partitions):
            if partition in taken:
                continue
            count, rank, member = heapq.heappop(heap)
            result[member].append(partition)
            heapq.heappush(heap, (count + 1, rank, member))
        return result

    @staticmethod
    def _keep(members, partitions, previous, low, larger):
        result: Assignment = {}
        taken: set[int] = set()
        for member in members:
            owned = sorted(p for p in previous.get(member, ()) if p < partitions and p not in taken)
            quota = low
            if len(owned) > low and larger > 0:
                quota, larger = low + 1, larger - 1
            result[member] = owned[:quota]
            taken.update(result[member])
        return result, taken


class CooperativeStickyAssignor(StickyAssignor):
    """The sticky assignment with the cooperative protocol (KIP-429)."""

    name = "cooperative-sticky"
    cooperative = True


ASSIGNORS = {
    cls.name: cls
    for cls in (RangeAssignor, RoundRobinAssignor, StickyAssignor, CooperativeStickyAssignor)
}


def moved(before: Mapping[int, Sequence[int]], after: Mapping[int, Sequence[int]]) -> int:
    """How many partitions have a different owner in `after` than in `before` (a partition
    owned by nobody before counts as moved)."""
    owner = {p: m for m, parts in before.items() for p in parts}
    return sum(1 for m, parts in after.items() for p in parts if owner.get(p) != m)
