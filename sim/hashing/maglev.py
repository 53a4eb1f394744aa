"""Maglev hashing (Eisenbud et al., NSDI 2016): a lookup table filled by preference lists."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import xxhash

from sim.hashing.base import sorted_members

DEFAULT_TABLE_SIZE = 65537


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


class Maglev:
    """Each member walks its own permutation of the table's slots (offset and skip from
    its name's hashes), and the members take turns claiming their next free slot until
    the table is full. A key's store is `table[hash mod size]`.

    Every member gets within one slot of size / n slots: near-perfect balance. When the
    membership changes the table is refilled, and a few slots of members that stayed
    change hands too: Maglev trades a little extra movement for balance.

    The refill is the algorithm (each slot's owner depends on every member's turn), so
    `add` and `remove` only mark the table stale; the next look-up refills it, once for
    any number of changes in between. Filling costs about size x ln(size) probes (a few
    tenths of a second at 65537 slots in Python); tables are kept per membership (the
    last 64 in this process), since a small chain's memberships recur as stores go down
    and come back, and looking one up costs n steps against the fill's size x ln(size).
    """

    def __init__(self, members: Iterable[int], table_size: int = DEFAULT_TABLE_SIZE):
        if not is_prime(table_size):
            raise ValueError(f"the table size must be prime, got {table_size}")
        self.members = sorted_members(members)
        self.table_size = table_size
        self._table: list[int] | None = None

    @property
    def table(self) -> list[int]:
        """Slot -> store, for the current members (filled when first needed)."""
        if self._table is None:
            self._table = maglev_table(self.members, self.table_size)
        return self._table

    def add(self, store: int) -> None:
        if store not in self.members:
            self.members = sorted_members((*self.members, store))
            self._table = None

    def remove(self, store: int) -> None:
        if store in self.members:
            self.members = sorted_members(s for s in self.members if s != store)
            self._table = None

    def lookup(self, key_hash: int) -> int:
        table = self._table if self._table is not None else self.table
        return table[key_hash % self.table_size]

    def lookup_many(self, key_hashes: np.ndarray) -> np.ndarray:
        """`lookup` of every hash (uint64), in numpy: the same answers."""
        table = np.asarray(self.table, dtype=np.int64)
        return table[key_hashes % np.uint64(self.table_size)]


@lru_cache(maxsize=64)
def maglev_table(members: tuple[int, ...], size: int) -> list[int]:
    """The filled table of `members` (sorted): slot -> store. Never mutate the result."""
    offsets, skips = [], []
    for store in members:
        name = f"store-{store}".encode()
        offsets.append(xxhash.xxh3_64_intdigest(name, seed=1) % size)
        skips.append(xxhash.xxh3_64_intdigest(name, seed=2) % (size - 1) + 1)
    table = [-1] * size
    claimed = [0] * len(members)
    filled = 0
    while True:
        for i, store in enumerate(members):
            slot = (offsets[i] + claimed[i] * skips[i]) % size
            while table[slot] >= 0:
                claimed[i] += 1
                slot = (offsets[i] + claimed[i] * skips[i]) % size
            table[slot] = store
            claimed[i] += 1
            filled += 1
            if filled == size:
                return table
