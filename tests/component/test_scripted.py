"""Small scripted runs with deterministic times, counted by hand.

Each test builds a world by hand (arrival, preparation time, pinned store, key hash; each
store's outages), runs one design, and checks the exact event log or counts stated in its
docstring. Polls happen at t = 1, 2, 3, ...; `misses: 2`, so a store that crashes at an
integer time t (crashes come before polls at the same instant) is declared down at t + 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.hashing import Modulo, Ring, key_hash
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.records import Recorder
from sim.scenario import BalancerSpec, DatabaseSpec, DesignSpec, OrchestratorSpec, StoresSpec
from sim.world import ONLINE, World


def make_world(orders, outages, horizon):
    """`orders`: (arrival, prep, pinned store or None, key hash); `outages` per store."""
    return World(
        arrival=np.array([o[0] for o in orders], dtype=float),
        prep=np.array([o[1] for o in orders], dtype=float),
        pinned=np.array([ONLINE if o[2] is None else o[2] for o in orders], dtype=np.int32),
        key_id=np.arange(len(orders), dtype=np.int64),
        key_hash=[o[3] for o in orders],
        outages=tuple(tuple(store) for store in outages),
        horizon=horizon,
    )


def find_key(condition) -> int:
    """The first key hash, of k0, k1, ..., for which `condition(hash)` holds."""
    return next(h for h in (key_hash(f"k{i}") for i in range(10_000)) if condition(h))


def design(queue="db", strategy="ring", ack_delay=0.0) -> DesignSpec:
    return DesignSpec(
        name=f"{queue}_{strategy}",
        queue=queue,
        database=DatabaseSpec(ack_delay=ack_delay),
        balancer=BalancerSpec(strategy=strategy),
    )


def run(world, spec, count, workers=1) -> tuple[Recorder, dict]:
    record = simulate(world, StoresSpec(count=count, workers=workers), spec, trace=True)
    metrics = replication_metrics(
        record.orders_frame(world), record.timeline_frame(), 0.0, None, world.horizon
    )
    return record, metrics


def steps(record, *kinds):
    return [step for step in record.trace if not kinds or step[1] in kinds]


# --- a crash with two orders queued and one in preparation ---------------------------------


def three_orders_on_store_0(strategy):
    """Orders 0, 1, 2 arrive at t = 0, 1, 2 (prep 10 each), all routed to store 0 of 2;
    store 0 crashes at t = 5 and stays down past the end (t = 100)."""
    if strategy == "modulo":
        h = find_key(lambda h: Modulo([0, 1]).lookup(h) == 0)
    else:
        h = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    orders = [(0.0, 10.0, None, h), (1.0, 10.0, None, h), (2.0, 10.0, None, h)]
    return make_world(orders, [[(5.0, 200.0)], []], horizon=100.0)


def test_ram_only_loses_the_queued_and_the_prepared():
    """At t = 5 store 0 holds order 0 (in preparation since 0) and orders 1, 2 (queued):
    ram_only loses all three, and order 0's 5 minutes of preparation are wasted."""
    record, metrics = run(three_orders_on_store_0("ring"), design("ram"), count=2)
    assert steps(record) == [
        (0.0, "sent", 0, 0),
        (0.0, "start", 0, 0),
        (1.0, "sent", 0, 1),
        (2.0, "sent", 0, 2),
        (5.0, "abandon", 0, 0),
        (5.0, "drop", 0, 1),
        (5.0, "drop", 0, 2),
        (5.0, "lost", -1, 0),
        (5.0, "lost", -1, 1),
        (5.0, "lost", -1, 2),
    ]
    assert (metrics["lost"], metrics["completed"], metrics["unfinished"]) == (3, 0, 0)
    assert metrics["wasted_work"] == 5.0
    assert [event[:6] for event in record.timeline] == [(5.0, "crash", 0, 3, 0, 3)]


