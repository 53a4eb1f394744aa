"""Scripted runs, counted by hand, of what capacity planning adds: stores with different
numbers of workers, and customers who cancel when their order has not started in time."""

from __future__ import annotations

import numpy as np

from sim.hashing import Modulo, Ring, key_hash
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DesignSpec, StoresSpec
from sim.world import ONLINE, World

INF = float("inf")


def make_world(orders, outages, horizon, patience=None):
    """`orders`: (arrival, prep, pinned store or None, key hash); `outages` per store;
    `patience`: per order, how long its customer waits for the preparation to start."""
    arrival = np.array([o[0] for o in orders], dtype=float)
    return World(
        arrival=arrival,
        prep=np.array([o[1] for o in orders], dtype=float),
        pinned=np.array([ONLINE if o[2] is None else o[2] for o in orders], dtype=np.int32),
        key_id=np.arange(len(orders), dtype=np.int64),
        key_hash=np.array([o[3] for o in orders], dtype=np.uint64),
        outages=tuple(tuple(store) for store in outages),
        horizon=horizon,
        patience_end=None if patience is None else arrival + np.array(patience, dtype=float),
    )


def design(queue="db", strategy="ring") -> DesignSpec:
    return DesignSpec(name=f"{queue}_{strategy}", queue=queue, balancer={"strategy": strategy})


def run(world, spec, count, workers=1):
    record = simulate(world, StoresSpec(count=count, workers=workers), spec, trace=True)
    metrics = replication_metrics(
        record.orders_frame(world), record.timeline_frame(), 0.0, None, world.horizon
    )
    return record, metrics


def test_each_store_prepares_with_its_own_workers():
    """Stores 0 and 1 (workers 1 and 3) each get three walk-ins at t = 0, prep 2: store 0
    finishes them at 2, 4, 6, store 1 all at 2."""
    orders = [(0.0, 2.0, store, 0) for store in (0, 0, 0, 1, 1, 1)]
    world = make_world(orders, [[], []], horizon=50.0)
    for queue in ("ram", "db"):
        record, metrics = run(world, design(queue), count=2, workers=(1, 3))
        finish = record.orders_frame(world)["first_completion"].tolist()
        assert finish == [2.0, 4.0, 6.0, 2.0, 2.0, 2.0]
        assert metrics["completed"] == 6


def steps(record, order):
    return [(t, what, store) for t, what, store, o in record.trace if o == order]


def test_a_queued_order_is_cancelled_and_the_next_one_takes_its_turn():
    """One store, one worker. Order 0 (t = 0, prep 10) is prepared 0-10. Order 1 (t = 1,
    patience 3) is still queued at 4: cancelled. Order 2 (t = 2, patience 9: its
    preparation starts at 10, not after order 1, and is in time at 11) finishes at 13."""
    orders = [(0.0, 10.0, None, 1), (1.0, 5.0, None, 2), (2.0, 3.0, None, 3)]
    world = make_world(orders, [[]], horizon=50.0, patience=[2.0, 3.0, 9.0])
    for queue in ("ram", "db"):
        record, metrics = run(world, design(queue), count=1)
        frame = record.orders_frame(world)
        assert frame["status"].tolist() == ["completed", "cancelled", "completed"]
        assert frame["cancelled_at"].tolist()[1] == 4.0
        assert frame["first_completion"].tolist()[::2] == [10.0, 13.0]
        assert frame["attempts"].tolist() == [1, 0, 1]
        assert steps(record, 1)[-2:] == [(4.0, "withdrawn", 0), (4.0, "cancelled", -1)]
        assert (metrics["cancelled"], metrics["unfinished"]) == (1, 0)
        assert metrics["arrived"] == metrics["completed"] + metrics["lost"] + 1


def crashed_preparation(patience):
    """Order 0 (t = 0, prep 10) goes to store 0 of 2, which crashes at 5 (down past the
    end). Polls at 5 and 6 miss it, so the orchestrator declares it down at 6 and sends the
    order to store 1, which starts it at once and finishes at 16."""
    h = next(k for k in (key_hash(f"k{i}") for i in range(1000)) if Ring([0, 1]).lookup(k) == 0)
    return make_world([(0.0, 10.0, None, h)], [[(5.0, 200.0)], []], 100.0, [patience])


def test_an_order_being_prepared_when_patience_ends_is_made():
    """Patience 2: at t = 2 the order is in preparation, so it is made, even though that
    preparation is abandoned at 5: it finishes at 16 on store 1."""
    record, metrics = run(crashed_preparation(2.0), design("db"), count=2)
    assert metrics["completed"] == 1
    assert metrics["cancelled"] == 0
    assert record.orders_frame(crashed_preparation(2.0))["first_completion"][0] == 16.0


