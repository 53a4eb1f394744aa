"""Designs: what happens to an order on arrival, on a crash, on a recovery, on completion.

`RamOnly` is the baseline: orders go straight to a store's RAM and nobody keeps a copy.
`DatabaseQueue` is the seed's message queue: a database of N/D statuses, a polling
orchestrator and a balancer that redistributes every N order when a store is declared down.
Walk-in (offline) orders are pinned to their store in both: if it is down or crashes, they
are lost (the customer is standing in a dark shop).
"""

from __future__ import annotations

from collections.abc import Sequence

from simpy import Environment

from sim.model.balancer import Balancer
from sim.model.database import Database
from sim.model.orders import OrderBook
from sim.model.store import Store
from sim.records import CRASH, STORE_DOWN, Recorder


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

    def dispatch(self, order: int) -> None:
        index = self.pinned[order]
        if index >= 0:
            super().dispatch(order)
            return
        self.database.open.add(order)  # status N
        index = self.balancer.route(self.key_hash[order])
        if index is None or not self.stores[index].accept(order):
            self.recorder.strand(order, self.env.now)
        if index is not None:
            self.recorder.sent_to[order] = index

    def kept_elsewhere(self, order: int) -> bool:
        """Online orders stay N in the database; walk-ins die with their store."""
        return self.pinned[order] < 0

    def crash(self, store: Store) -> None:
        held = [order for order in store.held if self.pinned[order] < 0]
        super().crash(store)
        self.strand_dropped(held)

    def strand_dropped(self, orders: list[int]) -> None:
        """Online orders a store just dropped: those not completed and in no other store's
        RAM wait as N with no store to prepare them."""
        now, completions, stores = self.env.now, self.recorder.completions, self.stores
        for order in orders:
            if completions[order] == 0 and not any(order in s.held for s in stores):
                self.recorder.strand(order, now)

    def completed(self, order: int, store: Store) -> None:
        super().completed(order, store)
        self.database.finish(order, store)

    def stores_down(self, stores: list[Store]) -> None:
        """The orchestrator declared `stores` down: take them out, then redistribute."""
        for store in stores:
            self.balancer.remove(store.index)
        self.redistribute()

    def store_up(self, store: Store) -> None:
        self.balancer.add(store.index)

    def send(self, order: int, index: int) -> None:
        """Hand an N order to store `index` again (a store that holds it ignores it)."""
        if self.stores[index].accept(order):
            self.recorder.unstrand(order, self.env.now)

    def redistribute(self) -> None:
        """Route every online order still N over the stores up, in arrival order; with
        `owned`, only those last sent to a store that is not a member (or to none)."""
        orders = sorted(self.database.open)
        if self.owned_only:
            members, sent_to = self.balancer.members, self.recorder.sent_to
            orders = [order for order in orders if sent_to[order] not in members]
        moved = self.route_again(orders)
        self.recorder.event(self.env.now, "redistribute", orders=len(orders), moved=moved)

    def route_again(self, orders: list[int]) -> int:
        """Route `orders` over the stores up and send each; how many moved."""
        route, sent_to, moves = self.balancer.route, self.recorder.sent_to, self.recorder.moves
        moved = 0
        for position, order in enumerate(orders):
            index = route(self.key_hash[order])
            if index is None:
                # No store is up: orders left unplaced belong to no store (so that `owned`
                # sends them once one is), not to the store they were last sent to.
                for unplaced in orders[position:]:
                    sent_to[unplaced] = -1
                break
            previous = sent_to[order]
            if index != previous:
                if previous >= 0:
                    moves[order] += 1
                    moved += 1
                sent_to[order] = index
            self.send(order, index)
        return moved
