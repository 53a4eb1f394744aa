"""Consistent hashing on a ring (Karger et al., 1997), with virtual nodes and weights."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np
import xxhash

from sim.hashing.base import sorted_members


def store_points(store: int, vnodes: int, weight: float = 1.0) -> list[int]:
    """Store `store`'s points: round(vnodes * weight) of them (at least one), at the xxh3
    hashes of `store-<s>-vnode-<v>`."""
    digest = xxhash.xxh3_64_intdigest
    prefix = b"store-%d-vnode-" % store  # bytes joined, not strings formatted: 2x faster
    return [digest(prefix + suffix) for suffix in _suffixes(max(1, round(vnodes * weight)))]


@lru_cache(maxsize=4)
def _suffixes(count: int) -> tuple[bytes, ...]:
    return tuple(b"%d" % v for v in range(count))


def ring_points(
    members: Iterable[int], vnodes: int, weights: Mapping[int, float] | None = None
) -> tuple[list[int], list[int]]:
    """Sorted ring points and their owners (ties between equal points: lower store first)."""
    weights = weights or {}
    points = sorted(
        (point, store)
        for store in members
        for point in store_points(store, vnodes, weights.get(store, 1.0))
    )
    return [point for point, _ in points], [store for _, store in points]


class RingPoints:
    """The points of a set of stores, sorted, immutable and shared between rings.

    `points` and `owners` are `array.array`s (8 and 4 bytes a point; `bisect` on them is
    faster than on a list of Python ints and they give numpy views without copying);
    `owners[i]` is a slot, `stores[slot]` its store.
    """

    def __init__(
        self, stores: tuple[int, ...], vnodes: int, weights: tuple[tuple[int, float], ...]
    ):
        self.stores = stores
        self.vnodes = vnodes
        self.weights = weights
        weight = dict(weights)
        counts = [max(1, round(vnodes * weight.get(s, 1.0))) for s in stores]
        points: list[int] = []
        for store in stores:
            points += store_points(store, vnodes, weight.get(store, 1.0))
        hashes = np.array(points, dtype=np.uint64)
        slots = np.repeat(np.arange(len(stores), dtype=np.int32), counts)
        ids = np.asarray(stores, dtype=np.int64)[slots]
        order = np.lexsort((ids, hashes))  # by point, then by store: as sorted() would
        self.points = array("Q", hashes[order].tobytes())
        self.owners = array("i", slots[order].tobytes())
        self.slot_of = {store: slot for slot, store in enumerate(stores)}
        self.store_ids = np.asarray(stores, dtype=np.int64)

    def with_store(self, store: int) -> RingPoints:
        """These points and those of one more store."""
        return RingPoints((*self.stores, store), self.vnodes, self.weights)


@lru_cache(maxsize=8)
def shared_points(
    stores: tuple[int, ...], vnodes: int, weights: tuple[tuple[int, float], ...]
) -> RingPoints:
    """The points of `stores`, built once per process: every design and replication of a
    run starts from the same full ring (3.2 million points at 20,000 stores x 160)."""
    return RingPoints(stores, vnodes, weights)


class Ring:
    """Each store owns `vnodes` points (times its weight) on a 64-bit ring.

    A key belongs to the first point clockwise from its hash. Removing a store moves only
    the keys of its points, each to the next point clockwise, that is to the stores that
    follow it; adding it back takes back exactly those keys. More points per store spread
    the load more evenly (the spread of load falls about as 1 / sqrt(vnodes)).

    Membership is incremental: `remove` and `add` flip one store's flag (a store never
    seen before has its points merged in), and a look-up walks clockwise past the points
    of stores that are out. The answer is the one a ring built from scratch over the
    members gives, at a cost of about (all points) / (members' points) steps.
    """

    def __init__(
        self,
        members: Iterable[int],
        vnodes: int = 160,
        weights: Mapping[int, float] | None = None,
    ):
        initial = sorted_members(members)
        items = tuple(sorted((weights or {}).items()))
        self._base = shared_points(initial, vnodes, items)
        self._alive = bytearray(b"\x01" * len(initial))
        self._members = set(initial)
        self._sorted: tuple[int, ...] | None = initial

    @property
    def members(self) -> tuple[int, ...]:
        if self._sorted is None:
            self._sorted = tuple(sorted(self._members))
        return self._sorted

    def add(self, store: int) -> None:
        """Put `store` back on the ring: it takes back the keys of its points."""
        if store in self._members:
            return
        slot = self._base.slot_of.get(store)
        if slot is None:
            self._base = self._base.with_store(store)
            slot = len(self._alive)
            self._alive.append(0)
        self._alive[slot] = 1
        self._members.add(store)
        self._sorted = None

    def remove(self, store: int) -> None:
        """Take `store` off the ring: its keys go to the next members clockwise."""
        if store not in self._members:
            return
        if len(self._members) == 1:
            raise ValueError("a strategy needs at least one member store")
        self._alive[self._base.slot_of[store]] = 0
        self._members.discard(store)
        self._sorted = None

    def lookup(self, key_hash: int) -> int:
        base, alive = self._base, self._alive
        owners = base.owners
        index = bisect_right(base.points, key_hash)
        while True:
            if index == len(owners):
                index = 0
            slot = owners[index]
            if alive[slot]:
                return base.stores[slot]
            index += 1

    def lookup_many(self, key_hashes: np.ndarray) -> np.ndarray:
        """`lookup` of every hash (uint64), in numpy: the same answers."""
        base = self._base
        points = np.frombuffer(base.points, dtype=np.uint64)
        owners = np.frombuffer(base.owners, dtype=np.int32)
        alive = np.frombuffer(bytes(self._alive), dtype=np.uint8).astype(bool)
        # Sorted keys let searchsorted narrow each search from the last (2-3x faster on
        # a ring of millions of points, whose random probes miss the cache).
        by_hash = np.argsort(key_hashes, kind="stable")
        index = np.empty(len(key_hashes), dtype=np.int64)
        index[by_hash] = np.searchsorted(points, key_hashes[by_hash], side="right")
        index %= len(points)
        slot = owners[index]
        missed = np.flatnonzero(~alive[slot])
        while len(missed):  # a point of a store that is out: go on clockwise
            index[missed] = (index[missed] + 1) % len(points)
            slot[missed] = owners[index[missed]]
            missed = missed[~alive[slot[missed]]]
        return base.store_ids[slot]

    def shares(self) -> dict[int, float]:
        """The fraction of the 64-bit hash space each member owns: the arcs that end at
        its points (a key belongs to the first point clockwise of it)."""
        base, alive = self._base, self._alive
        live = [
            (point, base.stores[slot])
            for point, slot in zip(base.points, base.owners, strict=True)
            if alive[slot]
        ]
        owned = dict.fromkeys(self.members, 0)
        previous = live[-1][0] - 2**64
        for point, owner in live:
            owned[owner] += point - previous
            previous = point
        return {store: arc / 2**64 for store, arc in owned.items()}