@pytest.mark.parametrize("strategy", ["ring", "modulo"])
def test_database_design_finishes_them_after_detection(strategy):
    """Store 0 crashes at 5; polls at 5 and 6 go unanswered, so it is declared down at 6
    (detection delay 1). The three orders are still N and all go to store 1, the only store
    up: prepared 6-16, 16-26, 26-36. Latencies 16, 25, 34; nothing lost or duplicated."""
    record, metrics = run(three_orders_on_store_0(strategy), design("db", strategy), count=2)
    assert steps(record, "start", "finish", "abandon", "drop", "lost") == [
        (0.0, "start", 0, 0),
        (5.0, "abandon", 0, 0),
        (5.0, "drop", 0, 1),
        (5.0, "drop", 0, 2),
        (6.0, "start", 1, 0),
        (16.0, "finish", 1, 0),
        (16.0, "start", 1, 1),
        (26.0, "finish", 1, 1),
        (26.0, "start", 1, 2),
        (36.0, "finish", 1, 2),
    ]
    orders = record.orders_frame(three_orders_on_store_0(strategy))
    assert orders["first_completion"].tolist() == [16.0, 26.0, 36.0]
    assert orders["done_at"].tolist() == [16.0, 26.0, 36.0]
    assert orders["moves"].tolist() == [1, 1, 1]
    assert orders["attempts"].tolist() == [2, 1, 1]
    assert (metrics["lost"], metrics["duplicates"], metrics["completed"]) == (0, 0, 3)
    assert metrics["latency_mean"] == pytest.approx((16 + 25 + 34) / 3)
    assert metrics["wasted_work"] == 5.0
    assert metrics["detection_delay"] == 1.0
    events = [(t, e, s, n, moved) for t, e, s, n, moved, _, _ in record.timeline]
    assert events == [
        (5.0, "crash", 0, 3, 0),
        (6.0, "detected_down", 0, 0, 0),
        (6.0, "redistribute", -1, 3, 3),
    ]


# --- duplicates ------------------------------------------------------------------------------


def order_on_1_and_crash_of_0(h):
    """Order 0 arrives at t = 0 with prep 10; store 0 (empty) crashes at t = 2 for good."""
    return make_world([(0.0, 10.0, None, h)], [[(2.0, 200.0)], [], []], horizon=100.0)


def test_modulo_moves_an_order_of_a_live_store_and_prepares_it_twice():
    """The key maps to store 1 of {0, 1, 2} but to store 2 of {1, 2} under hash mod n.
    Store 0 is declared down at 3 and the redistribution sends the order, still N and in
    preparation at store 1, to store 2: store 1 finishes it at 10, store 2 again at 13.
    One duplicate; its 10 minutes are wasted work."""
    h = find_key(lambda h: Modulo([0, 1, 2]).lookup(h) == 1 and Modulo([1, 2]).lookup(h) == 2)
    world = order_on_1_and_crash_of_0(h)
    record, metrics = run(world, design("db", "modulo"), count=3)
    assert steps(record, "start", "finish") == [
        (0.0, "start", 1, 0),
        (3.0, "start", 2, 0),
        (10.0, "finish", 1, 0),
        (13.0, "finish", 2, 0),
    ]
    assert (metrics["duplicates"], metrics["completed"], metrics["moves"]) == (1, 1, 1)
    assert metrics["wasted_work"] == 10.0
    assert metrics["latency_mean"] == 10.0


def test_ring_sends_the_order_back_to_its_own_store_which_ignores_it():
    """Same story on the ring: the key of a live store maps to the same store, which
    already holds it and ignores the copy. No duplicate, no move."""
    h = find_key(lambda h: Ring([0, 1, 2]).lookup(h) == 1)
    world = order_on_1_and_crash_of_0(h)
    record, metrics = run(world, design("db", "ring"), count=3)
    assert (3.0, "ignored", 1, 0) in record.trace
    assert (metrics["duplicates"], metrics["moves"], metrics["completed"]) == (0, 0, 1)


