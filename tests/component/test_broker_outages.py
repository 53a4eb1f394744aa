"""Broker outages (`database.outages` for a broker design), counted by hand.

One store with one worker, online orders of 10 s, times in seconds. The broker is down
over [5, 25): an order published meanwhile is turned away at the door (`rejected`, as the
seed's database does), or kept by the customer's app and published when the broker is
back (`when_down: retry`); a broker without durable messages loses those waiting when it
goes down. ActiveMQ's redeliveryPlugin keeps a failed message in the broker's scheduler:
one that comes due during the outage is sent when the broker is back.
"""

from __future__ import annotations

import numpy as np

from sim.broker_sections import ActivemqSpec, RabbitmqSpec, SqsSpec
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DatabaseSpec, DesignSpec, StoresSpec
from sim.world import ONLINE, World

DOWN = ((5.0, 25.0),)


def world(arrivals, prep=10.0, horizon=100.0, poison=()):
    size = len(arrivals)
    marked = np.zeros(size, dtype=bool)
    marked[list(poison)] = True
    return World(
        poison=marked if poison else None,
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


def test_a_scheduled_redelivery_due_while_the_broker_is_down_is_sent_when_it_is_back():
    """ActiveMQ with redelivery_plugin, prefetch 1, redelivery_delay 10, max_redeliveries
    2; poison order 0 at 0 and a good one at 30, preparations of 2. Attempt 0-2 fails: the
    broker schedules the message for 12, inside the outage; the scheduler's store is
    persistent, so it is sent when the broker is back, at 25: attempt 25-27 fails, due at
    37, attempt 37-39 fails, past the limit: ActiveMQ.DLQ at 39. Order 1 is prepared at
    30-32 in between."""
    spec = ActivemqSpec(
        prefetch=1, max_redeliveries=2, redelivery_delay=10.0, redelivery_plugin=True
    )
    record, orders, metrics = run(world([0.0, 30.0], prep=2.0, poison=[0]), "activemq", spec)
    assert [t for t, what, _, o in record.trace if what == "start"] == [0.0, 25.0, 30.0, 37.0]
    assert orders["dead_lettered_at"].tolist()[0] == 39.0
    assert orders["first_completion"].tolist()[1] == 32.0
    assert (metrics["dead_lettered"], metrics["lost"], metrics["redeliveries"]) == (1, 0, 2)


def test_a_transient_broker_loses_a_scheduled_redelivery_when_it_goes_down():
    """The same with persistent: false: the message waiting in the scheduler since 2 is
    lost when the broker goes down at 5 (broker_down); order 1 is unaffected."""
    spec = ActivemqSpec(
        prefetch=1, max_redeliveries=2, redelivery_delay=10.0, redelivery_plugin=True,
        persistent=False,
    )
    _, orders, metrics = run(world([0.0, 30.0], prep=2.0, poison=[0]), "activemq", spec)
    assert orders["status"].tolist() == ["lost", "completed"]
    assert orders["lost_reason"].tolist()[0] == "broker_down"
    assert orders["lost_at"].tolist()[0] == 5.0
    assert (metrics["dead_lettered"], metrics["redeliveries"]) == (0, 0)
