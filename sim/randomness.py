"""Named random streams for one replication.

Replication `r` of a scenario with seed `s` draws from `SeedSequence(s, spawn_key=(r,))`,
numpy's own way of deriving independent children of one seed: every (seed, replication)
pair gets its own entropy (a list such as `[s, r]` would not: numpy splits a seed into
32-bit words, so `[2**32, 0]` and `[0, 1]` would collide). Each named stream (and each
store's stream within it) is a child with a fixed spawn key, `(r, stream[, store])`, so
streams do not depend on the order in which they are asked for, and changing one part of
the world (say the MTBF) never reshuffles another (say the arrivals).
"""

from __future__ import annotations

import numpy as np

#: Fixed spawn keys: never renumber, only append, or old seeds give new numbers.
STREAMS = {
    "online_arrivals": 0,
    "online_prep": 1,
    "offline_arrivals": 2,
    "offline_prep": 3,
    "failures": 4,
    "order_keys": 5,
    "poison": 6,
    "attempt_failures": 7,
}


class Streams:
    """The random generators of one replication, by name (and optionally by store)."""

    def __init__(self, seed: int, replication: int):
        self.seed = seed
        self.replication = replication

    def get(self, name: str, store: int | None = None) -> np.random.Generator:
        """A fresh generator for stream `name` (of `store`, for per-store streams)."""
        key = (self.replication, STREAMS[name]) + (() if store is None else (store,))
        child = np.random.SeedSequence(self.seed, spawn_key=key)
        return np.random.Generator(np.random.PCG64(child))
