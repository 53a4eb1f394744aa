"""Designs: what happens to an order on arrival, on a crash, on a recovery, on completion.

`RamOnly` is the baseline: orders go straight to a store's RAM and nobody keeps a copy.
`DatabaseQueue` is the seed's message queue: a database of N/D statuses, a polling
orchestrator and a balancer that redistributes every N order when a store is declared down.
Walk-in (offline) orders are pinned to their store in both: if it is down or crashes, they
are lost (the customer is standing in a dark shop).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from simpy import Environment

from sim.model.balancer import Balancer
from sim.model.database import Database
from sim.model.orders import OrderBook
from sim.model.store import Store
from sim.records import CRASH, STORE_DOWN, Recorder

#: Under `all`, below this many N orders walking them all in Python costs less than the
#: numpy pass that finds those that can move (about 100 us of fixed cost).
WALK_ALL_BELOW = 200


class RamOnly:
    """Route each order to a store over all stores; a crash loses what the store held."""

    def __init__(
        self,
        env: Environment,
        book: OrderBook,
        stores: Sequence[Store],
        balancer: Balancer,
        recorder: Recorder,
    ):
        self.env = env
        self.stores = stores
        self.balancer = balancer
        self.recorder = recorder
        self.pinned = book.pinned
        self.key_hash = book.key_hash
        self.prep = book.prep

    def dispatch(self, order: int) -> None:
        """A new order: send it to its store; it is lost if that store is down."""
        index = self.pinned[order]
        if index < 0:
            index = self.balancer.route(self.key_hash[order])
        self.recorder.sent_to[order] = index
        if not self.stores[index].accept(order):
            self.recorder.lose(order, self.env.now, STORE_DOWN)

    def crash(self, store: Store) -> None:
        """The store's RAM is gone; every order it held that nobody else keeps is lost."""
        dropped = store.crash()
        now = self.env.now
        lost = [order for order in dropped if not self.kept_elsewhere(order)]
        for order in lost:
            self.recorder.lose(order, now, CRASH)
        self.recorder.event(now, "crash", store.index, orders=len(dropped), lost=len(lost))

    def kept_elsewhere(self, order: int) -> bool:
        """Whether an order survives its store's crash: in RAM only, never."""
        return False

    def recover(self, store: Store) -> None:
        store.recover()
        self.recorder.event(self.env.now, "recover", store.index)

    def completed(self, order: int, store: Store) -> None:
        self.recorder.complete(order, self.env.now, self.prep[order])

    def failed(self, order: int, store: Store) -> None:
        """An attempt failed: the store tries again in place, behind what it has queued."""
        store.accept(order)

    def end_of_run(self, horizon: float) -> None:
        """The run ended at `horizon`: report totals the design keeps (none here)."""


