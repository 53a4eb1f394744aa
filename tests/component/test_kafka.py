"""Scripted runs of the Kafka design, with deterministic times, counted by hand.

Times are in seconds. Each online order's partition is its key hash mod `partitions`,
so the tests choose the hash to choose the partition. Defaults as documented:
session_timeout 45, heartbeat_interval 3, rebalance_time 3, auto_commit_interval 5,
max_poll_interval 300. The coordinator's timers (session expiries, rebalances, commit
timers) run after completions, crashes and arrivals at the same instant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.broker_sections import KafkaSpec
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DesignSpec, StoresSpec
from sim.world import ONLINE, World


def world(orders, outages, horizon, cluster_outages=()):
    """`orders`: (arrival, prep, partition key hash) of online orders; `outages` per store;
    `cluster_outages`: the Kafka cluster's (`database.outages`)."""
    size = len(orders)
    return World(
        arrival=np.array([o[0] for o in orders], dtype=float),
        prep=np.array([o[1] for o in orders], dtype=float),
        pinned=np.full(size, ONLINE, dtype=np.int32),
        key_id=np.arange(1, size + 1, dtype=np.int64),
        key_hash=np.array([o[2] for o in orders], dtype=np.uint64),
        outages=tuple(tuple(store) for store in outages),
        horizon=horizon,
        database_outages=cluster_outages,
    )


def run(w, count, workers, **settings):
    design = DesignSpec(name="kafka", queue="kafka", kafka=KafkaSpec(**settings))
    record = simulate(w, StoresSpec(count=count, workers=workers), design, trace=True)
    orders = record.orders_frame(w)
    timeline = record.timeline_frame()
    metrics = replication_metrics(orders, timeline, 0.0, None, w.horizon, counters=record.counters)
    assert metrics["arrived"] == metrics["completed"] + metrics["lost"] + metrics["unfinished"]
    return record, orders, timeline, metrics


def events(timeline, *kinds):
    rows = timeline[timeline["event"].isin(kinds)]
    stores = [None if pd.isna(s) else int(s) for s in rows["store"]]
    return list(zip(rows["time"].tolist(), rows["event"].tolist(), stores, strict=True))


def starts(record, order):
    return [(t, store) for t, what, store, o in record.trace if what == "start" and o == order]


def test_one_crash_with_auto_commit_reprocesses_exactly_the_records_after_the_last_commit():
    """Two stores, partitions 4 (range: store 0 reads p0, p1; store 1 p2, p3), 2 workers.

    p0 gets records at 0, 2, 4, ..., 20 (offsets 0-10, 1 s each); p1 one record at 9 that
    takes 10 s. Store 0 commits at polls: at 5 (offsets 0-2 done: committed 3), at 10
    (the arrival of offset 5 finds the commit due: p0 -> 5, p1 -> 1, covering p1's record
    in preparation). It crashes at 12.5 with p0 offset 6 (from 12) and p1's record in
    preparation. Its last heartbeat was at 12, so its session expires at 57; the rebalance
    completes at 60 and store 1 reads every partition from the committed offsets: p0 from
    offset 5 (done before the crash: prepared again, a duplicate; offset 6: redone, no
    duplicate), p1 from 1: its record, covered by the commit and never finished, is lost.
    """
    p0 = [(2.0 * k, 1.0, 0) for k in range(11)]
    orders = [*p0[:5], (9.0, 10.0, 1), *p0[5:]]  # order 5 is p1's record
    w = world(orders, [[(12.5, 112.5)], []], 200.0)
    record, frame, timeline, metrics = run(w, count=2, workers=2, partitions=4)
    deliveries = frame["deliveries"].tolist()
    # Offsets 0-4 of p0 (orders 0-4) once; offsets 5, 6 (orders 6, 7) twice; the rest once.
    assert deliveries == [1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1]
    assert frame["completions"].tolist() == [1, 1, 1, 1, 1, 0, 2, 1, 1, 1, 1, 1]
    assert starts(record, 6) == [(10.0, 0), (60.0, 1)]
    assert starts(record, 7) == [(12.0, 0), (61.0, 1)]
    assert (metrics["duplicates"], metrics["lost_online"]) == (1, 1)
    assert frame.loc[5, "status"] == "lost"
    assert events(timeline, "crash", "detected_down", "rebalance") == [
        (12.5, "crash", 0),
        (57.0, "detected_down", 0),
        (60.0, "rebalance", None),
        (112.5 + 3.0, "rebalance", None),  # store 0 back: joins at 112.5
    ]
    assert timeline.loc[timeline["event"] == "detected_down", "detection_delay"].tolist() == [44.5]
    assert metrics["rebalances"] == 2
    # Every partition stops 3 s in each eager rebalance.
    assert metrics["paused_time"] == pytest.approx(2 * 4 * 3.0)


