"""The load balancer: a hash strategy over the stores it currently counts as members."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.hashing import Strategy, build_strategy
from sim.scenario import BalancerSpec


class Balancer:
    """Routes key hashes to member stores; membership changes update the strategy in place.

    The strategy is built once over every store (the hashing modules keep what is costly
    to build, such as a ring's points, for the next design and replication); then each
    store that leaves or comes back costs what its algorithm allows (see `sim.hashing`),
    never a rebuild of the whole chain.
    """

    def __init__(self, spec: BalancerSpec, stores: int, load: Callable[[int], int]):
        self.spec = spec
        self.stores = stores
        self.members: set[int] = set(range(stores))
        self.outside: set[int] = set()  # configured stores that are not members
        self._strategy: Strategy = build_strategy(
            spec.strategy,
            range(stores),
            spec.vnodes,
            stores=stores,
            weights=spec.weights,
            table_size=spec.table_size,
            epsilon=spec.epsilon,
            load=load,
        )
        self._routing: Strategy | None = self._strategy  # None while there are no members
        self._kept: int | None = None  # the last member, kept in the strategy while none are

    def route(self, key_hash: int) -> int | None:
        """The store for this key among the members, or None when there are none."""
        strategy = self._routing
        return None if strategy is None else strategy.lookup(key_hash)

    def route_many(self, key_hashes: np.ndarray) -> np.ndarray | None:
        """`route` of every hash (uint64) at once, where the strategy computes it in numpy
        (ring, modulo, maglev); None otherwise, or when there are no members."""
        strategy = self._routing
        many = getattr(strategy, "lookup_many", None)
        return None if many is None else many(key_hashes)

    def remove(self, store: int) -> None:
        if store not in self.members:
            return
        self.members.discard(store)
        self.outside.add(store)
        if self.members:
            self._strategy.remove(store)
        else:  # a strategy keeps one member: route to none until one comes back
            self._kept, self._routing = store, None

    def add(self, store: int) -> None:
        if store in self.members:
            return
        self.members.add(store)
        self.outside.discard(store)
        self._strategy.add(store)
        if self._kept is not None:
            if self._kept != store:
                self._strategy.remove(self._kept)
            self._kept, self._routing = None, self._strategy
