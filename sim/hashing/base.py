"""What every hash strategy shares: the key hash, the interface, and member checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import xxhash

MASK64 = 2**64 - 1


def key_hash(key: str) -> int:
    """The 64-bit hash every strategy routes by: xxh3-64 of the key's UTF-8 bytes.

    Never Python's `hash`, which is salted per process.
    """
    return xxhash.xxh3_64_intdigest(key.encode())


def rehash(value: int, seed: int) -> int:
    """A fresh 64-bit hash of a 64-bit value, one per `seed`."""
    return xxhash.xxh3_64_intdigest(value.to_bytes(8, "little"), seed=seed)


class Strategy(Protocol):
    """Maps key hashes to member stores.

    `lookup` is a pure function of the key hash and the membership (and, for bounded
    loads, of the current loads): the same answer in every process, on every machine,
    and the same whether the membership was built at once or reached by `add` and
    `remove` (which change it in place, at the cost the algorithm allows; a strategy
    always keeps at least one member). Strategies whose answers can be computed for many
    keys at once also have `lookup_many(key_hashes: np.ndarray) -> np.ndarray`.
    """

    @property
    def members(self) -> tuple[int, ...]: ...

    def lookup(self, key_hash: int) -> int: ...

    def add(self, store: int) -> None: ...

    def remove(self, store: int) -> None: ...


def sorted_members(members: Iterable[int]) -> tuple[int, ...]:
    """The members in store order; a strategy needs at least one."""
    result = tuple(sorted(set(members)))
    if not result:
        raise ValueError("a strategy needs at least one member store")
    return result
