"""Hash mod n: the naive strategy, here to show what consistent hashing is for."""

from __future__ import annotations

from collections.abc import Iterable

from sim.hashing.base import sorted_members


class Modulo:
    """`hash mod n` over the members in store order.

    When n changes, a key keeps its store only if `h mod n == h mod n'` lands on the same
    member: about 1/n' of keys stay, so most move.
    """

    def __init__(self, members: Iterable[int]):
        self.members = sorted_members(members)

    def lookup(self, key_hash: int) -> int:
        return self.members[key_hash % len(self.members)]
