"""The load balancer: a hash strategy over the stores it currently counts as members."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

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
            if spec.strategy == "bounded":  # answers depend on live loads: never shared
                self._cache[key] = build_strategy(
                    "bounded",
                    sorted(key),
                    spec.vnodes,
                    weights=spec.weights,
                    epsilon=spec.epsilon,
                    load=self.load,
                )
            else:
                self._cache[key] = _shared_strategy(
                    spec.strategy,
                    tuple(sorted(key)),
                    spec.vnodes,
                    self.stores,
                    tuple(sorted(spec.weights.items())),
                    spec.table_size,
                )
        self._strategy = self._cache[key]


@lru_cache(maxsize=64)
def _shared_strategy(
    name: str,
    members: tuple[int, ...],
    vnodes: int,
    stores: int,
    weights: tuple[tuple[int, float], ...],
    table_size: int,
) -> Strategy:
    """A strategy whose answers depend only on its arguments, built once per process:
    the same memberships recur across designs and replications (a Maglev table or a ring
    of many points costs milliseconds to build)."""
    return build_strategy(
        name, members, vnodes, stores=stores, weights=dict(weights), table_size=table_size
    )
