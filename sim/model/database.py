"""The order database of the message-queue design: status N until a D write lands."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from simpy import Environment
from simpy.events import Event

from sim.model.events import COMPLETION
from sim.records import Recorder


class DoneWrite(Event):
    """A store's D write for an order, landing `ack_delay` after the store finished it."""

    def __init__(self, env: Environment, order: int, store: object, epoch: int, delay: float):
        self.env = env
        self.callbacks = []
        self._value = None
        self._ok = True
        self.order = order
        self.store = store
        self.epoch = epoch
        env.schedule(self, COMPLETION, delay)


class Database:
    """Keeps which movable (online) orders still have status N; while it is `down`, no
    write lands (they wait for `back_up`).

    Walk-in orders get their D writes too (recorded in `done_at`), but no one may move
    them, so only online orders are kept in `open`, the set the orchestrator redistributes,
    indexed by the store each was last sent to (`sent_to`, -1 for none yet) so that the
    orders of given stores are found without walking them all.
    """

    def __init__(self, env: Environment, ack_delay: float, recorder: Recorder):
        self.env = env
        self.ack_delay = ack_delay
        self.recorder = recorder
        self.open: set[int] = set()  # online orders with status N
        # The same as flags by order (1: in `open`), for passes over them all in numpy;
        # orders before `oldest` are all 0 (an order is opened once, at arrival).
        self.is_open = bytearray(len(recorder.sent_to))
        self.oldest = 0
        self.newest = -1  # the last order opened
        # store (-1: none) -> its orders in `open`
        self.by_store: defaultdict[int, set[int]] = defaultdict(set)
        self.down = False  # during an outage: D writes wait in `waiting` until it is back
        self.waiting: list[int] = []

    def write(self, order: int, store: int) -> None:
        """A new online order, status N, sent to `store` (-1: to none)."""
        self.open.add(order)
        self.is_open[order] = 1
        self.newest = order
        self.by_store[store].add(order)

    def resend(self, order: int, old: int, new: int) -> None:
        """An N order last sent to `old` is now sent to `new`."""
        self.by_store[old].discard(order)
        self.by_store[new].add(order)

    def open_orders(self) -> np.ndarray:
        """The orders in `open`, in arrival order (a numpy pass over the recent ones)."""
        flags = np.frombuffer(self.is_open, dtype=np.uint8)[self.oldest :]
        orders = np.flatnonzero(flags) + self.oldest
        self.oldest = int(orders[0]) if len(orders) else self.newest + 1
        return orders

    def orders_of(self, stores) -> list[int]:
        """The N orders last sent to any of `stores`, in arrival order."""
        index = self.by_store
        return sorted(order for store in stores if store in index for order in index[store])

    def finish(self, order: int, store) -> None:
        """`store` finished `order`: its D write lands after `ack_delay`, unless it crashes."""
        if self.ack_delay == 0:
            self._land(order)
        else:
            DoneWrite(self.env, order, store, store.epoch, self.ack_delay).callbacks.append(
                self._landed
            )

    def cancel(self, order: int) -> None:
        """An N order's customer called it off: status cancelled, never sent again."""
        self.open.discard(order)
        self.is_open[order] = 0
        self.by_store[self.recorder.sent_to[order]].discard(order)

    def _landed(self, write: DoneWrite) -> None:
        if write.store.epoch == write.epoch:  # the store did not crash in between
            self._land(write.order)

    def back_up(self) -> None:
        """The outage is over: the D writes that waited land now, in the order written."""
        self.down = False
        waiting, self.waiting = self.waiting, []
        for order in waiting:
            self._land(order)

    def _land(self, order: int) -> None:
        if self.down:
            self.waiting.append(order)
            return
        if order in self.open:
            self.open.discard(order)
            self.is_open[order] = 0
            self.by_store[self.recorder.sent_to[order]].discard(order)
        done_at = self.recorder.done_at
        if done_at[order] != done_at[order]:  # NaN: the first D write to land
            done_at[order] = self.env.now
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "done", -1, order))
