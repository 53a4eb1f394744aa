"""Orders as the model reads them, and their arrivals.

`OrderBook` holds the columns the hot path reads, as compact `array.array`s (8 bytes an
order, and indexing them gives plain Python numbers). `Arrivals` hands each order to the
design at its arrival time, one event per order, each arrival scheduling the next.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from simpy import Environment

from sim.model.events import ARRIVAL, At
from sim.world import World


def _column(typecode: str, dtype: type, values) -> array:
    return array(typecode, np.asarray(values, dtype=dtype).tobytes())


@dataclass(frozen=True)
class OrderBook:
    """Arrival time, preparation time, pinned store (-1: online) and key hash per order."""

    arrival: array
    prep: array
    pinned: array
    key_hash: array

    @classmethod
    def from_world(cls, world: World) -> OrderBook:
        return cls(
            arrival=_column("d", np.float64, world.arrival),
            prep=_column("d", np.float64, world.prep),
            pinned=_column("i", np.int32, world.pinned),
            key_hash=_column("Q", np.uint64, world.key_hash),
        )


class Arrivals:
    """Hands order `i` to `dispatch` at `times[i]` (times sorted, drawn beforehand)."""

    def __init__(self, env: Environment, times: array, dispatch: Callable[[int], None]):
        self.env = env
        self.times = times
        self.dispatch = dispatch

    def start(self) -> None:
        if self.times:
            self._schedule(0)

    def _schedule(self, order: int) -> None:
        event = At(self.env, self.times[order], ARRIVAL)
        event.order = order
        event.callbacks.append(self._arrive)

    def _arrive(self, event: At) -> None:
        order = event.order
        self.dispatch(order)
        if order + 1 < len(self.times):
            self._schedule(order + 1)
