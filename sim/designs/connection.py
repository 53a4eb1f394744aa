"""Connections of push brokers: who holds which unacknowledged deliveries, and when a
broker notices that a consumer's connection went silent.
"""

from __future__ import annotations

import math

from sim.designs.consumer import Delivery


class Connection:
    """A consumer's connection (or channel): opened at `opened`; `unacked` holds its
    deliveries not yet acknowledged, oldest first (dicts keep insertion order);
    `last_read` is when the broker last read a frame from the client other than a
    heartbeat (an ack, a nack): a sign of life as good as a heartbeat."""

    __slots__ = ("consumer", "last_read", "open", "opened", "timer", "unacked")

    def __init__(self, consumer, opened: float):
        self.consumer = consumer
        self.opened = opened
        self.last_read = opened
        self.open = True
        self.timer = False  # a consumer-timeout check is scheduled
        self.unacked: dict[Delivery, None] = {}


def silence_detected(
    opened: float,
    crash: float,
    check: float,
    writes: int,
    missed: int,
    last_read: float | None = None,
) -> float:
    """When a broker closes a connection whose peer fell silent at `crash`.

    The peer writes a heartbeat every `check / writes` from `opened` (at the instant of
    a crash, the crash comes first), and its other frames count as well: the last was
    read at `last_read`. The broker checks at `opened + k * check`, k >= 1, and closes the
    connection at the first check that found nothing new read `missed` times in a row:
    the first check at or after the last frame sees it, and `missed` checks later the
    connection is closed.

    RabbitMQ (heartbeat timeout h) is check = h, writes = 2, missed = 2: its receiver
    checks every h and times out "after two checks with no change", between 2h and 3h
    after the last data read, so between 1.5h and 3h after the crash. ActiveMQ's
    inactivity monitor (maxInactivityDuration m) is check = m, writes = 3, missed = 1.
    """
    interval = check / writes
    # Heartbeats at opened + j * interval, j >= 0, strictly before the crash.
    last = max(0, math.ceil((crash - opened) / interval) - 1)
    # The first check k at or after that heartbeat: k * check >= last * interval.
    seen = -(-last // writes)
    if last_read is not None and last_read > opened + last * interval:
        # A frame after the last heartbeat; the tolerance keeps a frame read at a
        # check's instant (up to rounding) seen by that check.
        seen = math.ceil((last_read - opened) / check - 1e-9)
    return opened + (max(seen, 1) + missed) * check
