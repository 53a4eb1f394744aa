"""Scripted runs of the failure modes, counted by hand.

Polls happen at t = 1, 2, 3, ... with `misses: 2` unless a test says otherwise; failures
(crashes, partitions, outages) come before polls at the same instant, so a partition
`[at, at + for)` is seen by the polls at the integers it covers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_scripted import find_key, make_world, run, steps

from sim.hashing import Ring
from sim.model import simulate
from sim.scenario import DatabaseSpec, DesignSpec, OrchestratorSpec, StoresSpec


def world_with(orders, outages, horizon, **modes):
    """A hand-made world (see `make_world`) with failure-mode schedules."""
    base = make_world(orders, outages, horizon)
    return type(base)(**{**base.__dict__, **modes})


def db(misses=2, **orchestrator) -> DesignSpec:
    spec = OrchestratorSpec(misses=misses, **orchestrator)
    return DesignSpec(name="mq", queue="db", orchestrator=spec)


def events(record, *kinds):
    return [(e[0], e[1], e[2]) for e in record.timeline if not kinds or e[1] in kinds]


# --- partitions ---------------------------------------------------------------------------


@pytest.mark.parametrize("fencing", [False, True])
@pytest.mark.parametrize("misses", [1, 2, 3])
@pytest.mark.parametrize(
    ("at", "length"),
    [(10.5, 2.0), (10.5, 1.0), (10.0, 2.0), (10.2, 1.8), (10.0, 1.0), (9.9, 3.2), (10.0, 3.0)],
)
def test_a_partition_is_detected_exactly_when_it_covers_misses_poll_instants(
    fencing, misses, at, length
):
    """Store 1 is cut off during [at, at + length): the polls at the integers in it go
    unanswered; it is declared down (falsely: it is up) at the `misses`-th of them, if
    there are that many, and declared up at the first poll after; fenced and unfenced
    then, with fencing."""
    world = world_with([(0.0, 1.0, None, 1)], [[], []], 50.0, partitions=((), ((at, at + length),)))
    covered = [k for k in range(1, 50) if at <= k < at + length]
    record, metrics = run(world, db(misses, fencing=fencing), count=2)
    detected, back = float(covered[misses - 1]) if len(covered) >= misses else None, None
    if detected is not None:
        back = float(covered[-1] + 1)
        assert events(record, "false_detection", "detected_up") == [
            (detected, "false_detection", 1),
            (back, "detected_up", 1),
        ]
    else:
        assert events(record, "false_detection", "detected_up") == []
    fenced = [(detected, "fenced", 1), (back, "unfenced", 1)] if detected and fencing else []
    assert events(record, "fenced", "unfenced") == fenced
    assert metrics["false_detections"] == (len(covered) >= misses)
    assert math.isnan(metrics["detection_delay"])  # no true detection


def partitioned_store_1(fencing, crash_of_2=None):
    """3 stores, 1 worker. Order 0 (prep 10, key on store 1; on store 0 without store 1)
    arrives at 5: store 1 prepares it 5-15. Store 1 is cut off [8, 10.5): declared down at
    9 (polls 8 and 9 unanswered), up at 11."""
    h = find_key(
        lambda h: (
            Ring([0, 1, 2]).lookup(h) == 1
            and Ring([0, 2]).lookup(h) == 0
            and Ring([0, 1]).lookup(h) == 1
        )
    )
    outages = [[], [], [] if crash_of_2 is None else [crash_of_2]]
    world = world_with([(5.0, 10.0, None, h)], outages, 100.0, partitions=((), ((8.0, 10.5),), ()))
    return run(world, db(fencing=fencing), count=3)


def test_an_unfenced_partitioned_store_prepares_what_was_redistributed_too():
    """The redistribution at 9 sends order 0 to store 0 (9-19) while store 1, up, goes on:
    store 1 finishes at 15 (first completion), store 0 at 19 (a duplicate, 10 wasted)."""
    record, metrics = partitioned_store_1(fencing=False)
    assert steps(record, "start", "finish") == [
        (5.0, "start", 1, 0),
        (9.0, "start", 0, 0),
        (15.0, "finish", 1, 0),
        (19.0, "finish", 0, 0),
    ]
    assert (metrics["duplicates"], metrics["wasted_work"], metrics["false_detections"]) == (
        1,
        10,
        1,
    )


def test_a_fenced_partitioned_store_drops_its_work_and_nothing_is_done_twice():
    """Fenced at 9, store 1 drops order 0 (4 minutes of work wasted, exactly what it was
    preparing); store 0 prepares it 9-19. Store 1 is unfenced when declared up at 11."""
    record, metrics = partitioned_store_1(fencing=True)
    assert steps(record, "start", "finish", "abandon") == [
        (5.0, "start", 1, 0),
        (9.0, "abandon", 1, 0),
        (9.0, "start", 0, 0),
        (19.0, "finish", 0, 0),
    ]
    assert (metrics["duplicates"], metrics["wasted_work"], metrics["completed"]) == (0, 4.0, 1)
    assert events(record, "fenced", "unfenced") == [(9.0, "fenced", 1), (11.0, "unfenced", 1)]


def test_a_store_put_back_can_still_pull_its_keys_back_under_all():
    """As above, fenced, and store 2 crashes at 12 (declared down at 13): under `all`,
    the redistribution at 13 routes order 0 back to store 1, a member again since 11,
    which prepares it 13-23 while store 0 finishes at 19: one duplicate despite fencing."""
    record, metrics = partitioned_store_1(fencing=True, crash_of_2=(12.0, 200.0))
    assert (13.0, "start", 1, 0) in record.trace
    assert (metrics["duplicates"], metrics["completed"]) == (1, 1)


def test_a_fenced_store_takes_no_walk_in_until_declared_up():
    """Store 1 is cut off [8, 10.5), fenced at 9, unfenced at 11: a walk-in at 10 is lost
    (fenced); one at 11.5 is taken."""
    world = world_with(
        [(10.0, 1.0, 1, 0), (11.5, 1.0, 1, 0)],
        [[], []],
        50.0,
        partitions=((), ((8.0, 10.5),)),
    )
    record, metrics = run(world, db(fencing=True), count=2)
    orders = record.orders_frame(world)
    assert orders["lost_reason"].tolist()[0] == "fenced"
    assert orders["lost_reason"].isna().tolist() == [False, True]
    assert (metrics["lost"], metrics["completed"]) == (1, 1)


# --- lost polls ----------------------------------------------------------------------------


def test_two_lost_answers_in_a_row_declare_a_live_store_down():
    """Store 0's answers to polls 5 and 6 are lost, store 1's to poll 9 only: store 0 is
    declared down at 6 (a false detection, then a redistribution) and up at 7; store 1
    is never declared down."""
    lost = (np.array([5, 6]), np.array([9]))
    world = world_with([(0.0, 1.0, None, 1)], [[], []], 50.0, lost_polls=lost)
    record, metrics = run(world, db(), count=2)
    assert events(record) == [
        (6.0, "false_detection", 0),
        (6.0, "redistribute", -1),
        (7.0, "detected_up", 0),
    ]
    assert metrics["false_detections"] == 1


# --- slowdowns -----------------------------------------------------------------------------


def test_a_slow_store_prepares_slower_only_inside_the_slowdown():
    """One store, slowdown [10, 20) at factor 2. Order 0 (prep 10) starts at 5: 5 minutes
    of work by 10, the other 5 take 10: it finishes at 20 (5 minutes slow). Order 1 (prep
    2) arrives at 25, after the slowdown: 25-27."""
    world = world_with(
        [(5.0, 10.0, None, 1), (25.0, 2.0, None, 1)], [[]], 50.0, slowdowns=(((10.0, 20.0, 2.0),),)
    )
    for queue in ("ram", "db"):
        record, metrics = run(world, DesignSpec(name=queue, queue=queue), count=1)
        assert steps(record, "finish") == [(20.0, "finish", 0, 0), (27.0, "finish", 0, 1)]
        assert metrics["slow_time"] == 5.0
        assert events(record, "slowdown", "slowdown_end") == [
            (10.0, "slowdown", 0),
            (20.0, "slowdown_end", 0),
        ]


def test_work_abandoned_on_a_slow_store_counts_the_work_done():
    """Slowdown [0, 100) at factor 4; order 0 (prep 10) starts at 0; the store crashes at
    8: 2 minutes of work done (wasted), 6 minutes lost to slowness."""
    world = world_with(
        [(0.0, 10.0, None, 1)], [[(8.0, 200.0)]], 50.0, slowdowns=(((0.0, 100.0, 4.0),),)
    )
    _, metrics = run(world, DesignSpec(name="ram", queue="ram"), count=1)
    assert (metrics["wasted_work"], metrics["slow_time"], metrics["lost"]) == (2.0, 6.0, 1)


# --- the database's outages ----------------------------------------------------------------


@pytest.mark.parametrize("when_down", ["reject", "retry"])
def test_an_order_arriving_while_the_database_is_down(when_down):
    """One store; the database is down [10, 20). Order 0 (prep 5) arrives at 12: `reject`
    loses it at the door (db_down); with `retry` it is written at 20 and prepared 20-25
    (latency 13, stranded 8 minutes while it waited). ram_only does not notice."""
    world = world_with([(12.0, 5.0, None, 1)], [[]], 50.0, database_outages=((10.0, 20.0),))
    design = DesignSpec(name="mq", queue="db", database=DatabaseSpec(when_down=when_down))
    record, metrics = run(world, design, count=1)
    if when_down == "reject":
        assert (metrics["lost"], metrics["rejected"], metrics["completed"]) == (1, 1, 0)
        assert record.orders_frame(world)["lost_reason"].tolist() == ["db_down"]
    else:
        assert (metrics["lost"], metrics["completed"], metrics["latency_mean"]) == (0, 1, 13.0)
        assert metrics["stranded_time"] == 8.0
    _, ram = run(world, DesignSpec(name="ram", queue="ram"), count=1)
    assert (ram["completed"], ram["rejected"]) == (1, 0)


def test_a_done_write_waits_for_the_database():
    """Order 0 (prep 10) arrives at 5 and finishes at 15, while the database is down
    [10, 20): its D status lands at 20."""
    world = world_with([(5.0, 10.0, None, 1)], [[]], 50.0, database_outages=((10.0, 20.0),))
    record, _ = run(world, db(), count=1)
    orders = record.orders_frame(world)
    assert (orders["first_completion"][0], orders["done_at"][0]) == (15.0, 20.0)


def test_a_redistribution_waits_for_a_round_with_the_database_up():
    """Order 0 (prep 10, key on store 1) arrives at 8; store 1 crashes at 14 and is
    declared down at 15, while the database is down [10, 20): the redistribution waits
    for the round at 20, which sends order 0 to store 0 (20-30); stranded 14-20."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 1)
    world = world_with(
        [(8.0, 10.0, None, h)], [[], [(14.0, 200.0)]], 100.0, database_outages=((10.0, 20.0),)
    )
    record, metrics = run(world, db(), count=2)
    assert events(record, "detected_down", "redistribute") == [
        (15.0, "detected_down", 1),
        (20.0, "redistribute", -1),
    ]
    assert steps(record, "finish") == [(30.0, "finish", 0, 0)]
    assert metrics["stranded_time"] == 6.0


