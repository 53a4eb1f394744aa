"""The load balancer: a hash strategy over the stores it currently counts as members."""

from __future__ import annotations

from collections.abc import Callable

from sim.hashing import Strategy, build_strategy
from sim.scenario import BalancerSpec


class Balancer:
    """Routes key hashes to member stores; membership changes rebuild the strategy.

    Strategies are cached per membership, since the same few memberships come back each
    time a store goes down and comes up again.
    """

    def __init__(self, spec: BalancerSpec, stores: int, load: Callable[[int], int]):
        self.spec = spec
        self.stores = stores
        self.load = load  # orders a store holds now, for bounded loads
        self.members: set[int] = set(range(stores))
        self._cache: dict[frozenset[int], Strategy] = {}
        self._strategy: Strategy | None = None
        self._rebuild()

    def route(self, key_hash: int) -> int | None:
        """The store for this key among the members, or None when there are none."""
        strategy = self._strategy
        return None if strategy is None else strategy.lookup(key_hash)

    def remove(self, store: int) -> None:
        self.members.discard(store)
        self._rebuild()

    def add(self, store: int) -> None:
        self.members.add(store)
        self._rebuild()

    def _rebuild(self) -> None:
        key = frozenset(self.members)
        if not key:
            self._strategy = None
            return
        if key not in self._cache:
            spec = self.spec
            self._cache[key] = build_strategy(
                spec.strategy,
                sorted(key),
                spec.vnodes,
                stores=self.stores,
                weights=spec.weights,
                table_size=spec.table_size,
                epsilon=spec.epsilon,
                load=self.load,
            )
        self._strategy = self._cache[key]
