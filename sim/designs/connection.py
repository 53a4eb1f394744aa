"""Connections of push brokers: who holds which unacknowledged deliveries, and when a
broker notices that a consumer's connection went silent.
"""

from __future__ import annotations

import math

from sim.designs.consumer import Delivery


class Connection:
    """A consumer's connection (or channel): opened at `opened`; `unacked` holds its
    deliveries not yet acknowledged, oldest first (dicts keep insertion order)."""

    __slots__ = ("consumer", "open", "opened", "timer", "unacked")

    def __init__(self, consumer, opened: float):
        self.consumer = consumer
        self.opened = opened
        self.open = True
        self.timer = False  # a consumer-timeout check is scheduled
        self.unacked: dict[Delivery, None] = {}


def silence_detected(opened: float, crash: float, check: float, writes: int, missed: int) -> float:
    """When a broker closes a connection whose peer fell silent at `crash`.

    The peer writes a heartbeat every `check / writes` from `opened` (at the instant of
    a crash, the crash comes first); the broker checks at `opened + k * check` and closes
    the connection at the first check with nothing read for the last `missed` checks:
    RabbitMQ (heartbeat h) is check = h/2, writes = 1, missed = 2 — closed at the last
    heartbeat + h, between h/2 and h after the crash; ActiveMQ's inactivity monitor
    (maxInactivityDuration m) is check = m, writes = 3, missed = 1.
    """
    interval = check / writes
    # Heartbeats at opened + j * interval, j >= 0, strictly before the crash.
    last = max(0, math.ceil((crash - opened) / interval) - 1)
    # The first check k with k * check >= last * interval + missed * check.
    k = -(-last // writes) + missed
    return opened + k * check
