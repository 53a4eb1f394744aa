"""Named random streams for one replication.

Replication `r` of a scenario with seed `s` draws from `SeedSequence([s, r])`. Each named
stream (and each store's stream within it) is a child of that sequence with a fixed spawn
key, so streams do not depend on the order in which they are asked for, and changing one
part of the world (say the MTBF) never reshuffles another (say the arrivals).
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
}


class Streams:
    """The random generators of one replication, by name (and optionally by store)."""

    def __init__(self, seed: int, replication: int):
        self.root = np.random.SeedSequence([seed, replication])

    def get(self, name: str, store: int | None = None) -> np.random.Generator:
        """A fresh generator for stream `name` (of `store`, for per-store streams)."""
        key = (STREAMS[name],) if store is None else (STREAMS[name], store)
        child = np.random.SeedSequence(self.root.entropy, spawn_key=key)
        return np.random.Generator(np.random.PCG64(child))
