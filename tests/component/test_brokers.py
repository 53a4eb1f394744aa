"""Scripted runs of the broker designs, with deterministic times, counted by hand.

Times are in seconds. Each test builds its world by hand (arrival, preparation time,
pinned store; each store's outages; which orders are poison), runs one broker design and
checks the counts, times and event log stated in its docstring. Consumers take turns in
store order; broker timers (lease expiries, connection closes, acks landing) run after
completions, crashes and arrivals at the same instant.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sim.broker_sections import ActivemqSpec, RabbitmqSpec, SqsSpec
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DesignSpec, StoresSpec
from sim.world import ONLINE, World


def world(orders, outages, horizon, poison=(), crash="host"):
    """`orders`: (arrival, prep) of online orders; `outages` per store; `poison`: indices;
    `crash`: what a crash is (`failures.crash`)."""
    size = len(orders)
    marked = np.zeros(size, dtype=bool)
    marked[list(poison)] = True
    return World(
        arrival=np.array([o[0] for o in orders], dtype=float),
        prep=np.array([o[1] for o in orders], dtype=float),
        pinned=np.full(size, ONLINE, dtype=np.int32),
        key_id=np.arange(1, size + 1, dtype=np.int64),
        key_hash=np.arange(1, size + 1, dtype=np.uint64),
        outages=tuple(tuple(store) for store in outages),
        horizon=horizon,
        poison=marked if poison else None,
        crash=crash,
    )


def run(w, queue, spec, count=1, workers=1):
    design = DesignSpec(name=queue, queue=queue, **{queue: spec})
    record = simulate(w, StoresSpec(count=count, workers=workers), design, trace=True)
    orders = record.orders_frame(w)
    metrics = replication_metrics(orders, record.timeline_frame(), 0.0, None, w.horizon)
    assert metrics["arrived"] == (
        metrics["completed"] + metrics["lost"] + metrics["unfinished"] + metrics["dead_lettered"]
    )
    return record, orders, metrics


def steps(record, *kinds):
    return [step for step in record.trace if step[1] in kinds]


# --- SQS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prep", [20.0, 30.0, 45.0, 90.0, 100.0, 299.0])
def test_sqs_lease_expiring_during_preparation_gives_ceil_d_over_v_completions(prep):
    """One store with free workers, v = 30, no failures: an order taking d > v is received
    at 0, 30, 60, ... while not deleted, each receipt prepared in full, so ceil(d / v)
    completions (the delete at d comes before an expiry at the same instant)."""
    orders = [(0.0, prep), (1000.0, prep)]
    record, frame, metrics = run(world(orders, [[]], 2000.0), "sqs", SqsSpec(), workers=20)
    receipts = math.ceil(prep / 30.0)
    assert frame["completions"].tolist() == [receipts, receipts]
    assert frame["deliveries"].tolist() == [receipts, receipts]
    assert metrics["duplicates"] == 2 * (receipts - 1)
    assert metrics["redeliveries"] == 2 * (receipts - 1)
    assert [t for t, *_ in steps(record, "start")][:receipts] == [30.0 * k for k in range(receipts)]


@pytest.mark.parametrize("settings", [{"extend_visibility": 10.0}, {"idempotent": True}])
def test_sqs_extension_or_idempotence_prevents_the_duplicates(settings):
    """extend_visibility 10 < v: the lease never lapses while preparing, one receipt.
    idempotent: receipts at 0, 30, 60, 90 (the store skips the three it holds), one
    preparation."""
    record, frame, metrics = run(
        world([(0.0, 100.0)], [[]], 500.0), "sqs", SqsSpec(**settings), workers=20
    )
    assert metrics["duplicates"] == 0
    assert frame["completions"].tolist() == [1]
    assert frame["deliveries"].tolist() == [1 if "extend_visibility" in settings else 4]
    assert len(steps(record, "start")) == 1


def test_sqs_crash_with_a_message_in_flight():
    """Order 0 at 0 (prep 20) is received by store 0, which crashes at 5 for 100: nobody
    notices, but the lease ends at 30 and store 1 receives it then, finishing at 50."""
    record, frame, metrics = run(
        world([(0.0, 20.0)], [[(5.0, 105.0)], []], 200.0), "sqs", SqsSpec(), count=2
    )
    assert steps(record, "sent", "start", "abandon", "finish") == [
        (0.0, "sent", 0, 0),
        (0.0, "start", 0, 0),
        (5.0, "abandon", 0, 0),
        (30.0, "sent", 1, 0),
        (30.0, "start", 1, 0),
        (50.0, "finish", 1, 0),
    ]
    assert (metrics["lost"], metrics["duplicates"], metrics["redeliveries"]) == (0, 0, 1)
    assert frame["first_completion"].tolist() == [50.0]


def test_sqs_extension_stops_at_a_crash():
    """v = 30, extend_visibility 10, prep 100: store 0 calls ChangeMessageVisibility at 10,
    20, 30, 40, then crashes at 45; the last call set the deadline to 70, when store 1
    receives the order (70 to 170). Without the crash nothing would come back."""
    spec = SqsSpec(extend_visibility=10.0)
    record, _, metrics = run(
        world([(0.0, 100.0)], [[(45.0, 500.0)], []], 300.0), "sqs", spec, count=2
    )
    assert steps(record, "sent") == [(0.0, "sent", 0, 0), (70.0, "sent", 1, 0)]
    assert steps(record, "finish") == [(170.0, "finish", 1, 0)]
    assert (metrics["duplicates"], metrics["redeliveries"]) == (0, 1)


def test_sqs_delete_in_flight_at_a_crash_gives_a_duplicate():
    """Store 0 finishes order 0 at 20; its DeleteMessage would land at 35 (delete_delay
    15), but the store crashes at 25: the lease ends at 30 and store 1 prepares the order
    again (30 to 50). That delete lands at 65, after the lease of the receipt at 30 ended
    (60): store 1 receives the order a third time at 60 and prepares it (60 to 80); the
    delete at 65 removes the message, so there is no fourth receipt."""
    spec = SqsSpec(delete_delay=15.0)
    record, frame, metrics = run(
        world([(0.0, 20.0)], [[(25.0, 500.0)], []], 200.0), "sqs", spec, count=2
    )
    assert steps(record, "finish") == [
        (20.0, "finish", 0, 0),
        (50.0, "finish", 1, 0),
        (80.0, "finish", 1, 0),
    ]
    assert (metrics["duplicates"], metrics["redeliveries"]) == (2, 2)
    assert frame["status"].tolist() == ["completed"]


def test_sqs_poison_order_reaches_the_dlq_after_max_receive_count():
    """A poison order (prep 10), max_receive_count 3: received at 0, 30, 60 (each attempt
    fails after 10 and is not deleted); at 90 its fourth receive moves it to the DLQ."""
    record, frame, metrics = run(
        world([(0.0, 10.0)], [[]], 300.0, poison=[0]), "sqs", SqsSpec(max_receive_count=3)
    )
    assert [t for t, *_ in steps(record, "fail")] == [10.0, 40.0, 70.0]
    assert steps(record, "dead_letter") == [(90.0, "dead_letter", -1, 0)]
    assert frame["status"].tolist() == ["dead_lettered"]
    assert (metrics["dead_lettered"], metrics["completed"], metrics["redeliveries"]) == (1, 0, 2)
    assert metrics["wasted_work"] == 30.0


# --- RabbitMQ ----------------------------------------------------------------------------


def test_rabbitmq_crash_requeues_unacked_deliveries_after_two_silent_checks():
    """Orders 0-3 at 0 (prep 100) go round-robin: 0, 2 to store 0 and 1, 3 to store 1.
    Store 0's host goes down at 50. It sent heartbeats every 30 (0, 30); the broker's
    receiver checks every 60: the check at 60 sees the heartbeat of 30, those at 120 and
    180 see nothing, so the connection closes at 180 and 0, 2 go to store 1, which
    prepares 1, 3, 0, 2 in turn."""
    orders = [(0.0, 100.0)] * 4
    record, _frame, metrics = run(
        world(orders, [[(50.0, 1000.0)], []], 500.0), "rabbitmq", RabbitmqSpec(), count=2
    )
    assert [(t, s, o) for t, _, s, o in steps(record, "sent")] == [
        (0.0, 0, 0),
        (0.0, 1, 1),
        (0.0, 0, 2),
        (0.0, 1, 3),
        (180.0, 1, 0),
        (180.0, 1, 2),
    ]
    assert [(t, o) for t, _, _, o in steps(record, "finish")] == [
        (100.0, 1),
        (200.0, 3),
        (300.0, 0),
        (400.0, 2),
    ]
    assert (metrics["lost"], metrics["duplicates"], metrics["unfinished"]) == (0, 0, 0)
    closed = record.timeline_frame().query("event == 'closed_silent'")
    assert closed[["time", "store", "orders"]].values.tolist() == [[180.0, 0, 2]]


def test_rabbitmq_process_crash_closes_the_connection_at_once():
    """The same world, but store 0's process dies on a live host (`failures.crash:
    process`): its kernel closes the socket, so the broker requeues 0, 2 at the crash (50)
    and pushes them to store 1; the preparations are the same."""
    orders = [(0.0, 100.0)] * 4
    record, _frame, metrics = run(
        world(orders, [[(50.0, 1000.0)], []], 500.0, crash="process"),
        "rabbitmq",
        RabbitmqSpec(),
        count=2,
    )
    assert [(t, s, o) for t, _, s, o in steps(record, "sent")][4:] == [(50.0, 1, 0), (50.0, 1, 2)]
    assert [(t, o) for t, _, _, o in steps(record, "finish")] == [
        (100.0, 1),
        (200.0, 3),
        (300.0, 0),
        (400.0, 2),
    ]
    assert (metrics["lost"], metrics["duplicates"], metrics["redeliveries"]) == (0, 0, 2)
    timeline = record.timeline_frame()
    assert timeline.query("event == 'closed_silent'").empty
    closed = timeline.query("event == 'closed_crash'")
    assert closed[["time", "store", "orders"]].values.tolist() == [[50.0, 0, 2]]


def test_rabbitmq_an_ack_is_a_sign_of_life_like_a_heartbeat():
    """Order 0 (0 to 62) and order 2 (buffered, prep 100) at store 0, order 1 (0 to 100)
    at store 1. Store 0 acks order 0 at 62, then its host goes down at 65. Its last
    heartbeat was at 60 (every 30), seen by the check at 60; but the ack read at 62 is
    first seen by the check at 120, so the checks at 180 and 240 find nothing and the
    connection closes at 240, not 180. Store 1 prepares order 2 from 240 to 340."""
    orders = [(0.0, 62.0), (0.0, 100.0), (0.0, 100.0)]
    record, _, metrics = run(
        world(orders, [[(65.0, 1000.0)], []], 500.0), "rabbitmq", RabbitmqSpec(), count=2
    )
    assert [(t, s, o) for t, _, s, o in steps(record, "sent")][3:] == [(240.0, 1, 2)]
    assert [(t, o) for t, _, _, o in steps(record, "finish")] == [
        (62.0, 0),
        (100.0, 1),
        (340.0, 2),
    ]
    assert (metrics["lost"], metrics["duplicates"]) == (0, 0)


def test_rabbitmq_ack_in_flight_at_a_crash_gives_a_duplicate():
    """Store 0 finishes order 0 at 100; the ack would land at 110 (ack_delay 10) but the
    store's host goes down at 105. Its last heartbeat was at 90, first seen by the check
    at 120; the checks at 180 and 240 find nothing, so the connection closes at 240 and
    store 1 prepares the order again (240 to 340)."""
    spec = RabbitmqSpec(ack_delay=10.0)
    record, _, metrics = run(
        world([(0.0, 100.0)], [[(105.0, 1000.0)], []], 400.0), "rabbitmq", spec, count=2
    )
    assert steps(record, "finish") == [(100.0, "finish", 0, 0), (340.0, "finish", 1, 0)]
    assert (metrics["duplicates"], metrics["redeliveries"]) == (1, 1)


def test_rabbitmq_poison_order_is_dead_lettered_past_the_delivery_limit():
    """A poison order (prep 10), delivery_limit 2: delivered at 0, 10, 20 (each failure
    is a nack with requeue, to the head, delivered again at once); the third return, at
    30, is past the limit: dead-lettered."""
    record, frame, metrics = run(
        world([(0.0, 10.0)], [[]], 100.0, poison=[0]), "rabbitmq", RabbitmqSpec(delivery_limit=2)
    )
    assert [t for t, *_ in steps(record, "start")] == [0.0, 10.0, 20.0]
    assert steps(record, "dead_letter") == [(30.0, "dead_letter", -1, 0)]
    assert frame["deliveries"].tolist() == [3]
    assert metrics["dead_lettered"] == 1


def test_rabbitmq_consumer_timeout_closes_the_channel_and_requeues():
    """One store, one worker, consumer_timeout 150: orders 0, 1 at 0 (prep 100). Order 1
    waits in the store's buffer; at 150 it is still unacked (delivered at 0): the channel
    closes, 1 is requeued and delivered again on the new channel. The first copy (100 to
    200) cannot be acked; the second runs 200 to 300: a duplicate."""
    spec = RabbitmqSpec(consumer_timeout=150.0)
    record, _frame, metrics = run(world([(0.0, 100.0)] * 2, [[]], 500.0), "rabbitmq", spec)
    assert [(t, o) for t, _, _, o in steps(record, "sent")] == [(0.0, 0), (0.0, 1), (150.0, 1)]
    assert [(t, o) for t, _, _, o in steps(record, "finish")] == [
        (100.0, 0),
        (200.0, 1),
        (300.0, 1),
    ]
    assert metrics["duplicates"] == 1
    assert record.timeline_frame()["event"].tolist() == ["closed_timeout"]


@pytest.mark.parametrize("crash", ["host", "process"])
def test_rabbitmq_auto_ack_loses_what_the_crashed_store_held(crash):
    """ack: auto, heartbeat 60: order 0 (0 to 100) and order 2 (buffered) at store 0 are
    gone from the broker once pushed; the crash at 50 loses both. Order 4 arrives at 60:
    if the host went down, the dead connection is still open (closed at 180) and it is
    pushed into it: lost; if the process died, its connection closed at 50 and order 4
    goes to store 1."""
    orders = [(0.0, 100.0)] * 4 + [(60.0, 10.0), (61.0, 10.0)]
    _, frame, _metrics = run(
        world(orders, [[(50.0, 1000.0)], []], 500.0, crash=crash),
        "rabbitmq",
        RabbitmqSpec(ack="auto"),
        count=2,
    )
    pushed_to_the_dead = crash == "host"
    assert frame["status"].tolist() == [
        "lost",
        "completed",
        "lost",
        "completed",
        "lost" if pushed_to_the_dead else "completed",
        "completed",
    ]
    reasons = frame["lost_reason"].astype(object).fillna("-").tolist()
    assert reasons == ["crash", "-", "crash", "-", "store_down" if pushed_to_the_dead else "-", "-"]


# --- ActiveMQ ----------------------------------------------------------------------------


def test_activemq_crash_with_a_large_prefetch_waits_for_the_inactivity_monitor():
    """prefetch 1000, max_inactivity 30: orders 0-3 at 0 (prep 100) are dispatched 0, 2
    to store 0 and 1, 3 to store 1. Store 0 crashes at 50; its last keep-alive was at 40
    (every 10), the monitor checks every 30 and closes the connection at 90, the first
    check with nothing read for 30. Orders 0 and 2 go to store 1; only 0 had been handed
    to the application, so only it counts a redelivery."""
    orders = [(0.0, 100.0)] * 4
    record, frame, metrics = run(
        world(orders, [[(50.0, 1000.0)], []], 500.0), "activemq", ActivemqSpec(), count=2
    )
    assert [(t, s, o) for t, _, s, o in steps(record, "sent")][4:] == [(90.0, 1, 0), (90.0, 1, 2)]
    assert frame["first_completion"].tolist() == [300.0, 100.0, 400.0, 200.0]
    assert (metrics["lost"], metrics["duplicates"]) == (0, 0)


def test_activemq_prefetch_one_leaves_waiting_orders_at_the_broker():
    """The same world with prefetch 1: each store holds one order, 2 and 3 wait at the
    broker; store 1 takes 2 at 100 and 3 at 200; order 0, returned at 90, goes to the
    head and is taken at 300 behind nothing: 0 finishes at 400."""
    orders = [(0.0, 100.0)] * 4
    _, frame, _ = run(
        world(orders, [[(50.0, 1000.0)], []], 600.0), "activemq", ActivemqSpec(prefetch=1), count=2
    )
    assert frame["first_completion"].tolist() == [200.0, 100.0, 300.0, 400.0]


def test_activemq_poison_order_reaches_the_dlq_after_max_redeliveries():
    """A poison order (prep 10), max_redeliveries 2, redelivery_delay 5, backoff 2:
    attempts at 0, 15 (after 5) and 35 (after 10); the third failure, at 45, is past
    the policy: poison ack, ActiveMQ.DLQ."""
    spec = ActivemqSpec(max_redeliveries=2, redelivery_delay=5.0, backoff=2.0)
    record, _frame, metrics = run(world([(0.0, 10.0)], [[]], 200.0, poison=[0]), "activemq", spec)
    assert [t for t, *_ in steps(record, "start")] == [0.0, 15.0, 35.0]
    assert steps(record, "dead_letter") == [(45.0, "dead_letter", -1, 0)]
    assert metrics["redeliveries"] == 2


def test_activemq_process_crash_returns_the_prefetched_messages_at_once():
    """The world of the test above with `failures.crash: process`: the broker reads the
    socket's close at the crash (50) and dispatches orders 0 and 2 to store 1 then."""
    orders = [(0.0, 100.0)] * 4
    record, frame, metrics = run(
        world(orders, [[(50.0, 1000.0)], []], 500.0, crash="process"),
        "activemq",
        ActivemqSpec(),
        count=2,
    )
    assert [(t, s, o) for t, _, s, o in steps(record, "sent")][4:] == [(50.0, 1, 0), (50.0, 1, 2)]
    assert frame["first_completion"].tolist() == [300.0, 100.0, 400.0, 200.0]
    assert (metrics["lost"], metrics["duplicates"], metrics["redeliveries"]) == (0, 0, 2)


POISON_FIRST = [(0.0, 10.0), (1.0, 10.0), (2.0, 10.0), (3.0, 10.0)]


def test_activemq_client_redelivery_blocks_the_consumer_behind_a_poison_order():
    """One store of one worker, prefetch 1, max_redeliveries 2, redelivery_delay 5: the
    JMS client keeps poison order 0 through its delays (attempts at 0, 15, 30, each
    failing after 10): nothing else reaches the store until the poison ack at 40, so
    orders 1-3 wait and finish at 50, 60, 70."""
    spec = ActivemqSpec(prefetch=1, max_redeliveries=2, redelivery_delay=5.0)
    record, frame, metrics = run(world(POISON_FIRST, [[]], 200.0, poison=[0]), "activemq", spec)
    assert [(t, o) for t, _, _, o in steps(record, "start")][:3] == [(0.0, 0), (15.0, 0), (30.0, 0)]
    assert steps(record, "dead_letter") == [(40.0, "dead_letter", -1, 0)]
    assert frame["first_completion"].tolist()[1:] == [50.0, 60.0, 70.0]
    assert (metrics["redeliveries"], metrics["dead_lettered"]) == (2, 1)


def test_activemq_redelivery_plugin_frees_the_consumer_during_the_delays():
    """The same world with redelivery_plugin: the failure at 10 is a poison ack, the store
    takes order 1 at once (10-20); the broker sends 0 to the tail of the queue at 15,
    behind 2 and 3, which are prepared at 20-30 and 30-40; 0 is tried again at 40, fails
    at 50, comes back at 55 to an idle store, fails at 65: 1 + max_redeliveries = 3
    attempts (0, 40, 55), then ActiveMQ.DLQ at 65."""
    spec = ActivemqSpec(
        prefetch=1, max_redeliveries=2, redelivery_delay=5.0, redelivery_plugin=True
    )
    record, frame, metrics = run(world(POISON_FIRST, [[]], 200.0, poison=[0]), "activemq", spec)
    assert [(t, o) for t, _, _, o in steps(record, "start")] == [
        (0.0, 0),
        (10.0, 1),
        (20.0, 2),
        (30.0, 3),
        (40.0, 0),
        (55.0, 0),
    ]
    assert steps(record, "dead_letter") == [(65.0, "dead_letter", -1, 0)]
    assert frame["first_completion"].tolist()[1:] == [20.0, 30.0, 40.0]
    assert (metrics["redeliveries"], metrics["dead_lettered"], metrics["unfinished"]) == (2, 1, 0)


def test_activemq_redelivery_plugin_backs_off_from_its_own_last_delay():
    """backoff 2, redelivery_delay 5, one poison order of 10 alone: the broker's delays are
    5 then 10 (attempts at 0, 15, 35), as with the client's policy."""
    spec = ActivemqSpec(
        max_redeliveries=2, redelivery_delay=5.0, backoff=2.0, redelivery_plugin=True
    )
    record, _frame, _metrics = run(world([(0.0, 10.0)], [[]], 200.0, poison=[0]), "activemq", spec)
    assert [t for t, *_ in steps(record, "start")] == [0.0, 15.0, 35.0]
    assert steps(record, "dead_letter") == [(45.0, "dead_letter", -1, 0)]


def test_activemq_redelivery_plugin_sends_the_message_to_any_consumer():
    """Two stores of one worker, prefetch 1. Poison order 0 (prep 10) goes to store 0,
    order 1 (prep 12) to store 1; order 2 (at 5, prep 20) waits. Store 0 fails 0 at 10
    and takes 2 (10-30); at 15 the broker sends 0 back and store 1, idle since 12, takes
    it: it fails at 25, comes back at 30 and store 1 (in the rotation since 25, before
    store 0 freed at 30) takes it again; the failure at 40 dead-letters it."""
    spec = ActivemqSpec(
        prefetch=1, max_redeliveries=2, redelivery_delay=5.0, redelivery_plugin=True
    )
    orders = [(0.0, 10.0), (0.0, 12.0), (5.0, 20.0)]
    record, frame, _ = run(world(orders, [[], []], 200.0, poison=[0]), "activemq", spec, count=2)
    assert [(t, s) for t, _, s, o in steps(record, "start") if o == 0] == [
        (0.0, 0),
        (15.0, 1),
        (30.0, 1),
    ]
    assert steps(record, "dead_letter") == [(40.0, "dead_letter", -1, 0)]
    assert frame["first_completion"].tolist()[1:] == [12.0, 30.0]


def test_activemq_redelivery_plugin_holds_the_message_through_its_consumers_crash():
    """Poison order 0 (prep 10) on store 0, order 1 (prep 30) on store 1; max_inactivity
    3 (keep-alives every 1), redelivery_delay 10. Store 0 fails 0 at 10 and crashes at 12:
    it holds nothing, and the monitor closes its connection at 15. At 20 the broker sends
    0 back; store 1 takes it when it finishes 1, at 30 (fails at 40, back at 50, fails at
    60: ActiveMQ.DLQ). The client's redelivery keeps it on store 0 instead: it comes back
    with the connection at 15, a return that counts too, so the failure on store 1 at 40
    is already past the limit."""
    spec = ActivemqSpec(
        prefetch=1,
        max_redeliveries=2,
        redelivery_delay=10.0,
        max_inactivity=3.0,
        redelivery_plugin=True,
    )
    orders = [(0.0, 10.0), (0.0, 30.0)]
    w = world(orders, [[(12.0, 100.0)], []], 200.0, poison=[0])
    client, _, _ = run(w, "activemq", spec.model_copy(update={"redelivery_plugin": False}), 2)
    assert [(t, s) for t, _, s, o in steps(client, "start") if o == 0] == [(0.0, 0), (30.0, 1)]
    assert steps(client, "dead_letter") == [(40.0, "dead_letter", -1, 0)]
    record, _, metrics = run(w, "activemq", spec, count=2)
    assert steps(record, "closed_silent") == []  # the timeline has it, not the trace
    assert next(e for e in record.timeline if e[1] == "closed_silent")[:4] == (
        15.0,
        "closed_silent",
        0,
        0,
    )
    assert [(t, s) for t, _, s, o in steps(record, "start") if o == 0] == [
        (0.0, 0),
        (30.0, 1),
        (50.0, 1),
    ]
    assert steps(record, "dead_letter") == [(60.0, "dead_letter", -1, 0)]
    assert (metrics["lost"], metrics["redeliveries"]) == (0, 2)


def test_activemq_auto_ack_loses_the_order_in_preparation():
    """ack: auto acknowledges an order when the store starts it: the crash at 50 loses
    order 0; order 2, prefetched but not started, goes back at 90 to store 1."""
    orders = [(0.0, 100.0)] * 3
    _, frame, _ = run(
        world(orders, [[(50.0, 1000.0)], []], 500.0), "activemq", ActivemqSpec(ack="auto"), count=2
    )
    assert frame["status"].tolist() == ["lost", "completed", "completed"]
    assert frame["first_completion"].tolist()[1:] == [100.0, 200.0]


# --- the broker core's outage and cancellation hooks, through a design -------------------


def run_with(w, queue, spec, at, calls, count=1):
    """Run a broker design on `w`, calling `calls(handler)` at time `at`."""
    import simpy

    from sim.designs import build_broker
    from sim.model.failures import Failures
    from sim.model.orders import Arrivals, OrderBook
    from sim.records import Recorder

    env = simpy.Environment()
    recorder = Recorder(w.size, trace=True)
    book = OrderBook.from_world(w)
    design = DesignSpec(name=queue, queue=queue, **{queue: spec})
    handler, consumers = build_broker(env, book, StoresSpec(count=count), design, recorder, None)
    Arrivals(env, book.arrival, handler.dispatch).start()
    Failures(env, consumers, w.outages, handler.crash, handler.recover).start()

    def at_time():
        yield env.timeout(at)
        calls(handler)

    env.process(at_time())
    env.run(until=w.horizon)
    return recorder.orders_frame(w)


def test_a_non_durable_queue_loses_waiting_messages_when_the_broker_goes_down():
    """One worker, prefetch 1, orders at 0, 1, 2 (prep 10): 0 is delivered, 1 and 2 wait.
    The broker goes down at 5: 1 and 2 are lost (durable: false); 3, published at 6 while
    it is down, is turned away at the door (db_down, `rejected`, as the seed's database
    turns it away); 4, at 8 after it is back up at 7, is prepared after 0."""
    orders = [(0.0, 10.0), (1.0, 10.0), (2.0, 10.0), (6.0, 10.0), (8.0, 10.0)]
    spec = RabbitmqSpec(prefetch=1, durable=False)
    timeline = []

    def down_then_up(handler):
        timeline.append(handler.broker_down())
        handler.env.process(up_later(handler))

    def up_later(handler):
        yield handler.env.timeout(2.0)
        handler.broker_up()

    frame = run_with(world(orders, [[]], 100.0), "rabbitmq", spec, 5.0, down_then_up)
    assert timeline == [[1, 2]]
    assert frame["status"].tolist() == ["completed", "lost", "lost", "lost", "completed"]
    reasons = frame["lost_reason"].astype(object).fillna("-").tolist()
    assert reasons[1:4] == ["broker_down", "broker_down", "db_down"]
    assert frame["first_completion"].tolist()[4] == 20.0


def test_a_waiting_order_can_be_cancelled():
    """SQS, one worker: orders at 0, 1, 2 (prep 10); at 5, order 2, still waiting, is
    cancelled and never prepared (order 0, already received, cannot be); order 1 is
    prepared after 0."""
    orders = [(0.0, 10.0), (1.0, 10.0), (2.0, 10.0)]
    results = []

    def cancel_two(handler):
        results.append((handler.cancel(2), handler.cancel(0)))

    frame = run_with(world(orders, [[]], 100.0), "sqs", SqsSpec(), 5.0, cancel_two)
    assert results == [(True, False)]  # 0 was already delivered
    assert frame["status"].tolist() == ["completed", "completed", "unfinished"]
    assert frame["attempts"].tolist() == [1, 1, 0]


# --- Slowdowns (failures.slowdowns) reach broker consumers too ---------------------------


def slowed(w: World, spells) -> World:
    return dataclasses.replace(w, slowdowns=tuple(tuple(store) for store in spells))


def test_a_slowdown_stretches_a_consumers_preparation():
    """RabbitMQ, one store: order 0 (prep 10) starts at 0; the store prepares twice slower
    from 5 to 25, so the 5 units of work left at 5 take 10: done at 15, 5 of slow time."""
    w = slowed(world([(0.0, 10.0)], [[]], 100.0), [[(5.0, 25.0, 2.0)]])
    record, frame, metrics = run(w, "rabbitmq", RabbitmqSpec())
    assert steps(record, "finish") == [(15.0, "finish", 0, 0)]
    assert metrics["latency_mean"] == 15.0
    assert frame["slow_time"].tolist() == [5.0]
    assert frame["work"].tolist() == [10.0]
    events = record.timeline_frame()["event"].tolist()
    assert events == ["slowdown", "slowdown_end"]


def test_a_crash_in_a_slowdown_counts_the_work_done():
    """The same slowdown; the store crashes at 9: 5 units of work by 5, then 2 in the 4
    slowed units: 7 of work wasted, 2 of slow time; SQS (visibility 50) gives the message
    to store 1 at 50, which prepares it at full speed, 50 to 60."""
    w = slowed(world([(0.0, 10.0)], [[(9.0, 1000.0)], []], 200.0), [[(5.0, 25.0, 2.0)], []])
    record, frame, _ = run(w, "sqs", SqsSpec(visibility_timeout=50.0), count=2)
    assert steps(record, "finish") == [(60.0, "finish", 1, 0)]
    assert frame["work"].tolist() == [17.0]
    assert frame["slow_time"].tolist() == [2.0]


def test_sqs_extensions_follow_a_slowed_preparation():
    """Visibility 4, ChangeMessageVisibility every 2: order 0 (prep 10) slowed as above
    ends at 15. The calls go on while it is prepared (at 2, 4, ..., 14: the last sets the
    deadline to 18), so no lease runs out and nothing is received twice; extensions
    planned for the unslowed 10 would have stopped at 8 and let the lease lapse at 12."""
    w = slowed(world([(0.0, 10.0)], [[], []], 100.0), [[(5.0, 25.0, 2.0)], []])
    spec = SqsSpec(visibility_timeout=4.0, extend_visibility=2.0)
    record, _, metrics = run(w, "sqs", spec, count=2)
    assert steps(record, "finish") == [(15.0, "finish", 0, 0)]
    assert (metrics["duplicates"], metrics["redeliveries"]) == (0, 0)


# --- Found by a review: walk-ins, and a transient broker's losses --------------------------


def test_an_sqs_consumer_busy_with_a_walk_in_takes_its_turn_after_it():
    """One store of one worker: a walk-in from 0 to 10, an online order at 5 (prep 1).
    At 5 the store has no free worker; when the walk-in ends it receives the order,
    prepared 10 to 11 (it used to leave the rotation for good)."""
    w = world([(0.0, 10.0), (5.0, 1.0)], [[]], 100.0)
    w = dataclasses.replace(w, pinned=np.array([0, ONLINE], dtype=np.int32))
    record, _, metrics = run(w, "sqs", SqsSpec())
    assert steps(record, "finish") == [(10.0, "finish", 0, 0), (11.0, "finish", 0, 1)]
    assert metrics["unfinished"] == 0


def test_a_made_order_is_not_lost_with_a_transient_brokers_messages():
    """RabbitMQ, durable: false, ack_delay 10, one store: order 0 is made at 100, but
    the store's process dies at 105, before the ack lands, so its message is requeued.
    The broker goes down at 106 and loses what waits in it: the message, not the order,
    which was made: completed, not lost."""
    w = world([(0.0, 100.0)], [[(105.0, 300.0)]], 400.0, crash="process")
    w = dataclasses.replace(w, database_outages=((106.0, 120.0),))
    spec = RabbitmqSpec(durable=False, ack_delay=10.0)
    _, frame, metrics = run(w, "rabbitmq", spec)
    assert frame["status"].tolist() == ["completed"]
    assert frame["lost_reason"].isna().all()
    assert (metrics["completed"], metrics["lost"], metrics["duplicates"]) == (1, 0, 0)