def test_an_order_waiting_again_after_a_crash_is_cancelled_and_never_redistributed():
    """Patience 5.5: at 5.5 its preparation was abandoned (5) and it waits as N in the
    database: cancelled. The redistribution at 6 leaves it out (status cancelled)."""
    world = crashed_preparation(5.5)
    record, metrics = run(world, design("db"), count=2)
    assert metrics["cancelled"] == 1
    assert metrics["completed"] == 0
    assert [e[1] for e in record.timeline] == ["crash", "detected_down", "redistribute"]
    assert record.timeline[2][3] == 0  # orders redistributed
    assert steps(record, 0) == [
        (0.0, "sent", 0),
        (0.0, "start", 0),
        (5.0, "abandon", 0),
        (5.5, "cancelled", -1),
    ]


def test_in_ram_only_the_crash_loses_it_first():
    """RAM only: the crash at 5 loses the order; at 5.5 there is nothing to cancel."""
    _, metrics = run(crashed_preparation(5.5), design("ram"), count=2)
    assert (metrics["lost"], metrics["cancelled"]) == (1, 0)


def test_a_cancelled_order_held_by_two_stores_leaves_both():
    """Modulo over stores 0, 1, 2. Orders A (to store 0) and C (to store 1) arrive at 0
    and are prepared until 100; B arrives at 1 and queues at store 0. Store 2 crashes at
    2 and is declared down at 3: B, still N, is routed again over {0, 1}, to store 1,
    where it queues too, while store 0 keeps its copy. At 10 B's customer gives up: both
    copies are withdrawn, so when A and C finish at 100 neither store starts B."""
    keys = (key_hash(f"k{i}") for i in range(10_000))
    three, two = Modulo([0, 1, 2]), Modulo([0, 1])
    wanted = {"A": (0, 0), "B": (0, 1), "C": (1, 1)}
    found = {}
    for h in keys:
        for name, (first, second) in wanted.items():
            if name not in found and three.lookup(h) == first and two.lookup(h) == second:
                found[name] = h
        if len(found) == 3:
            break
    orders = [
        (0.0, 100.0, None, found["A"]),
        (0.0, 100.0, None, found["C"]),
        (1.0, 5.0, None, found["B"]),
    ]
    world = make_world(orders, [[], [], [(2.0, 300.0)]], 200.0, [INF, INF, 9.0])
    record, metrics = run(world, design("db", "modulo"), count=3)
    assert steps(record, 2) == [
        (1.0, "sent", 0),
        (3.0, "sent", 1),
        (10.0, "withdrawn", 1),
        (10.0, "withdrawn", 0),
        (10.0, "cancelled", -1),
    ]
    assert metrics["cancelled"] == 1
    assert metrics["completed"] == 2
    assert record.orders_frame(world)["attempts"].tolist() == [1, 1, 0]


BROKER_DESIGNS = {
    "rabbitmq": {"prefetch": 1},
    "activemq": {"prefetch": 1},
    "sqs": {"visibility_timeout": 60.0},
    "kafka": {"partitions": 1, "max_poll_interval": 60.0},
}


def broker(queue: str) -> DesignSpec:
    return DesignSpec(name=queue, queue=queue, **{queue: BROKER_DESIGNS[queue]})


def test_every_broker_consumer_prepares_with_its_own_workers():
    """As above, through a broker design: walk-ins go to their store's consumer, whose
    workers are that store's (1 and 3)."""
    orders = [(0.0, 2.0, store, 0) for store in (0, 0, 0, 1, 1, 1)]
    world = make_world(orders, [[], []], horizon=50.0)
    for queue in BROKER_DESIGNS:
        record, metrics = run(world, broker(queue), count=2, workers=(1, 3))
        finish = record.orders_frame(world)["first_completion"].tolist()
        assert finish == [2.0, 4.0, 6.0, 2.0, 2.0, 2.0], queue
        assert metrics["completed"] == 6


def test_a_message_waiting_in_a_broker_is_cancelled_and_never_delivered():
    """One store, one worker (prefetch 1; Kafka: one partition). Order 0 (t = 0, prep 3)
    is prepared 0-3; order 1 (t = 0.1) waits in the queue (in the partition); its
    customer gives up at 1.1: cancelled, so at 3 it is skipped and order 2 (t = 0.2) is
    prepared 3-6."""
    orders = [(0.0, 3.0, None, 1), (0.1, 3.0, None, 2), (0.2, 3.0, None, 3)]
    world = make_world(orders, [[]], horizon=50.0, patience=[INF, 1.0, INF])
    for queue in BROKER_DESIGNS:
        record, metrics = run(world, broker(queue), count=1)
        frame = record.orders_frame(world)
        assert frame["status"].tolist() == ["completed", "cancelled", "completed"], queue
        assert frame["attempts"].tolist() == [1, 0, 1], queue
        assert frame["first_completion"].tolist()[::2] == [3.0, 6.0], queue
        assert steps(record, 1) == [(1.1, "cancelled", -1)], queue
        assert metrics["cancelled"] == 1
        assert metrics["arrived"] == metrics["completed"] + metrics["cancelled"]
