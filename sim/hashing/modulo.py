"""Hash mod n: the naive strategy, here to show what consistent hashing is for."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable

import numpy as np

from sim.hashing.base import sorted_members


class Modulo:
    """`hash mod n` over the members in store order.

    When n changes, a key keeps its store only if `h mod n == h mod n'` lands on the same
    member: about 1/n' of keys stay, so most move. `add` and `remove` cost one insertion
    into the sorted members (n steps, nothing hashed).
    """

    def __init__(self, members: Iterable[int]):
        self.members = sorted_members(members)

    def add(self, store: int) -> None:
        if store not in self.members:
            members = list(self.members)
            insort(members, store)
            self.members = tuple(members)

    def remove(self, store: int) -> None:
        if store in self.members:
            self.members = sorted_members(s for s in self.members if s != store)

    def lookup(self, key_hash: int) -> int:
        return self.members[key_hash % len(self.members)]

    def lookup_many(self, key_hashes: np.ndarray) -> np.ndarray:
        """`lookup` of every hash (uint64), in numpy: the same answers."""
        members = np.asarray(self.members, dtype=np.int64)
        return members[key_hashes % np.uint64(len(members))]
