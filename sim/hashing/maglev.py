"""Maglev hashing (Eisenbud et al., NSDI 2016): a lookup table filled by preference lists."""

from __future__ import annotations

from collections.abc import Iterable

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
    """

    def __init__(self, members: Iterable[int], table_size: int = DEFAULT_TABLE_SIZE):
        if not is_prime(table_size):
            raise ValueError(f"the table size must be prime, got {table_size}")
        self.members = sorted_members(members)
        self.table_size = table_size
        self.table = self._populate()

    def _populate(self) -> list[int]:
        size = self.table_size
        offsets, skips = [], []
        for store in self.members:
            name = f"store-{store}".encode()
            offsets.append(xxhash.xxh3_64_intdigest(name, seed=1) % size)
            skips.append(xxhash.xxh3_64_intdigest(name, seed=2) % (size - 1) + 1)
        table = [-1] * size
        claimed = [0] * len(self.members)
        filled = 0
        while True:
            for i, store in enumerate(self.members):
                slot = (offsets[i] + claimed[i] * skips[i]) % size
                while table[slot] >= 0:
                    claimed[i] += 1
                    slot = (offsets[i] + claimed[i] * skips[i]) % size
                table[slot] = store
                claimed[i] += 1
                filled += 1
                if filled == size:
                    return table

    def lookup(self, key_hash: int) -> int:
        return self.table[key_hash % self.table_size]