class DatabaseQueue(RamOnly):
    """The seed's design: every order is written to the database first (status N).

    Online orders are routed over the stores the orchestrator counts as up; one routed to
    a store that is down but not yet detected waits in the database. When stores are
    declared down, every online order still N is routed again over the stores up; a store
    ignores an order it already holds. Stores declared down that answer a poll are put back
    into the balancer, which moves nothing until the next redistribution.
    """

    def __init__(
        self,
        env: Environment,
        book: OrderBook,
        stores: Sequence[Store],
        balancer: Balancer,
        recorder: Recorder,
        database: Database,
        redistribute: str = "all",
    ):
        super().__init__(env, book, stores, balancer, recorder)
        self.database = database
        self.owned_only = redistribute == "owned"
        # N orders (and some no longer N) that the store they were last sent to does not
        # hold: it refused them (down), dropped them (crashed) or finished them (the D
        # write not landed yet). Only a store's accept, finish and crash change what it
        # holds, and each of those updates this set.
        self.unheld: set[int] = set()
        # numpy views of the key hashes and of where each order was last sent (no copy:
        # `sent_to` is read as it is when a redistribution starts)
        self._hashes = np.frombuffer(book.key_hash, dtype=np.uint64)
        self.sent_to = recorder.sent_to
        self._sent_to = np.frombuffer(recorder.sent_to, dtype=np.int32)

    def dispatch(self, order: int) -> None:
        index = self.pinned[order]
        if index >= 0:
            super().dispatch(order)
            return
        index = self.balancer.route(self.key_hash[order])
        if index is None:
            self.database.write(order, -1)  # status N, waiting for a store
        else:
            self.database.write(order, index)
            self.recorder.sent_to[order] = index
            if not self.stores[index].accept(order):
                self.unheld.add(order)  # down, not yet detected

    def kept_elsewhere(self, order: int) -> bool:
        """Online orders stay N in the database; walk-ins die with their store."""
        return self.pinned[order] < 0

    def crash(self, store: Store) -> None:
        super().crash(store)
        self.unheld.update(self.database.by_store.get(store.index, ()))

    def completed(self, order: int, store: Store) -> None:
        super().completed(order, store)
        self.database.finish(order, store)
        database = self.database
        if database.ack_delay and order in database.open and self.sent_to[order] == store.index:
            self.unheld.add(order)  # finished; its D write has not landed yet

    def failed(self, order: int, store: Store) -> None:
        """An attempt failed: an online order stays N and is sent again at the next
        redistribution; a walk-in is tried again in place."""
        if self.pinned[order] >= 0:
            store.accept(order)

    def stores_down(self, stores: list[Store]) -> None:
        """The orchestrator declared `stores` down: take them out, then redistribute."""
        for store in stores:
            self.balancer.remove(store.index)
        self.redistribute()

    def store_up(self, store: Store) -> None:
        self.balancer.add(store.index)

    def redistribute(self) -> None:
        """Route every online order still N over the stores up, in arrival order; with
        `owned`, only those last sent to a store that is not a member (or to none).

        Only the orders for which routing can do something are walked: under `owned`,
        the database's index gives the orders of the stores out of the balancer; under
        `all`, every N order's store is computed at once (`Balancer.route_many`) and an
        order is walked only if its store changed or that store does not hold it (see
        `unheld`): handing an order to a store that holds it does nothing. Strategies
        without `route_many` (rendezvous, jump, bounded), traced runs (every `ignored`
        step is recorded) and small databases (`WALK_ALL_BELOW`) walk them all.
        """
        database, balancer = self.database, self.balancer
        if self.owned_only:
            orders = database.orders_of([-1, *balancer.outside])
            count = len(orders)
        else:
            count = len(database.open)
            few = count <= WALK_ALL_BELOW or self.recorder.trace is not None
            orders = None if few else self._may_move()
            if orders is None:
                orders = sorted(database.open)
        moved = self._send(orders) if balancer.members else 0
        self.recorder.event(self.env.now, "redistribute", orders=count, moved=moved)

    def _may_move(self) -> list[int] | None:
        """The N orders whose routing does something now, in arrival order: those whose
        store changed and those their store does not hold. None if the balancer cannot
        route them all at once."""
        orders = self.database.open_orders()
        routes = self.balancer.route_many(self._hashes[orders])
        if routes is None:
            return None
        self.unheld &= self.database.open
        changed = orders[routes != self._sent_to[orders]].tolist()
        return sorted(self.unheld.union(changed))

    def _send(self, orders: list[int]) -> int:
        """Route `orders` and hand each to its store; how many moved to another store."""
        route, sent_to, moves = self.balancer.route, self.recorder.sent_to, self.recorder.moves
        resend = self.database.resend
        moved = 0
        for order in orders:
            index = route(self.key_hash[order])
            previous = sent_to[order]
            if index != previous:
                if previous >= 0:
                    moves[order] += 1
                    moved += 1
                sent_to[order] = index
                resend(order, previous, index)
            store = self.stores[index]
            store.accept(order)
            if store.up:
                self.unheld.discard(order)  # it holds the order now, or already did
            else:
                self.unheld.add(order)
        return moved
