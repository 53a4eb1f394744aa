"""Hash strategies: which store, among the current members, an order's key maps to.

Plain classes, no SimPy, one a module, all behind `Strategy.lookup(key_hash)`. Every hash
is xxh3-64 of fixed bytes, so answers are the same in every process and on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sim.hashing.base import Strategy, key_hash
from sim.hashing.bounded import BoundedLoads
from sim.hashing.jump import Jump
from sim.hashing.maglev import DEFAULT_TABLE_SIZE, Maglev
from sim.hashing.modulo import Modulo
from sim.hashing.rendezvous import Rendezvous
from sim.hashing.ring import Ring

STRATEGIES = ("modulo", "ring", "rendezvous", "jump", "maglev", "bounded")


def build_strategy(
    name: str,
    members: Iterable[int],
    vnodes: int = 160,
    *,
    stores: int | None = None,
    weights: Mapping[int, float] | None = None,
    table_size: int = DEFAULT_TABLE_SIZE,
    epsilon: float = 0.25,
    load: Callable[[int], int] | None = None,
) -> Strategy:
    """The strategy called `name` over `members`.

    `stores` (the number of configured stores) is needed by jump, `load` by bounded.
    """
    members = tuple(members)
    if name == "modulo":
        return Modulo(members)
    if name == "ring":
        return Ring(members, vnodes, weights)
    if name == "rendezvous":
        return Rendezvous(members)
    if name == "jump":
        return Jump(members, stores if stores is not None else max(members, default=-1) + 1)
    if name == "maglev":
        return Maglev(members, table_size)
    if name == "bounded":
        if load is None:
            raise ValueError("bounded needs a load function")
        return BoundedLoads(members, load, vnodes, epsilon, weights)
    raise ValueError(f"unknown strategy {name!r}")


__all__ = [
    "STRATEGIES",
    "BoundedLoads",
    "Jump",
    "Maglev",
    "Modulo",
    "Rendezvous",
    "Ring",
    "Strategy",
    "build_strategy",
    "key_hash",
]
