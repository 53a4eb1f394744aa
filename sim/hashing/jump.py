"""Jump consistent hash (Lamping & Veach, 2014), with failed buckets skipped by re-hashing."""

from __future__ import annotations

from collections.abc import Iterable

from sim.hashing.base import MASK64, rehash, sorted_members

MAX_ATTEMPTS = 64


def jump_bucket(key: int, buckets: int) -> int:
    """Lamping & Veach's jump hash: a bucket in 0..buckets-1, moving 1/n of keys when
    a bucket is added at the end."""
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * 2862933555777941757 + 1) & MASK64
        candidate = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


class Jump:
    """Jump hash over all `stores` configured stores, numbered 0..stores-1.

    Jump hash can only add or remove buckets at the end of the range, so a store in the
    middle going down cannot simply be dropped: renumbering the stores above it would move
    their keys. Instead the bucket count stays `stores`, and a key whose bucket is a store
    that is not a member is re-hashed (its hash with seed 1, 2, ...) and jumped again until
    it lands on a member. Keys of members never move; the keys of a store that leaves
    spread evenly over the others, and come back to it when it returns. After 64 misses
    (only when almost no store is up) the key falls back to hash mod n over the members.
    `add` and `remove` change only the set of members: there is nothing to rebuild.
    """

    def __init__(self, members: Iterable[int], stores: int):
        initial = sorted_members(members)
        self.stores = stores
        if initial[-1] >= stores:
            raise ValueError(f"member {initial[-1]} is not among {stores} stores")
        self._up = set(initial)
        self._sorted: tuple[int, ...] | None = initial

    @property
    def members(self) -> tuple[int, ...]:
        if self._sorted is None:
            self._sorted = tuple(sorted(self._up))
        return self._sorted

    def add(self, store: int) -> None:
        if not 0 <= store < self.stores:
            raise ValueError(f"store {store} is not among {self.stores} stores")
        if store not in self._up:
            self._up.add(store)
            self._sorted = None

    def remove(self, store: int) -> None:
        if store in self._up:
            if len(self._up) == 1:
                raise ValueError("a strategy needs at least one member store")
            self._up.discard(store)
            self._sorted = None

    def lookup(self, key_hash: int) -> int:
        key = key_hash
        for attempt in range(1, MAX_ATTEMPTS + 1):
            bucket = jump_bucket(key, self.stores)
            if bucket in self._up:
                return bucket
            key = rehash(key_hash, attempt)
        return self.members[key_hash % len(self.members)]