def test_a_done_write_in_flight_when_the_store_crashes_never_lands():
    """Order 0 on store 0 finishes at 5; its D write would land at 8 (ack_delay 3), but
    store 0 crashes at 6. Declared down at 7, the order (still N) goes to store 1, which
    prepares it again, 7-12; that D write lands at 15. One duplicate."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    world = make_world([(0.0, 5.0, None, h)], [[(6.0, 200.0)], []], horizon=100.0)
    record, metrics = run(world, design("db", "ring", ack_delay=3.0), count=2)
    assert steps(record, "start", "finish", "done") == [
        (0.0, "start", 0, 0),
        (5.0, "finish", 0, 0),
        (7.0, "start", 1, 0),
        (12.0, "finish", 1, 0),
        (15.0, "done", -1, 0),
    ]
    assert (metrics["duplicates"], metrics["completed"]) == (1, 1)
    assert record.orders_frame(world)["done_at"].tolist() == [15.0]


def test_a_recovered_store_takes_its_keys_back_on_the_next_redistribution():
    """The key belongs to store 0 of {0, 1, 2} and to store 1 of {1, 2}. Order 0 (prep 50)
    starts on store 0 at 0. Store 0 crashes at 10 and recovers at 15: declared down at 11,
    the order moves to store 1 (11-61); store 0 answers at 15 and is back in the ring.
    Store 2 crashes at 20, declared down at 21: the redistribution maps the order back to
    store 0, which prepares it 21-71 while store 1 is still on it. Store 1 finishes at 61,
    store 0 at 71: one duplicate, two moves."""
    h = find_key(lambda h: Ring([0, 1, 2]).lookup(h) == 0 and Ring([1, 2]).lookup(h) == 1)
    world = make_world([(0.0, 50.0, None, h)], [[(10.0, 15.0)], [], [(20.0, 500.0)]], horizon=100.0)
    record, metrics = run(world, design("db", "ring"), count=3)
    assert steps(record, "start", "finish", "abandon") == [
        (0.0, "start", 0, 0),
        (10.0, "abandon", 0, 0),
        (11.0, "start", 1, 0),
        (21.0, "start", 0, 0),
        (61.0, "finish", 1, 0),
        (71.0, "finish", 0, 0),
    ]
    assert [e[:3] for e in record.timeline] == [
        (10.0, "crash", 0),
        (11.0, "detected_down", 0),
        (11.0, "redistribute", -1),
        (15.0, "recover", 0),
        (15.0, "detected_up", 0),
        (20.0, "crash", 2),
        (21.0, "detected_down", 2),
        (21.0, "redistribute", -1),
    ]
    assert (metrics["duplicates"], metrics["moves"]) == (1, 2)
    assert metrics["wasted_work"] == 10.0 + 50.0


# --- walk-ins, down stores, undetected outages ------------------------------------------------


@pytest.mark.parametrize("queue", ["ram", "db"])
def test_walk_ins_die_with_their_store_in_every_design(queue):
    """Walk-in 0 is being prepared at store 0 (0-10) when it crashes at 4: lost (crash).
    Walk-in 1 arrives at store 0 at 6, while it is down: lost (store_down)."""
    world = make_world([(0.0, 10.0, 0, 0), (6.0, 10.0, 0, 0)], [[(4.0, 200.0)], []], horizon=100.0)
    record, metrics = run(world, design(queue), count=2)
    orders = record.orders_frame(world)
    assert orders["lost_reason"].tolist() == ["crash", "store_down"]
    assert orders["lost_at"].tolist() == [4.0, 6.0]
    assert (metrics["lost"], metrics["lost_offline"], metrics["lost_online"]) == (2, 2, 0)


def test_an_order_sent_to_an_undetected_down_store_waits_in_the_database():
    """Store 0 crashes at 10. Order 0 (key on store 0, prep 5) arrives at 10.5, before the
    crash is detected: ram_only loses it; the database design keeps it N, and the
    redistribution at 11 sends it to store 1 (11-16)."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    world = make_world([(10.5, 5.0, None, h)], [[(10.0, 200.0)], []], horizon=100.0)
    _, ram = run(world, design("ram"), count=2)
    record, db = run(world, design("db"), count=2)
    assert (ram["lost"], ram["completed"]) == (1, 0)
    assert (10.5, "refused", 0, 0) in record.trace
    assert steps(record, "start", "finish") == [(11.0, "start", 1, 0), (16.0, "finish", 1, 0)]
    assert (db["lost"], db["completed"], db["latency_mean"]) == (0, 1, 5.5)