def test_a_max_poll_interval_violation_makes_the_consumer_leave_and_rejoin():
    """Two stores of 1 worker, partitions 2. Store 0 takes p0's record at 0 (400 s): it
    cannot poll, so at 300 it leaves the group (its record uncommitted); the rebalance
    completes at 303 and store 1 prepares the record again from offset 0. Store 0
    finishes at 400 (its commit fails), polls and rejoins: a rebalance starting at 400,
    in which store 1 must finish the record before giving p0 back (after the horizon)."""
    w = world([(0.0, 400.0, 0)], [[], []], 450.0)
    record, frame, timeline, metrics = run(w, count=2, workers=1, partitions=2)
    assert starts(record, 0) == [(0.0, 0), (303.0, 1)]
    assert frame["first_completion"].tolist() == [400.0]
    assert frame["deliveries"].tolist() == [2]
    assert events(timeline, "left_group", "rebalance") == [
        (300.0, "left_group", 0),
        (303.0, "rebalance", None),
        (403.0, "rebalance", None),
    ]
    # 300-303: both partitions; 400-403: p1; 400-450: p0, still being given up.
    assert metrics["paused_time"] == pytest.approx(6.0 + 3.0 + 50.0)
    assert metrics["max_lag"] == 1


def test_long_max_poll_interval_keeps_the_consumer_in_the_group():
    w = world([(0.0, 400.0, 0)], [[], []], 450.0)
    _, frame, _timeline, metrics = run(w, count=2, workers=1, partitions=2, max_poll_interval=500.0)
    assert metrics["rebalances"] == 0
    assert frame["deliveries"].tolist() == [1]
    assert metrics["paused_time"] == 0.0


def crash_of_store_2(assignor):
    """Three stores, partitions 6; store 2 crashes at 10 (last heartbeat 9: session
    expires at 54, the rebalance completes at 57). Order 0 (p0, 30 s) starts at 50;
    order 1 arrives at 55 on p3."""
    w = world([(50.0, 30.0, 0), (55.0, 1.0, 3)], [[], [], [(10.0, 1000.0)]], 200.0)
    return run(w, count=3, workers=4, partitions=6, assignor=assignor)


def test_eager_rebalancing_stops_every_partition():
    """Range: store 0 reads p0, p1; store 1 p2, p3; store 2 p4, p5. From 54 every
    member stops: store 0 finishes order 0 (at 80) before giving p0 up; p3 (store 1
    before and after) is idle until 57, so order 1 starts at 57. Stopped: p0 54-80,
    the five others 54-57."""
    record, _, _timeline, metrics = crash_of_store_2("range")
    assert starts(record, 1) == [(57.0, 1)]
    assert metrics["paused_time"] == pytest.approx(26.0 + 5 * 3.0)
    assert metrics["rebalances"] == 1


