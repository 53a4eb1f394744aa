"""Scheduling at exact instants, and the fixed order of simultaneous events.

Events at the same instant run in this order, then in the order they were scheduled:

1. COMPLETION: a preparation finishes; a D status lands in the database.
2. FAILURE: a store crashes or recovers.
3. ARRIVAL: an order arrives.
4. POLL: the orchestrator polls the stores.
5. LEASE: N orders whose lease (`orchestrator.max_age`) ran out are sent again, after
   the round's own decisions.
6. PATIENCE: a customer's patience runs out (an order whose preparation starts at that
   very instant, or finishes, is in time).

So a preparation that ends at the very instant of a crash counts as finished, an order
arriving at the instant of a crash finds the store down, one arriving at a recovery finds
it up, and a poll at either instant sees the store's new state.
"""

from __future__ import annotations

from heapq import heappush

from simpy import Environment
from simpy.events import Event

COMPLETION = 0
FAILURE = 1
ARRIVAL = 2
POLL = 3
LEASE = 4
PATIENCE = 5


class At(Event):
    """An event that happens at absolute time `time`, ranked `priority` among equals.

    SimPy's `schedule` takes a delay, and `now + (time - now)` is not always `time` in
    floating point (some sums cannot reach it at all), so an instant computed two ways (a
    poll at k * interval, a scripted crash) could fire an ulp apart. The event is put on
    SimPy's queue at `time` itself instead, with the same key SimPy uses: (time, priority,
    insertion counter).
    """

    def __init__(self, env: Environment, time: float, priority: int):
        if time < env.now:
            raise ValueError(f"time {time} is in the past (now {env.now})")
        # Inlined from Event.__init__ and simpy's Timeout, as SimPy does for speed.
        self.env = env
        self.callbacks = []
        self._value = None
        self._ok = True
        heappush(env._queue, (time, priority, next(env._eid), self))
