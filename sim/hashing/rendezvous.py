"""Rendezvous hashing, or highest random weight (Thaler & Ravishankar, 1998)."""

from __future__ import annotations

from collections.abc import Iterable

import xxhash

from sim.hashing.base import sorted_members


class Rendezvous:
    """Each member scores the key with its own seeded hash; the highest score wins.

    Removing a store moves only its keys, each to the member with the next-highest score,
    so they spread evenly over the others. A look-up costs one hash per member.
    """

    def __init__(self, members: Iterable[int]):
        self.members = sorted_members(members)

    def lookup(self, key_hash: int) -> int:
        data = key_hash.to_bytes(8, "little")
        score = xxhash.xxh3_64_intdigest
        return max(self.members, key=lambda store: (score(data, seed=store), store))
