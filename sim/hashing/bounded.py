"""Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, SODA 2018)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping

from sim.hashing.ring import Ring


class BoundedLoads:
    """A ring where no store may hold more than its cap: ceil((1 + epsilon) * m / n),
    with m the orders the members hold (counting the one being placed) and n the members.

    A key goes to the first store clockwise from its hash whose load is below the cap, so
    a key may skip its ring owner when that owner is full. `load(store)` tells how many
    orders a store holds right now. The answer depends on the loads, so keys of stores
    that stayed up can move when loads shift: the price of the bound.

    Membership is the ring's (`add` and `remove` flip one store's flag). The cap sums the
    members' loads, so a look-up costs one `load` call per member: bounded loads do not
    scale to thousands of stores (the size check counts it).
    """

    def __init__(
        self,
        members: Iterable[int],
        load: Callable[[int], int],
        vnodes: int = 160,
        epsilon: float = 0.25,
        weights: Mapping[int, float] | None = None,
    ):
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self._ring = Ring(members, vnodes, weights)
        self.load = load
        self.epsilon = epsilon

    @property
    def members(self) -> tuple[int, ...]:
        return self._ring.members

    def add(self, store: int) -> None:
        self._ring.add(store)

    def remove(self, store: int) -> None:
        self._ring.remove(store)

    def cap(self) -> int:
        """The most orders any member may hold once the next order is placed."""
        members = self._ring.members
        total = sum(self.load(store) for store in members) + 1
        return math.ceil((1 + self.epsilon) * total / len(members))

    def lookup(self, key_hash: int) -> int:
        cap = self.cap()
        base, alive = self._ring._base, self._ring._alive
        owners, stores = base.owners, base.stores
        start = bisect_right(base.points, key_hash)
        for step in range(len(owners)):
            slot = owners[(start + step) % len(owners)]
            if alive[slot] and self.load(stores[slot]) < cap:
                return stores[slot]
        raise AssertionError("unreachable: the members' loads sum to less than n * cap")
