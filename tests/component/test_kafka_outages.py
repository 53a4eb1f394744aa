"""Outages of the Kafka cluster (`database.outages` for a Kafka design), counted by hand.

Times in seconds, documented defaults unless a test says otherwise (session_timeout 45,
heartbeat_interval 3, rebalance_time 3, auto_commit_interval 5). Two stores of one worker,
partitions 2: with the range assignor store 0 reads p0, store 1 reads p1; a record's
partition is its key hash. The cluster is down over [8.5, 20) unless a test says
otherwise. Records of p0 arrive at 0, 2, 4, 6, 8 (offsets 0-4, orders 0-4) and take 1 s:
store 0 prepares them at once, the one of 8 finishing at 9, inside the outage.
"""

from __future__ import annotations

import pytest
from test_kafka import events, starts
from test_kafka import world as kafka_world

from sim.broker_sections import KafkaSpec
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DatabaseSpec, DesignSpec, StoresSpec

DOWN = ((8.5, 20.0),)
P0 = [(2.0 * k, 1.0, 0) for k in range(5)]


def world(orders, crashes, down=DOWN, horizon=150.0):
    """`orders`: (arrival, prep, key hash); `crashes`: outages of each store; `down`: the
    cluster's."""
    return kafka_world(orders, crashes, horizon, cluster_outages=down)


def run(w, when_down="reject", count=2, **settings):
    design = DesignSpec(
        name="kafka",
        queue="kafka",
        database=DatabaseSpec(when_down=when_down),
        kafka=KafkaSpec(partitions=count, **settings),
    )
    record = simulate(w, StoresSpec(count=count, workers=1), design, trace=True)
    orders = record.orders_frame(w)
    timeline = record.timeline_frame()
    metrics = replication_metrics(orders, timeline, 0.0, None, w.horizon, counters=record.counters)
    assert metrics["arrived"] == metrics["completed"] + metrics["lost"] + metrics["unfinished"]
    return record, orders, timeline, metrics


def test_a_send_while_the_cluster_is_down_is_lost_or_kept_by_the_producer():
    """One store, one partition, records of 10 s at 0 and 2, the cluster down over
    [5, 25), records at 12 and 14 during the outage and one at 30.

    The record of 0 is prepared 0-10: the outage does not stop it. The record of 2 waits in
    the log (it survives the outage); nothing is fetched while the cluster is down, so it
    is fetched at 25 and prepared 25-35. `reject`: the records of 12 and 14 are lost at the
    door (db_down); the one of 30 is prepared 35-45. `retry`: the producer keeps them and
    appends them at 25, in arrival order, after the record of 2: prepared 35-45 and 45-55,
    then the record of 30, 55-65; three records wait in the partition at 25 (`max_lag`).
    max_poll_interval 12 s: a consumer polling through the outage does not leave the group.
    """
    orders = [(0.0, 10.0, 0), (2.0, 10.0, 0), (12.0, 10.0, 0), (14.0, 10.0, 0), (30.0, 10.0, 0)]
    w = world(orders, [[]], down=((5.0, 25.0),), horizon=100.0)
    record, frame, timeline, metrics = run(w, count=1, max_poll_interval=12.0)
    assert frame["first_completion"].tolist()[:2] == [10.0, 35.0]
    assert frame["first_completion"].tolist()[4] == 45.0
    assert frame["lost_at"].tolist()[2:4] == [12.0, 14.0]
    assert (frame["lost_reason"] == "db_down").sum() == 2
    assert (metrics["completed"], metrics["lost"], metrics["rejected"]) == (3, 2, 2)
    assert starts(record, 1) == [(25.0, 0)]
    assert events(timeline, "database_down", "database_up", "left_group", "rebalance") == [
        (5.0, "database_down", None),
        (25.0, "database_up", None),
    ]
    assert metrics["max_lag"] == 1

    record, frame, timeline, metrics = run(w, "retry", count=1, max_poll_interval=12.0)
    assert frame["first_completion"].tolist() == [10.0, 35.0, 45.0, 55.0, 65.0]
    assert (metrics["completed"], metrics["lost"], metrics["rejected"]) == (5, 0, 0)
    assert metrics["max_lag"] == 3
    assert metrics["rebalances"] == 0


def test_an_auto_commit_due_during_the_outage_does_not_land():
    """commit_delay 1. Store 0 commits at its polls: at 5 (position 3, landing at 6). The
    commit due at 10 falls in the outage: it does not land. At 20 the consumer polls
    again and commits position 5, landing at 21; it crashes at 20.5, so the committed
    offset stays 3. Its session is fresh from 20 (the cluster came back): it expires at
    65, the rebalance completes at 68, and store 1 reads p0 from offset 3: the records of
    6 and 8, finished before the crash, are prepared again at 68 and 69 (2 duplicates).

    Without the outage the commit of 10 lands at 11: nothing is prepared again, and the
    crash is detected at 63 (last heartbeat at 18)."""
    w = world(P0, [[(20.5, 200.0)], []])
    record, frame, timeline, metrics = run(w, commit_delay=1.0)
    assert starts(record, 3) == [(6.0, 0), (68.0, 1)]
    assert starts(record, 4) == [(8.0, 0), (69.0, 1)]
    assert frame["completions"].tolist() == [1, 1, 1, 2, 2]
    assert (metrics["duplicates"], metrics["lost"]) == (2, 0)
    assert timeline.loc[timeline["event"] == "detected_down", "time"].tolist() == [65.0]
    assert events(timeline, "rebalance") == [(68.0, "rebalance", None)]

    w = world(P0, [[(20.5, 200.0)], []], down=())
    record, frame, timeline, metrics = run(w, commit_delay=1.0)
    assert frame["completions"].tolist() == [1, 1, 1, 1, 1]
    assert metrics["duplicates"] == 0
    assert timeline.loc[timeline["event"] == "detected_down", "time"].tolist() == [63.0]


