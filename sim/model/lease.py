"""Leases on N orders (`orchestrator.max_age`): an order still N that was sent to a store
at least `max_age` ago is sent again at the next poll round, like a message whose
visibility timeout ran out at a broker.

Sending again routes the order over the stores up; a store that holds it ignores it (and
the lease starts over), so a lease only costs work when the order was really lost from
RAM, or when the balancer now picks another store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from simpy import Environment

from sim.model.database import Database
from sim.model.events import LEASE, At
from sim.model.outages import Outages, first_round, rounds_from


class Lease:
    """Keeps when each online order was last sent, and sends again those whose lease ran
    out, at poll rounds held with the orchestrator and the database up."""

    def __init__(
        self,
        env: Environment,
        max_age: float,
        poll_interval: float,
        database: Database,
        send_again: Callable[[list[int]], None],
        orchestrator_outages: Outages,
        database_outages: Outages,
    ):
        self.env = env
        self.max_age = max_age
        self.interval = poll_interval
        self.database = database
        self.send_again = send_again
        self.outages = (orchestrator_outages, database_outages)
        self.sent_at: dict[int, float] = {}  # open order -> when it was last sent
        self.due: deque[tuple[int, float, int]] = deque()  # (round, sent at, order), in order
        self.checking = 0  # the round of the next check (0: none scheduled)

    def sent(self, order: int) -> None:
        """`order` was just sent to a store: its lease starts now."""
        now = self.env.now
        self.sent_at[order] = now
        due = rounds_from(now + self.max_age, self.interval)
        self.due.append((due, now, order))
        if not self.checking:
            self._schedule(self.due[0][0])  # the earliest lease; rounds only grow

    def _schedule(self, tick: int) -> None:
        tick = first_round(tick, self.interval, *self.outages)
        self.checking = tick
        At(self.env, tick * self.interval, LEASE).callbacks.append(self._check)

    def _check(self, _event: At) -> None:
        """Send again every order whose lease ran out and that is still N."""
        tick = self.checking
        self.checking = 0
        due, sent_at, open_orders = self.due, self.sent_at, self.database.open
        expired = []
        while due and due[0][0] <= tick:
            _, time, order = due.popleft()
            if sent_at.get(order) == time and order in open_orders:
                expired.append(order)
            elif order not in open_orders:
                sent_at.pop(order, None)
        if expired:
            self.send_again(expired)  # each one calls `sent` again
        if due and not self.checking:
            self._schedule(max(due[0][0], tick + 1))
