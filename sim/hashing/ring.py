"""Consistent hashing on a ring (Karger et al., 1997), with virtual nodes and weights."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping

import xxhash

from sim.hashing.base import sorted_members


def ring_points(
    members: Iterable[int], vnodes: int, weights: Mapping[int, float] | None = None
) -> tuple[list[int], list[int]]:
    """Sorted ring points and their owners: store s gets round(vnodes * weight(s)) points
    (at least one), at the xxh3 hashes of `store-<s>-vnode-<v>`."""
    weights = weights or {}
    points = sorted(
        (xxhash.xxh3_64_intdigest(f"store-{store}-vnode-{v}".encode()), store)
        for store in members
        for v in range(max(1, round(vnodes * weights.get(store, 1.0))))
    )
    return [point for point, _ in points], [store for _, store in points]


class Ring:
    """Each store owns `vnodes` points (times its weight) on a 64-bit ring.

    A key belongs to the first point clockwise from its hash. Removing a store moves only
    the keys of its points, each to the next point clockwise, that is to the stores that
    follow it; adding it back takes back exactly those keys. More points per store spread
    the load more evenly (the spread of load falls about as 1 / sqrt(vnodes)).
    """

    def __init__(
        self,
        members: Iterable[int],
        vnodes: int = 160,
        weights: Mapping[int, float] | None = None,
    ):
        self.members = sorted_members(members)
        self._points, self._owners = ring_points(self.members, vnodes, weights)

    def lookup(self, key_hash: int) -> int:
        index = bisect_right(self._points, key_hash)
        return self._owners[index if index < len(self._owners) else 0]

    def shares(self) -> dict[int, float]:
        """The fraction of the 64-bit hash space each member owns: the arcs that end at
        its points (a key belongs to the first point clockwise of it)."""
        owned = dict.fromkeys(self.members, 0)
        previous = self._points[-1] - 2**64
        for point, owner in zip(self._points, self._owners, strict=True):
            owned[owner] += point - previous
            previous = point
        return {store: arc / 2**64 for store, arc in owned.items()}
