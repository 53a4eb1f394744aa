"""Rendezvous hashing, or highest random weight (Thaler & Ravishankar, 1998)."""

from __future__ import annotations

from collections.abc import Iterable

import xxhash

from sim.hashing.base import sorted_members


class Rendezvous:
    """Each member scores the key with its own seeded hash; the highest score wins.

    Removing a store moves only its keys, each to the member with the next-highest score,
    so they spread evenly over the others. A look-up costs one hash per member (by design:
    the scores are per key and member), membership changes nothing but the member list.
    """

    def __init__(self, members: Iterable[int]):
        self._members = set(sorted_members(members))
        self.members = tuple(sorted(self._members))

    def add(self, store: int) -> None:
        if store not in self._members:
            self._members.add(store)
            self.members = tuple(sorted(self._members))

    def remove(self, store: int) -> None:
        if store in self._members:
            if len(self._members) == 1:
                raise ValueError("a strategy needs at least one member store")
            self._members.discard(store)
            self.members = tuple(sorted(self._members))

    def lookup(self, key_hash: int) -> int:
        data = key_hash.to_bytes(8, "little")
        score = xxhash.xxh3_64_intdigest
        return max(self.members, key=lambda store: (score(data, seed=store), store))