def test_an_outage_between_two_polls_goes_unnoticed_and_its_orders_wait_forever():
    """Store 0 crashes at 10.2 and recovers at 10.7: the polls at 10 and 11 both find it
    up, so nobody notices. Order 0 (prep 5, started at 8) is dropped; with no
    redistribution it stays N to the end: unfinished, not lost. ram_only loses it."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    world = make_world([(8.0, 5.0, None, h)], [[(10.2, 10.7)], []], horizon=100.0)
    record, db = run(world, design("db"), count=2)
    _, ram = run(world, design("ram"), count=2)
    assert (db["unfinished"], db["lost"], db["completed"]) == (1, 0, 0)
    assert [e[1] for e in record.timeline] == ["crash", "recover"]
    assert (ram["lost"], ram["unfinished"]) == (1, 0)


def test_simultaneous_events_run_in_the_documented_order():
    """Order 0 finishes at 5, the instant store 0 crashes: completions come first, so it
    is completed. Order 1 arrives at 5 too: crashes come before arrivals, so ram_only
    loses it (store down). Order 2 arrives at 8, the instant store 0 recovers: accepted."""
    h = find_key(lambda h: Modulo([0, 1]).lookup(h) == 0)
    world = make_world(
        [(0.0, 5.0, None, h), (5.0, 1.0, None, h), (8.0, 1.0, None, h)],
        [[(5.0, 8.0)], []],
        horizon=20.0,
    )
    record, _ = run(world, design("ram", "modulo"), count=2)
    orders = record.orders_frame(world)
    assert orders["status"].tolist() == ["completed", "lost", "completed"]
    assert orders["first_completion"].tolist()[::2] == [5.0, 9.0]


def test_workers_prepare_in_parallel_first_come_first_served():
    """One store, two workers, four orders at t = 0, 0, 1, 2 with prep 4, 2, 3, 1:
    orders 0 and 1 start at 0; order 2 takes the worker freed at 2 (2-5); order 3 the one
    freed at 4 (4-5). Latencies 4, 2, 4, 3."""
    world = make_world(
        [(0.0, 4.0, None, 1), (0.0, 2.0, None, 2), (1.0, 3.0, None, 3), (2.0, 1.0, None, 4)],
        [[]],
        horizon=50.0,
    )
    record, metrics = run(world, design("ram"), count=1, workers=2)
    finish = record.orders_frame(world)["first_completion"] - world.arrival
    assert finish.tolist() == [4.0, 2.0, 4.0, 3.0]
    assert metrics["latency_p50"] == 3.5


def test_owned_sends_orders_left_unplaced_when_no_store_was_up():
    """2 stores, 1 worker, prep 5. Store 0 is down [10, 40), store 1 [10.5, 40), store 0
    again [100, 120). Order A (key on store 1) arrives at 10.7: store 1 is still a member,
    so A is sent there, refused, and waits N. Store 0 is declared down at 11 (A still
    "on" store 1), store 1 at 12: that redistribution finds no store up, so A belongs to
    no store. B arrives at 20 with no member at all. Both stores answer at 40 (declared up:
    nothing moves). Store 0 is declared down at 101; the redistribution sends A and B to
    store 1: A 101-106, B 106-111, under `owned` as under `all` (before the fix, `owned`
    thought A was on store 1 and left it unfinished)."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 1)
    world = make_world(
        [(10.7, 5.0, None, h), (20.0, 5.0, None, h)],
        [[(10.0, 40.0), (100.0, 120.0)], [(10.5, 40.0)]],
        horizon=200.0,
    )
    for redistribute in ("owned", "all"):
        spec = design().model_copy(
            update={"orchestrator": OrchestratorSpec(redistribute=redistribute)}
        )
        record, metrics = run(world, spec, count=2)
        assert steps(record, "start", "finish") == [
            (101.0, "start", 1, 0),
            (106.0, "finish", 1, 0),
            (106.0, "start", 1, 1),
            (111.0, "finish", 1, 1),
        ], redistribute
        assert (metrics["completed"], metrics["unfinished"]) == (2, 0), redistribute


def test_unfinished_splits_into_held_and_stranded():
    """Order 0 (store 0, prep 5) starts at 8; store 0 is down [10.2, 10.7), between two
    polls: order 0 is dropped and waits N with no store from 10.2 to the end (100):
    stranded, 89.8 order-minutes. Order 1 (store 0, prep 100) starts at 50 and is still
    being prepared at the end: held. ram_only loses order 0 and holds order 1."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    world = make_world([(8.0, 5.0, None, h), (50.0, 100.0, None, h)], [[(10.2, 10.7)], []], 100.0)
    record, db = run(world, design("db"), count=2)
    assert (db["unfinished"], db["held"], db["stranded"]) == (2, 1, 1)
    assert db["stranded_time"] == pytest.approx(89.8)
    orders = record.orders_frame(world)
    assert orders["stranded"].tolist() == [True, False]
    assert orders["stranded_time"].tolist() == pytest.approx([89.8, 0.0])
    _, ram = run(world, design("ram"), count=2)
    assert (ram["unfinished"], ram["held"], ram["stranded"], ram["stranded_time"]) == (1, 1, 0, 0)


def test_stranded_time_ends_when_a_redistribution_places_the_order():
    """Order 0 (store 0, prep 5) arrives at 10.5, after store 0 crashed at 10 (down to the
    end): refused, it waits N from 10.5 until the redistribution at 11 sends it to
    store 1: stranded for 0.5, and not stranded at the end."""
    h = find_key(lambda h: Ring([0, 1]).lookup(h) == 0)
    world = make_world([(10.5, 5.0, None, h)], [[(10.0, 200.0)], []], horizon=100.0)
    _, db = run(world, design("db"), count=2)
    assert (db["completed"], db["stranded"], db["stranded_time"]) == (1, 0, 0.5)
