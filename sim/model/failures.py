"""Crashes and recoveries of every store, at the times drawn in the world."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

from simpy import Environment

from sim.model.events import FAILURE, At
from sim.model.store import Store


class Failures:
    """Takes each store down and back up at its outage times; the design reacts to each."""

    def __init__(
        self,
        env: Environment,
        stores: Sequence[Store],
        outages: Sequence[Sequence[tuple[float, float]]],
        on_crash: Callable[[Store], None],
        on_recover: Callable[[Store], None],
    ):
        self.env = env
        self.stores = stores
        self.outages = outages
        self.on_crash = on_crash
        self.on_recover = on_recover

    def start(self) -> None:
        for store, outages in zip(self.stores, self.outages, strict=True):
            if outages:
                self.env.process(self.crash_and_recover(store, outages))

    def crash_and_recover(
        self, store: Store, outages: Sequence[tuple[float, float]]
    ) -> Generator[At, None, None]:
        for start, end in outages:
            yield At(self.env, start, FAILURE)
            self.on_crash(store)
            yield At(self.env, end, FAILURE)
            self.on_recover(store)
