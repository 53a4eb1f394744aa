"""Kafka's assignors against their Javadoc, and the coordinator's session expiry.

The Javadoc examples use several topics; with every member subscribed to every topic,
the round robin and sticky assignors lay all partitions out in one list (t0p0, t0p1,
t1p0, ...), so a single topic with that many partitions gives the same assignment, with
partition i standing for the i-th of that list. The range assignor works per topic.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sim.designs.kafka_assignors import (
    ASSIGNORS,
    CooperativeStickyAssignor,
    RangeAssignor,
    RoundRobinAssignor,
    StickyAssignor,
    moved,
)
from sim.designs.kafka_group import session_expiry


def test_range_gives_contiguous_ranges_the_first_members_one_more():
    # Javadoc: C0, C1 and a topic of 3 partitions: C0 gets t0p0, t0p1; C1 t0p2.
    assert RangeAssignor().assign([0, 1], 3) == {0: [0, 1], 1: [2]}
    assert RangeAssignor().assign([0, 1, 2, 3, 4], 12) == {
        0: [0, 1, 2],
        1: [3, 4, 5],
        2: [6, 7],
        3: [8, 9],
        4: [10, 11],
    }


def test_range_with_more_members_than_partitions_leaves_the_last_idle():
    assert RangeAssignor().assign([0, 1, 2], 2) == {0: [0], 1: [1], 2: []}


def test_roundrobin_javadoc_example():
    # C0, C1; t0 and t1 of 3 partitions: C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2].
    assert RoundRobinAssignor().assign([0, 1], 6) == {0: [0, 2, 4], 1: [1, 3, 5]}


def test_sticky_javadoc_example_1():
    """C0, C1, C2; t0..t3 of 2 partitions (t0p0 = 0, t0p1 = 1, t1p0 = 2, ... t3p1 = 7).
    Fresh, as round robin: C0 [t0p0, t1p1, t3p0], C1 [t0p1, t2p0, t3p1], C2 [t1p0, t2p1].
    C1 removed: C0 [t0p0, t1p1, t3p0, t2p0], C2 [t1p0, t2p1, t0p1, t3p1]; round robin
    gives C0 [t0p0, t1p0, t2p0, t3p0], C2 [t0p1, t1p1, t2p1, t3p1], moving two partitions
    of live members as well."""
    sticky = StickyAssignor()
    fresh = sticky.assign([0, 1, 2], 8)
    assert fresh == {0: [0, 3, 6], 1: [1, 4, 7], 2: [2, 5]}
    assert fresh == RoundRobinAssignor().assign([0, 1, 2], 8)
    after = sticky.assign([0, 2], 8, fresh)
    assert after == {0: [0, 3, 6, 4], 2: [2, 5, 1, 7]}
    assert moved(fresh, after) == 3  # only C1's partitions
    again = RoundRobinAssignor().assign([0, 2], 8)
    assert again == {0: [0, 2, 4, 6], 2: [1, 3, 5, 7]}
    assert moved(fresh, again) == 5


def test_cooperative_sticky_assigns_as_sticky_with_the_cooperative_protocol():
    previous = {0: [0, 3], 1: [1, 4], 2: [2, 5]}
    assert CooperativeStickyAssignor().assign([0, 1], 6, previous) == StickyAssignor().assign(
        [0, 1], 6, previous
    )
    assert CooperativeStickyAssignor.cooperative
    assert not any(ASSIGNORS[name].cooperative for name in ("range", "roundrobin", "sticky"))


def test_sticky_gives_a_returning_member_only_what_balance_needs():
    """Two members own 6 partitions; a third joins: each old member gives up one."""
    previous = {0: [0, 1, 2], 1: [3, 4, 5]}
    after = StickyAssignor().assign([0, 1, 2], 6, previous)
    assert after == {0: [0, 1], 1: [3, 4], 2: [2, 5]}
    assert moved(previous, after) == 2


@given(
    members=st.lists(st.integers(0, 30), min_size=1, max_size=12, unique=True).map(sorted),
    partitions=st.integers(0, 60),
    owners=st.lists(st.integers(0, 30), max_size=60),
    name=st.sampled_from(sorted(ASSIGNORS)),
)
def test_every_assignor_assigns_each_partition_once_and_balances(members, partitions, owners, name):
    previous: dict[int, list[int]] = {}
    for partition, owner in enumerate(owners[:partitions]):
        previous.setdefault(owner, []).append(partition)
    result = ASSIGNORS[name]().assign(members, partitions, previous)
    assert sorted(result) == members
    assigned = sorted(p for parts in result.values() for p in parts)
    assert assigned == list(range(partitions))
    counts = [len(parts) for parts in result.values()]
    assert max(counts) - min(counts) <= 1
    if name in ("sticky", "cooperative-sticky"):
        # Sticky: a member keeps min(what it owned, its quota) of its partitions.
        quota = -(-partitions // len(members))
        for member in members:
            kept = set(previous.get(member, ())) & set(result[member])
            assert len(kept) >= min(len(previous.get(member, ())), partitions // len(members))
            assert len(result[member]) <= quota


@given(
    joined=st.floats(0, 100),
    offset=st.floats(0, 1000),
    heartbeat=st.floats(0.5, 10),
    extra=st.floats(0.01, 100),
)
def test_session_expires_between_timeout_minus_heartbeat_and_timeout_after_the_crash(
    joined, offset, heartbeat, extra
):
    session = heartbeat + extra
    crash = joined + offset
    delay = session_expiry(joined, crash, heartbeat, session) - crash
    assert session - heartbeat - 1e-9 <= delay <= session + 1e-9
