"""Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, SODA 2018)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping

from sim.hashing.base import sorted_members
from sim.hashing.ring import ring_points


class BoundedLoads:
    """A ring where no store may hold more than its cap: ceil((1 + epsilon) * m / n),
    with m the orders the members hold (counting the one being placed) and n the members.

    A key goes to the first store clockwise from its hash whose load is below the cap, so
    a key may skip its ring owner when that owner is full. `load(store)` tells how many
    orders a store holds right now. The answer depends on the loads, so keys of stores
    that stayed up can move when loads shift: the price of the bound.
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
        self.members = sorted_members(members)
        self.load = load
        self.epsilon = epsilon
        self._points, self._owners = ring_points(self.members, vnodes, weights)

    def cap(self) -> int:
        """The most orders any member may hold once the next order is placed."""
        total = sum(self.load(store) for store in self.members) + 1
        return math.ceil((1 + self.epsilon) * total / len(self.members))

    def lookup(self, key_hash: int) -> int:
        cap = self.cap()
        owners = self._owners
        start = bisect_right(self._points, key_hash)
        for step in range(len(owners)):
            store = owners[(start + step) % len(owners)]
            if self.load(store) < cap:
                return store
        raise AssertionError("unreachable: the members' loads sum to less than n * cap")
