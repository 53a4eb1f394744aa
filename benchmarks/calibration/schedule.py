"""A scenario's replication as a schedule the real broker can be driven by.

`sim` draws the world of replication r (arrivals, preparation times, poison orders,
outages) before any design runs; the real run replays that same world: the producer
publishes order i at `arrival[i]` with its preparation time and poison mark in the
message, and the controller crashes store s at the start of each of its outages and
restarts it at the end. So each real repetition is paired with the model's replication
of the same number, and their difference is the broker's doing, not the dice's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import Scenario
from sim.world import ONLINE, draw_world


@dataclass(frozen=True)
class Order:
    """One message: order `order` (its index in the world), published at `arrival`."""

    order: int
    arrival: float
    prep: float
    poison: bool

    def body(self) -> str:
        """The message body the consumers read (JSON)."""
        poison = "true" if self.poison else "false"
        return f'{{"order": {self.order}, "prep": {self.prep:.6f}, "poison": {poison}}}'


@dataclass(frozen=True)
class Crash:
    """Store `store` crashes at `at` and is restarted at `until`."""

    store: int
    at: float
    until: float


@dataclass(frozen=True)
class Schedule:
    """What the producer and the controller do in one repetition, in time order."""

    orders: tuple[Order, ...]
    crashes: tuple[Crash, ...]
    horizon: float

    def actions(self) -> list[tuple[float, str, object]]:
        """(time, what, order or crash) for publish, crash and restart, by time; at the
        same instant crashes and restarts come before publishes, as in `sim`."""
        rank = {"crash": 0, "restart": 0, "publish": 1}
        actions = [(o.arrival, "publish", o) for o in self.orders]
        actions += [(c.at, "crash", c) for c in self.crashes]
        actions += [(c.until, "restart", c) for c in self.crashes if c.until < self.horizon]
        return sorted(actions, key=lambda action: (action[0], rank[action[1]]))


def schedule_of(scenario: Scenario, replication: int) -> Schedule:
    """The schedule of `replication`: the world `sim` draws for it, online orders only
    (a walk-in never passes through a broker, so the calibration scenarios have none)."""
    world = draw_world(scenario, replication)
    if (world.pinned != ONLINE).any():
        raise ValueError("calibration scenarios have online orders only (orders.offline)")
    poison = world.poison if world.poison is not None else [False] * world.size
    orders = tuple(
        Order(i, float(world.arrival[i]), float(world.prep[i]), bool(poison[i]))
        for i in range(world.size)
    )
    crashes = tuple(
        Crash(store, start, end)
        for store, outages in enumerate(world.outages)
        for start, end in outages
        if start < world.horizon
    )
    return Schedule(orders, tuple(sorted(crashes, key=lambda c: (c.at, c.store))), world.horizon)
