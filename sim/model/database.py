"""The order database of the message-queue design: status N until a D write lands."""

from __future__ import annotations

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
    them, so only online orders are kept in `open`, the set the orchestrator redistributes.
    """

    def __init__(self, env: Environment, ack_delay: float, recorder: Recorder):
        self.env = env
        self.ack_delay = ack_delay
        self.recorder = recorder
        self.open: set[int] = set()  # designs add new online orders here (status N)
        self.down = False  # during an outage: D writes wait in `waiting` until it is back
        self.waiting: list[int] = []

    def finish(self, order: int, store) -> None:
        """`store` finished `order`: its D write lands after `ack_delay`, unless it crashes."""
        if self.ack_delay == 0:
            self._land(order)
        else:
            DoneWrite(self.env, order, store, store.epoch, self.ack_delay).callbacks.append(
                self._landed
            )

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
        self.open.discard(order)
        done_at = self.recorder.done_at
        if done_at[order] != done_at[order]:  # NaN: the first D write to land
            done_at[order] = self.env.now
        if self.recorder.trace is not None:
            self.recorder.trace.append((self.env.now, "done", -1, order))