def test_cooperative_rebalancing_stops_only_the_partitions_that_move():
    """Cooperative-sticky (round robin at the start): store 0 reads p0, p3; store 1 p1,
    p4; store 2 p2, p5. Only p2 and p5 stop (54-57); order 1 starts at once, at 55."""
    record, _, _timeline, metrics = crash_of_store_2("cooperative-sticky")
    assert starts(record, 1) == [(55.0, 0)]
    assert metrics["paused_time"] == pytest.approx(2 * 3.0)
    assert metrics["rebalances"] == 1


def restart(static):
    """Two stores, partitions 2. p0: records at 0 (1 s), 8 (4 s: in preparation at the
    crash), 20 and 25 (1 s, while store 0 is down). Store 0 commits offset 1 at 5, and
    is down from 10 to 30."""
    orders = [(0.0, 1.0, 0), (8.0, 4.0, 0), (20.0, 1.0, 0), (25.0, 1.0, 0)]
    w = world(orders, [[(10.0, 30.0)], []], 100.0)
    return run(w, count=2, workers=1, partitions=2, static_membership=static)


def test_static_membership_keeps_the_partitions_across_a_short_restart():
    """Back at 30, before its session would expire (54): store 0 resumes p0 at the
    committed offset 1, no rebalance: order 1 is redone 30-34, then orders 2 and 3."""
    record, _frame, timeline, metrics = restart(static=True)
    assert metrics["rebalances"] == 0
    assert events(timeline, "detected_down", "rebalance") == []
    assert [starts(record, order) for order in range(4)] == [
        [(0.0, 0)],
        [(8.0, 0), (30.0, 0)],
        [(34.0, 0)],
        [(35.0, 0)],
    ]
    assert metrics["duplicates"] == 0
    assert metrics["max_lag"] == 2  # orders 2 and 3 waiting while store 0 is down


def test_without_static_membership_a_short_restart_waits_for_the_old_session():
    """The restarted store joins as a new member at 30; the rebalance waits for its old
    self's session to expire (54) and completes at 57, when store 0 gets p0 back."""
    record, _, timeline, metrics = restart(static=False)
    assert events(timeline, "detected_down", "rebalance") == [
        (54.0, "detected_down", 0),
        (57.0, "rebalance", None),
    ]
    assert starts(record, 1) == [(8.0, 0), (57.0, 0)]
    assert metrics["paused_time"] == pytest.approx(2 * 27.0)


def test_a_partition_let_go_after_the_rebalance_is_read_by_its_new_owner():
    """Two stores of 2 workers, partitions 4, rebalance_time 2, session_timeout 10. Store 1
    is down over 3-5 and 20-60; after the rebalance of 29 store 0 reads every partition.
    Store 1 rejoins at 60: the rebalance of 62 gives it partitions 2 and 3 back, but
    store 0 is preparing order 4 of partition 2 (35 to 65), so it finishes it, commits
    and lets go at 65. Store 1, idle, reads partition 2 from then: order 6 from 65 to 75,
    then order 7 from 75 to 105."""
    orders = [
        (5.0, 10.0, 2),
        (7.0, 20.0, 1),
        (15.0, 20.0, 5),
        (21.0, 5.0, 6),
        (25.0, 30.0, 6),
        (33.0, 1.0, 4),
        (46.0, 10.0, 6),
        (60.0, 30.0, 6),
        (74.0, 5.0, 0),
        (97.0, 30.0, 0),
    ]
    w = world(orders, [[], [(3.0, 5.0), (20.0, 60.0)]], 400.0)
    record, _frame, timeline, metrics = run(
        w, 2, 2, partitions=4, rebalance_time=2.0, session_timeout=10.0
    )
    assert events(timeline, "rebalance")[-1] == (62.0, "rebalance", None)
    assert starts(record, 4) == [(35.0, 0)]
    assert starts(record, 6) == [(65.0, 1)]
    assert starts(record, 7) == [(75.0, 1)]
    assert metrics["unfinished"] == 0
