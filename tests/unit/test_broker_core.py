"""The broker core without a design: queue order, turns, returns, DLQ, outages, cancel."""

from __future__ import annotations

import math

import pytest
import simpy

from sim.designs.broker import Broker
from sim.designs.connection import silence_detected
from sim.records import Recorder


def broker(durable=True, orders=10):
    env = simpy.Environment()
    recorder = Recorder(orders)
    core = Broker(env, recorder, durable=durable)
    delivered = []
    core.room = lambda consumer: 1
    core.deliver = lambda order, consumer: delivered.append((order, consumer)) or True
    return core, recorder, delivered


def test_messages_go_to_consumers_in_turn_oldest_first():
    core, _, delivered = broker()
    core.publish(0)
    core.publish(1)
    assert delivered == []  # nobody consumes yet
    core.offer("a")  # takes its turn at once: 0; then 1, as the only one with room
    core.offer("b")
    for order in range(2, 6):
        core.publish(order)
    assert delivered == [(0, "a"), (1, "a"), (2, "a"), (3, "b"), (4, "a"), (5, "b")]


def test_requeued_messages_go_to_the_head_in_their_order():
    core, _, delivered = broker()
    core.publish(5)
    core.requeue([1, 2])
    core.offer("a")
    assert [order for order, _ in delivered] == [1, 2, 5]


def test_returns_are_served_first_in_the_order_they_came_back():
    """A quorum queue's returns: a message returned later (a nack of 7) waits behind the
    ones returned before it (1, 2 from a closed connection), all before the messages never
    delivered (5, 6)."""
    core, _, delivered = broker()
    core.publish(5)
    core.publish(6)
    core.requeue([1, 2])
    core.requeue([7])
    core.offer("a")
    assert [order for order, _ in delivered] == [1, 2, 7, 5, 6]


def test_broker_down_drops_returned_non_durable_messages_too():
    core, recorder, _ = broker(durable=False)
    core.publish(0)
    core.requeue([3])
    assert core.broker_down() == [3, 0]
    assert [recorder.lost_reason[i] for i in (0, 3)] == [3, 3]


def test_returns_past_the_limit_dead_letter():
    core, recorder, _ = broker()
    assert core.returned(3, limit=2)
    assert core.returned(3, limit=2)
    assert not core.returned(3, limit=2)
    assert recorder.dead_lettered_at[3] == 0.0
    core.requeue([3])
    assert 3 not in core.queued  # settled messages are never delivered again


def test_broker_down_drops_waiting_non_durable_messages_and_refuses_publishes():
    core, recorder, delivered = broker(durable=False)
    core.publish(0)
    core.publish(1)
    assert core.broker_down() == [0, 1]
    assert [recorder.lost_reason[i] for i in (0, 1)] == [3, 3]  # broker_down
    core.publish(2)
    assert recorder.lost_reason[2] == 5  # db_down: turned away at the door (`rejected`)
    core.offer("a")
    assert delivered == []
    core.broker_up()
    core.publish(4)
    assert delivered == [(4, "a")]


def test_broker_down_keeps_durable_messages_and_delivers_them_when_up():
    core, recorder, delivered = broker(durable=True)
    core.publish(0)
    assert core.broker_down() == []
    core.offer("a")
    assert delivered == []
    core.broker_up()
    assert delivered == [(0, "a")]
    assert recorder.lost_reason[0] == 0


def test_cancel_removes_a_waiting_message_only():
    core, _, delivered = broker()
    core.publish(0)
    core.publish(1)
    assert core.cancel(1)
    assert not core.cancel(1)
    assert not core.cancel(7)  # unknown
    core.offer("a")
    assert delivered == [(0, "a")]
    assert not core.cancel(0)  # already delivered


def test_a_scheduled_message_is_sent_again_at_the_tail_after_its_delay():
    """Scheduled at 0 for 5: meanwhile nobody can take it; at 5 it goes behind 1, which
    was published before it came due."""
    core, _, delivered = broker()
    core.schedule(0, 5.0)
    core.publish(1)
    core.env.run(until=4.0)
    assert 0 in core.scheduled
    assert 0 not in core.queued
    core.env.run(until=6.0)
    core.offer("a")
    assert [order for order, _ in delivered] == [1, 0]


def test_a_scheduled_message_can_be_cancelled_and_is_then_never_sent():
    core, _, delivered = broker()
    core.schedule(0, 5.0)
    assert core.cancel(0)
    core.offer("a")
    core.env.run(until=10.0)
    assert delivered == []


