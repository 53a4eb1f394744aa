"""Hash strategies: which store, among the current members, an order's key maps to.

Plain classes, no SimPy: each is built for one set of member stores and answers
`lookup(key_hash)`. Every hash is xxh3-64 of fixed bytes, so answers are the same in every
process and on every machine (Python's built-in `hash` is salted per process: never used).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Protocol

import xxhash


def key_hash(key: str) -> int:
    """The 64-bit hash every strategy routes by."""
    return xxhash.xxh3_64_intdigest(key.encode())


class Strategy(Protocol):
    """A mapping from key hashes to member stores, fixed for one membership."""

    members: tuple[int, ...]

    def lookup(self, key_hash: int) -> int: ...


class Modulo:
    """`hash mod n` over the members in store order: when n changes, most keys move."""

    def __init__(self, members: Iterable[int]):
        self.members = tuple(sorted(members))
        if not self.members:
            raise ValueError("a strategy needs at least one member store")

    def lookup(self, key_hash: int) -> int:
        return self.members[key_hash % len(self.members)]


class Ring:
    """Consistent hashing (Karger et al.): each store owns `vnodes` points on a 64-bit ring.

    A key belongs to the first point clockwise from its hash. Removing a store moves only
    the keys of its points, each to the next point clockwise; more points per store spread
    the load more evenly.
    """

    def __init__(self, members: Iterable[int], vnodes: int = 160):
        self.members = tuple(sorted(members))
        if not self.members:
            raise ValueError("a strategy needs at least one member store")
        points = sorted(
            (xxhash.xxh3_64_intdigest(f"store-{store}-vnode-{v}".encode()), store)
            for store in self.members
            for v in range(vnodes)
        )
        self._points = [point for point, _ in points]
        self._owners = [store for _, store in points]

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


class Rendezvous:
    """Highest random weight (Thaler & Ravishankar): the member whose hash with the key wins.

    Removing a store moves only its keys, each to the member with the next-highest weight.
    """

    def __init__(self, members: Iterable[int]):
        self.members = tuple(sorted(members))
        if not self.members:
            raise ValueError("a strategy needs at least one member store")

    def lookup(self, key_hash: int) -> int:
        data = key_hash.to_bytes(8, "little")
        weight = xxhash.xxh3_64_intdigest
        return max(self.members, key=lambda store: (weight(data, seed=store), store))


def build_strategy(name: str, members: Iterable[int], vnodes: int = 160) -> Strategy:
    """The strategy called `name` (`modulo`, `ring`, `rendezvous`) over `members`."""
    if name == "modulo":
        return Modulo(members)
    if name == "ring":
        return Ring(members, vnodes)
    if name == "rendezvous":
        return Rendezvous(members)
    raise ValueError(f"unknown strategy {name!r}")
