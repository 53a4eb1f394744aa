"""Broker outages (`database.outages` for a broker design), counted by hand.

One store with one worker, online orders of 10 s, times in seconds. The broker is down
over [5, 25): an order published meanwhile is turned away at the door (`rejected`, as the
seed's database does), or kept by the customer's app and published when the broker is
back (`when_down: retry`); a broker without durable messages loses those waiting when it
goes down.
"""

from __future__ import annotations

import numpy as np

from sim.broker_sections import RabbitmqSpec, SqsSpec
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DatabaseSpec, DesignSpec, StoresSpec
from sim.world import ONLINE, World

DOWN = ((5.0, 25.0),)


def world(arrivals, prep=10.0, horizon=100.0):
    size = len(arrivals)
    return World(
        arrival=np.array(arrivals, dtype=float),
        prep=np.full(size, prep),
        pinned=np.full(size, ONLINE, dtype=np.int32),
        key_id=np.arange(1, size + 1, dtype=np.int64),
        key_hash=np.arange(1, size + 1, dtype=np.uint64),
        outages=((),),
        horizon=horizon,
        database_outages=DOWN,
    )


def run(w, queue, spec, when_down="reject"):
    design = DesignSpec(
        name=queue, queue=queue, database=DatabaseSpec(when_down=when_down), **{queue: spec}
    )
    record = simulate(w, StoresSpec(count=1, workers=1), design, trace=True)
    orders = record.orders_frame(w)
    metrics = replication_metrics(orders, record.timeline_frame(), 0.0, None, w.horizon)
    return record, orders, metrics


def test_an_order_published_while_the_broker_is_down_is_turned_away():
    """Orders at 1, 10, 30: the one at 10 finds the broker down: rejected, lost at 10;
    the others are prepared at 1-11 and 30-40. The outage shows on the timeline."""
    record, orders, metrics = run(world([1.0, 10.0, 30.0]), "sqs", SqsSpec(visibility_timeout=60))
    assert (metrics["completed"], metrics["lost"], metrics["rejected"]) == (2, 1, 1)
    assert orders["lost_at"].tolist()[1] == 10.0
    assert orders["first_completion"].tolist()[0] == 11.0
    assert orders["first_completion"].tolist()[2] == 40.0
    events = [(time, event) for time, event, *_ in record.timeline]
    assert (5.0, "database_down") in events
    assert (25.0, "database_up") in events


def test_with_retry_the_order_is_published_when_the_broker_is_back():
    """when_down: retry: the order of 10 is published at 25 and prepared at 25-35."""
    _, orders, metrics = run(
        world([1.0, 10.0, 30.0]), "sqs", SqsSpec(visibility_timeout=60), when_down="retry"
    )
    assert (metrics["completed"], metrics["lost"], metrics["rejected"]) == (3, 0, 0)
    assert orders["first_completion"].tolist() == [11.0, 35.0, 45.0]


def test_a_broker_without_durable_messages_loses_those_waiting_when_it_goes_down():
    """Orders at 0, 1, 2 on one worker with prefetch 1: at 5 the first is in preparation,
    the others wait in the broker. A transient queue loses both waiting messages at 5;
    a durable one keeps them, and delivers nothing while it is down: the first finishes
    at 10, the others are delivered from 25, prepared at 25-35 and 35-45."""
    arrivals = [0.0, 1.0, 2.0]
    transient = RabbitmqSpec(prefetch=1, durable=False)
    _, orders, metrics = run(world(arrivals), "rabbitmq", transient)
    assert (metrics["completed"], metrics["lost"], metrics["rejected"]) == (1, 2, 0)
    assert orders["lost_at"].tolist()[1:] == [5.0, 5.0]
    _, orders, metrics = run(world(arrivals), "rabbitmq", RabbitmqSpec(prefetch=1))
    assert (metrics["completed"], metrics["lost"]) == (3, 0)
    assert orders["first_completion"].tolist() == [10.0, 35.0, 45.0]