# --- the orchestrator's outages ------------------------------------------------------------


def test_no_polls_while_the_orchestrator_is_down():
    """The orchestrator is down [10, 20); store 0 crashes at 12 and is first polled at 20:
    declared down at 21 (detection delay 9). Order 0 (prep 5, key on store 0), dropped at
    12, is prepared by store 1 21-26."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    world = world_with(
        [(11.0, 5.0, None, h)], [[(12.0, 200.0)], []], 100.0, orchestrator_outages=((10.0, 20.0),)
    )
    record, metrics = run(world, db(), count=2)
    assert events(record, "detected_down", "orchestrator_down", "orchestrator_up") == [
        (10.0, "orchestrator_down", -1),
        (20.0, "orchestrator_up", -1),
        (21.0, "detected_down", 0),
    ]
    assert metrics["detection_delay"] == 9.0
    assert steps(record, "start", "finish")[-2:] == [(21.0, "start", 1, 0), (26.0, "finish", 1, 0)]


# --- incarnations and leases ---------------------------------------------------------------


def short_outage_world():
    """Order 0 (prep 5, key on store 0) starts at 8; store 0 is down [10.2, 10.7), between
    two polls; order 1 (prep 20, key on store 1) is prepared by store 1 from 0 to 20."""
    h0 = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    h1 = find_key(lambda h: Ring([0, 1]).lookup(h) == 1)
    return world_with([(0.0, 20.0, None, h1), (8.0, 5.0, None, h0)], [[(10.2, 10.7)], []], 100.0)


def test_a_restart_seen_in_an_answer_sends_the_stores_orders_again():
    """With incarnations, store 0's answer at 11 shows a restart: order 1 goes to it again
    (11-16); it was stranded 10.2-11. Without, it stays stranded to the end."""
    record, metrics = run(short_outage_world(), db(incarnations=True), count=2)
    assert events(record, "restart_seen") == [(11.0, "restart_seen", 0)]
    assert steps(record, "finish") == [(16.0, "finish", 0, 1), (20.0, "finish", 1, 0)]
    assert (metrics["stranded"], metrics["stranded_time"]) == (0, pytest.approx(0.8))
    _, without = run(short_outage_world(), db(), count=2)
    assert (without["stranded"], without["completed"]) == (1, 1)


def test_a_lease_sends_an_n_order_again_at_the_first_round_after_max_age():
    """max_age 5: order 1, sent at 8, is sent again at 13 (the first round at or after
    8 + 5) and prepared by store 0 13-18. Order 0's lease runs out at 5, 10 and 15 while
    store 1 prepares it: each time store 1 ignores it (no duplicate)."""
    record, metrics = run(short_outage_world(), db(max_age=5.0), count=2)
    assert [e[0] for e in events(record, "lease_expired")] == [5.0, 10.0, 13.0, 15.0]
    assert steps(record, "finish") == [(18.0, "finish", 0, 1), (20.0, "finish", 1, 0)]
    assert (metrics["duplicates"], metrics["stranded_time"]) == (0, pytest.approx(2.8))
    assert steps(record, "ignored") == [
        (5.0, "ignored", 1, 0),
        (10.0, "ignored", 1, 0),
        (15.0, "ignored", 1, 0),
    ]


def test_default_settings_simulate_exactly_as_a_world_without_failure_modes():
    """A world with empty schedules runs event for event like one without them."""
    world = short_outage_world()
    empty = world_with(
        [(0.0, 20.0, None, world.key_hash[0]), (8.0, 5.0, None, world.key_hash[1])],
        [[(10.2, 10.7)], []],
        100.0,
        partitions=((), ()),
        slowdowns=((), ()),
        lost_polls=(np.array([], dtype=np.int64),) * 2,
    )
    a = simulate(world, StoresSpec(count=2), db(), trace=True)
    b = simulate(empty, StoresSpec(count=2), db(), trace=True)
    assert (a.trace, a.timeline) == (b.trace, b.timeline)
