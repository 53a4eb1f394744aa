"""Impatient customers: at the end of its patience, an order not yet being prepared is
cancelled by its customer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from simpy import Environment

from sim.model.events import PATIENCE, At
from sim.records import Recorder


class Patience:
    """At `ends[i]` asks `cancel(i)` to call order `i` off; records it if it could be.

    The decision is taken once, at the end of the customer's patience: an order whose
    preparation is under way then (or done) is made; one waiting then (in a queue, in the
    database, or again after a crash abandoned its preparation) is cancelled. One event
    is pending at a time, in order of the ends, each scheduling the next.
    """

    def __init__(
        self,
        env: Environment,
        ends: np.ndarray,
        cancel: Callable[[int], bool],
        recorder: Recorder,
    ):
        self.env = env
        finite = np.flatnonzero(np.isfinite(ends))
        order = finite[np.argsort(ends[finite], kind="stable")]
        self.orders = order.tolist()
        self.ends = ends[order].tolist()
        self.cancel = cancel
        self.recorder = recorder

    def start(self) -> None:
        if self.orders:
            self._schedule(0)

    def _schedule(self, index: int) -> None:
        event = At(self.env, self.ends[index], PATIENCE)
        event.index = index
        event.callbacks.append(self._run_out)

    def _run_out(self, event: At) -> None:
        index = event.index
        order = self.orders[index]
        if self.cancel(order):
            self.recorder.cancel(order, self.env.now)
        index += 1
        # Ends past the horizon never come: the run stops first.
        if index < len(self.orders):
            self._schedule(index)