def test_a_scheduled_message_due_while_the_broker_is_down_is_sent_when_it_is_back():
    """Durable: the scheduler's store keeps it; due at 5 while down (from 1), it lands at
    broker_up (at 8), before the publishes the customers' apps kept (retry)."""
    env = simpy.Environment()
    recorder = Recorder(10)
    core = Broker(env, recorder, durable=True, retry=True)
    delivered = []
    core.room = lambda consumer: 1
    core.deliver = lambda order, consumer: delivered.append((env.now, order)) or True
    core.offer("a")
    core.schedule(0, 5.0)
    env.run(until=1.0)
    assert core.broker_down() == []
    core.publish(1)  # kept by the app (retry)
    env.run(until=8.0)
    assert delivered == []
    assert core.overdue == [0]
    core.broker_up()
    assert delivered == [(8.0, 0), (8.0, 1)]


def test_a_transient_broker_loses_its_scheduled_messages_when_it_goes_down():
    core, recorder, delivered = broker(durable=False)
    core.schedule(0, 5.0)
    core.publish(1)
    assert core.broker_down() == [1, 0]
    assert [recorder.lost_reason[i] for i in (0, 1)] == [3, 3]  # broker_down
    core.broker_up()
    core.offer("a")
    core.env.run(until=10.0)
    assert delivered == []


def test_rabbitmq_receiver_closes_two_silent_checks_after_the_last_data():
    """Heartbeats every h/2 from the opening, checks every h: closed at a check, two
    checks after the first check that saw the last heartbeat, so 2h to 3h after that
    heartbeat and 1.5h to 3h after the crash (3h when the peer fell silent at once: its
    opening is first seen by the check one timeout after it)."""
    h = 60.0
    for crash in (0.0, 1.0, 29.999, 30.0, 30.001, 59.0, 61.0, 89.0, 91.0, 1000.5):
        closed = silence_detected(0.0, crash, h, writes=2, missed=2)
        assert closed % h == 0
        assert 1.5 * h <= closed - crash <= 3 * h, crash
        last_beat = math.ceil(crash / (h / 2) - 1) * h / 2 if crash > 0 else 0.0
        assert 2 * h <= closed - last_beat <= 3 * h, crash
    assert silence_detected(0.0, 50.0, h, writes=2, missed=2) == 180.0  # beat 30, seen at 60
    assert silence_detected(0.0, 65.0, h, writes=2, missed=2) == 180.0  # beat 60, seen at 60


@pytest.mark.parametrize("last_read", [60.5, 62.0, 88.9])
def test_a_frame_read_after_the_last_heartbeat_delays_the_close(last_read):
    """A crash at 89: the last heartbeat was at 60, seen by the check at 60, so with
    nothing else the connection closes at 180; an ack read after it is first seen by the
    check at 120, so it closes at 240; one read before the heartbeat changes nothing."""
    h = 60.0
    assert silence_detected(0.0, 89.0, h, writes=2, missed=2) == 180.0
    assert silence_detected(0.0, 89.0, h, writes=2, missed=2, last_read=last_read) == 240.0
    assert silence_detected(0.0, 89.0, h, writes=2, missed=2, last_read=59.0) == 180.0


def test_the_first_check_is_one_period_after_the_opening():
    """A peer silent from its opening (at 10): checks at 70, 130, 190: closed at 190."""
    assert silence_detected(10.0, 10.0, 60.0, writes=2, missed=2) == 190.0
    assert silence_detected(10.0, 10.0, 30.0, writes=3, missed=1) == 70.0


def test_activemq_inactivity_monitor_closes_at_a_read_check():
    """Keep-alives every m/3, read checks every m: closed at the first check with nothing
    read for a whole period, between 2m/3 and 2m after the crash."""
    m = 30.0
    for crash in (0.5, 10.0, 29.0, 31.0, 50.0, 89.9):
        closed = silence_detected(0.0, crash, m, writes=3, missed=1)
        assert closed % m == 0
        assert 2 * m / 3 <= closed - crash <= 2 * m, crash
    assert silence_detected(0.0, 50.0, m, writes=3, missed=1) == 90.0


def test_an_order_kept_while_the_broker_is_down_can_be_cancelled():
    """With `when_down: retry` the customer's app keeps the order; the customer calling it
    off meanwhile means it is never published."""
    env = simpy.Environment()
    core = Broker(env, Recorder(4), retry=True)
    delivered = []
    core.room = lambda consumer: 1
    core.deliver = lambda order, consumer: delivered.append(order) or True
    core.broker_down()
    core.publish(0)
    core.publish(1)
    assert core.cancel(1)
    core.broker_up()
    core.offer("a")
    assert delivered == [0]


def test_a_redelivery_due_while_the_broker_is_down_can_be_cancelled():
    """A scheduled redelivery that comes due during an outage waits in the scheduler's
    store: still cancellable, and not sent when the broker is back."""
    env = simpy.Environment()
    core = Broker(env, Recorder(4))
    delivered = []
    core.room = lambda consumer: 1
    core.deliver = lambda order, consumer: delivered.append(order) or True
    core.schedule(2, 5.0)
    core.schedule(3, 5.0)
    env.run(until=1.0)
    core.broker_down()
    env.run(until=10.0)  # both came due during the outage
    assert core.cancel(3)
    core.broker_up()
    core.offer("a")
    assert delivered == [2]