@pytest.mark.parametrize(
    ("crash", "duplicates", "delay"),
    [(12.0, 2, 53.0), (7.5, 1, 57.5)],
)
def test_a_crash_during_or_before_the_outage_is_detected_a_session_after_it(
    crash, duplicates, delay
):
    """Store 0 crashes (for good) during the outage, at 12, or before it, at 7.5 (whose
    session would have expired at 51: last heartbeat at 6). The coordinator is down, so
    no session expires meanwhile; back at 20 it gives every member a fresh session: store 0
    is removed at 65, the rebalance completes at 68. Committed offset 3 (the commit of 5;
    the one due at 10 falls in the outage): store 1 prepares offsets 3 and 4 from 68.
    Crash at 12: both were finished (2 duplicates). Crash at 7.5: the record of 8 was
    never fetched (1 duplicate)."""
    w = world(P0, [[(crash, 200.0)], []])
    record, frame, timeline, metrics = run(w)
    assert timeline.loc[timeline["event"] == "detected_down", "detection_delay"].tolist() == [delay]
    assert events(timeline, "rebalance") == [(68.0, "rebalance", None)]
    assert starts(record, 3)[-1] == (68.0, 1)
    assert starts(record, 4)[-1] == (69.0, 1)
    assert metrics["duplicates"] == duplicates
    assert frame["completions"].tolist() == [1, 1, 1, 2, 1 + (duplicates == 2)]


@pytest.mark.parametrize(("crash", "duplicates"), [(20.5, 1), (21.5, 0)])
def test_a_sync_commit_of_a_record_finished_during_the_outage_lands_when_it_is_back(
    crash, duplicates
):
    """commit: sync, commit_delay 1: offsets 0-3 are committed at 2, 4, 6, 8. Offset 4 is
    finished at 9, inside the outage: its commit is sent again at 20 and lands at 21.
    Store 0 crashes at 20.5 (the commit never lands: store 1 prepares the record again at
    68, a duplicate) or at 21.5 (it landed: nothing is prepared again)."""
    w = world(P0, [[(crash, 200.0)], []])
    settings = {"enable_auto_commit": False, "commit": "sync", "commit_delay": 1.0}
    record, _, timeline, metrics = run(w, **settings)
    assert metrics["duplicates"] == duplicates
    assert starts(record, 4)[1:] == ([(68.0, 1)] if duplicates else [])
    assert events(timeline, "rebalance") == [(68.0, "rebalance", None)]
    assert metrics["lost"] == 0


@pytest.mark.parametrize("when_down", ["reject", "retry"])
def test_a_rebalance_under_way_waits_for_the_cluster(when_down):
    """Store 1 crashes at 0.5 for good; its session expires at 45 and the eager
    rebalance stops both partitions. The cluster goes down at 46, before the rebalance
    completes (48); it is started over when the cluster is back at 60 and completes at 63:
    both partitions paused 45-63. A record of p1 sent at 50 is lost at the door, or kept
    by the producer, appended at 60 and prepared by store 0 at 63-64."""
    w = world([(50.0, 1.0, 1)], [[], [(0.5, 200.0)]], down=((46.0, 60.0),))
    _, frame, timeline, metrics = run(w, when_down)
    assert events(timeline, "detected_down", "rebalance") == [
        (45.0, "detected_down", 1),
        (63.0, "rebalance", None),
    ]
    assert metrics["paused_time"] == pytest.approx(2 * (63.0 - 45.0))
    if when_down == "reject":
        assert (metrics["lost"], metrics["rejected"]) == (1, 1)
    else:
        assert frame["first_completion"].tolist() == [64.0]


def test_a_commit_in_flight_when_the_cluster_goes_down_is_sent_again_when_it_is_back():
    """commit: sync, commit_delay 1, the cluster down over [7.5, 20): offset 3, finished
    at 7, is committed at 7 to land at 8, inside the outage: it is sent again at 20 and
    lands at 21. The record of 8 is lost at the door. Store 0 crashes at 20.5, before the
    commit lands: store 1 prepares offset 3 again at 68 (a duplicate)."""
    w = world(P0, [[(20.5, 200.0)], []], down=((7.5, 20.0),))
    settings = {"enable_auto_commit": False, "commit": "sync", "commit_delay": 1.0}
    record, _, _, metrics = run(w, **settings)
    assert starts(record, 3) == [(6.0, 0), (68.0, 1)]
    assert (metrics["duplicates"], metrics["lost"], metrics["rejected"]) == (1, 1, 1)
