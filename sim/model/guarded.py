"""The seed's database queue in a world where failures are imperfect.

`GuardedQueue` is `DatabaseQueue` plus what a real deployment meets and may add:

- the database goes down: new online orders are rejected (lost at the door, `db_down`)
  or retried by the customer's app and written when it is back (`database.when_down`);
  D writes wait and land when it is back; redistributions and sends wait for a poll
  round with the database up;
- `orchestrator.fencing`: a store declared down stops and drops what it holds (work
  wasted, never duplicated) and takes nothing, walk-ins included, until declared up;
- `orchestrator.incarnations`: a poll answer carries the store's restart count; a restart
  seen sends that store's N orders to it again, so short outages strand nothing;
- `orchestrator.max_age`: a lease on every N order (`sim.model.lease`).

With every one of these at its default, it does exactly what `DatabaseQueue` does.
"""

from __future__ import annotations

from sim.model.designs import DatabaseQueue
from sim.model.lease import Lease
from sim.model.store import Store
from sim.records import DB_DOWN, FENCED


class GuardedQueue(DatabaseQueue):
    """`DatabaseQueue` with database outages, fencing, incarnations and leases."""

    def __init__(self, *args, when_down: str = "reject", fencing: bool = False, **kwargs):
        """`DatabaseQueue`'s arguments, then what customers do while the database is down
        and whether stores declared down are fenced; `lease` is set after, if any."""
        super().__init__(*args, **kwargs)
        self.retry = when_down == "retry"
        self.fencing = fencing
        self.lease: Lease | None = None
        self.pending = False  # work waits for a round with the database up (`Backlog`)
        self.must_redistribute = False
        self.resend_to: set[int] = set()  # stores whose N orders wait to be sent again
        self.retrying: list[int] = []  # orders the customers' apps will write when it is up
        self.wake = lambda: None  # the orchestrator's: hold a round soon

    def dispatch(self, order: int) -> None:
        pinned = self.pinned[order]
        if pinned >= 0:
            if self.stores[pinned].fenced and self.stores[pinned].up:
                self.recorder.sent_to[order] = pinned
                self.recorder.lose(order, self.env.now, FENCED)
            else:
                super().dispatch(order)
        elif self.database.down:
            self._turned_away(order)
        else:
            super().dispatch(order)
            if self.lease is not None:
                self.lease.sent(order)

    def _turned_away(self, order: int) -> None:
        if self.retry:
            self.retrying.append(order)
            self.recorder.strand(order, self.env.now)
        else:
            self.recorder.lose(order, self.env.now, DB_DOWN)

    def send(self, order: int, index: int) -> None:
        super().send(order, index)
        if self.lease is not None:
            self.lease.sent(order)

    def _may_move(self) -> list[int] | None:
        """With leases, every N order a redistribution routes renews its lease, even one
        its store already holds: walk them all (None), as the seed's design does."""
        return None if self.lease is not None else super()._may_move()

    def stores_down(self, stores: list[Store]) -> None:
        """Take them out; fence them; redistribute now, or at the next round with the
        database up."""
        for store in stores:
            self.balancer.remove(store.index)
        if self.fencing:
            for store in stores:
                self._fence(store)
        self.must_redistribute = self.pending = True
        self.flush()

    def _fence(self, store: Store) -> None:
        dropped = store.fence()
        self.unheld.update(self.database.by_store.get(store.index, ()))
        now = self.env.now
        walk_ins = [order for order in dropped if self.pinned[order] >= 0]
        for order in walk_ins:
            self.recorder.lose(order, now, FENCED)
        self.strand_dropped([order for order in dropped if self.pinned[order] < 0])
        self.recorder.event(now, "fenced", store.index, orders=len(dropped), lost=len(walk_ins))

    def store_up(self, store: Store) -> None:
        super().store_up(store)
        if store.fenced:
            store.unfence()
            self.recorder.event(self.env.now, "unfenced", store.index)

    def restarted(self, stores: list[Store]) -> None:
        """Their answers show a restart: their N orders go to them again."""
        for store in stores:
            self.recorder.event(self.env.now, "restart_seen", store.index)
            self.resend_to.add(store.index)
        self.pending = True
        self.flush()

    def flush(self) -> None:
        """The work waiting for a round with the database up, if it is up."""
        if self.database.down:
            return
        self.pending = False
        if self.must_redistribute:
            self.must_redistribute = False
            self.redistribute()
        if self.resend_to:
            stores, self.resend_to = sorted(self.resend_to), set()
            members = self.balancer.members
            for index in stores:
                if index in members:
                    for order in self.database.orders_of([index]):
                        self.send(order, index)

    def send_again(self, orders: list[int]) -> None:
        """Leases ran out: route these N orders again."""
        moved = self.route_again(orders)
        self.recorder.event(self.env.now, "lease_expired", orders=len(orders), moved=moved)

    def database_down(self) -> None:
        self.database.down = True
        self.recorder.event(self.env.now, "database_down")

    def database_up(self) -> None:
        """D writes land, the retried orders are written (and sent); waiting work is
        done at the next round."""
        self.database.back_up()
        self.recorder.event(self.env.now, "database_up", orders=len(self.retrying))
        retrying, self.retrying = self.retrying, []
        for order in retrying:
            self.recorder.unstrand(order, self.env.now)
            self.dispatch(order)
        if self.pending:
            self.wake()
