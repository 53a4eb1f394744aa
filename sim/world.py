"""The world of one replication, drawn once and shared by every design (common random numbers).

Everything random is drawn here, in numpy batches, before any design runs: arrival times,
which store a walk-in stands in, preparation times, and each store's outages. A design
then differs from another only by what it does with the same orders and the same crashes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

from sim.randomness import Streams
from sim.scenario import FailuresSpec, Scenario

ONLINE = -1  # the `pinned` value of an order any store may prepare


@dataclass(frozen=True)
class World:
    """Orders (sorted by arrival) and outages of one replication.

    Order `i` arrives at `arrival[i]`, needs `prep[i]`, is pinned to store `pinned[i]`
    (or `ONLINE`). An online order has a random 63-bit id `key_id[i]` (0 for walk-ins),
    drawn from its own stream, like the order numbers of a real shop, and is routed by
    `key_hash[i]`, the xxh3 hash of its key `order_key(key_id[i])`. The k-th online order
    gets the k-th id, so adding walk-ins does not change how online orders hash.
    `outages[s]` lists store `s`'s down intervals `(start, end)`.
    """

    arrival: np.ndarray
    prep: np.ndarray
    pinned: np.ndarray
    key_id: np.ndarray
    key_hash: np.ndarray
    outages: tuple[tuple[tuple[float, float], ...], ...]
    horizon: float
    #: Which orders are poison (every preparation fails); None: none are.
    poison: np.ndarray | None = None
    #: Per order, the seed of its attempts' outcomes (see `sim.model.attempts`); None
    #: when attempts never fail at random.
    attempt_seed: np.ndarray | None = None
    attempt_failure: float = 0.0

    @property
    def size(self) -> int:
        return len(self.arrival)


def order_key(key_id: int) -> str:
    """The key an online order is hashed by: its id as 16 hex digits."""
    return f"order-{key_id:016x}"


def draw_world(scenario: Scenario, replication: int) -> World:
    """Draw the orders and outages of replication `replication`."""
    streams = Streams(scenario.seed, replication)
    orders = scenario.orders
    times = [_poisson_times(streams.get("online_arrivals"), orders.online.rate, scenario.duration)]
    preps = [orders.prep_time.sample(streams.get("online_prep"), len(times[0]))]
    stores = [np.full(len(times[0]), ONLINE, dtype=np.int32)]
    for store in range(scenario.stores.count):
        t = _poisson_times(
            streams.get("offline_arrivals", store), orders.offline.rate, scenario.duration
        )
        times.append(t)
        preps.append(orders.prep_time.sample(streams.get("offline_prep", store), len(t)))
        stores.append(np.full(len(t), store, dtype=np.int32))
    arrival = np.concatenate(times)
    # Stable sort: at equal times online orders come first, then walk-ins by store.
    order = np.argsort(arrival, kind="stable")
    n_online = len(times[0])
    ids = streams.get("order_keys").integers(1, 2**63, n_online, dtype=np.int64)
    key_id = np.zeros(len(arrival), dtype=np.int64)
    key_id[:n_online] = ids
    key_hash = np.zeros(len(arrival), dtype=np.uint64)
    key_hash[:n_online] = [xxhash.xxh3_64_intdigest(order_key(i).encode()) for i in ids.tolist()]
    horizon = scenario.horizon
    outages = tuple(
        _outages(scenario.failures, store, streams.get("failures", store), horizon)
        for store in range(scenario.stores.count)
    )
    poison, seeds = _failures_of_attempts(streams, orders.poison, orders.attempt_failure, order)
    return World(
        arrival=arrival[order],
        prep=np.concatenate(preps)[order],
        pinned=np.concatenate(stores)[order],
        key_id=key_id[order],
        key_hash=key_hash[order],
        outages=outages,
        horizon=horizon,
        poison=poison,
        attempt_seed=seeds,
        attempt_failure=orders.attempt_failure,
    )


def _failures_of_attempts(
    streams: Streams, poison: float, attempt_failure: float, order: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Poison orders and the seeds of attempt outcomes, from their own streams, drawn in
    order of arrival (so the draw does not depend on how orders are routed); nothing is
    drawn at the defaults, so the other streams and today's results are untouched."""
    size = len(order)
    marked = None
    if poison > 0:
        marked = streams.get("poison").random(size) < poison
    seeds = None
    if attempt_failure > 0:
        seeds = streams.get("attempt_failures").integers(0, 2**63, size, dtype=np.int64)
    return marked, seeds


def _poisson_times(rng: np.random.Generator, rate: float, duration: float) -> np.ndarray:
    """A Poisson process on [0, duration): a Poisson count, then sorted uniform times."""
    if rate == 0:
        return np.empty(0)
    count = rng.poisson(rate * duration)
    return np.sort(rng.uniform(0.0, duration, count))


def _outages(
    failures: FailuresSpec, store: int, rng: np.random.Generator, horizon: float
) -> tuple[tuple[float, float], ...]:
    """Down intervals of one store: random ones and scripted ones, overlaps merged."""
    intervals = [(c.at, c.at + c.down_for) for c in failures.scripted if c.store == store]
    if failures.mtbf is not None and failures.mttr is not None:
        intervals += _random_outages(rng, failures.mtbf, failures.mttr, horizon)
    intervals.sort()
    merged: list[tuple[float, float]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _random_outages(
    rng: np.random.Generator, mtbf: float, mttr: float, horizon: float
) -> list[tuple[float, float]]:
    """Alternating exponential up times (mean mtbf) and repair times (mean mttr)."""
    intervals: list[tuple[float, float]] = []
    now = 0.0
    batch = int(horizon / (mtbf + mttr) * 1.5) + 8
    while True:
        # Standard exponentials drawn in (up, down) pairs and then scaled, so the batch
        # size and the means do not change which numbers a crash gets.
        pairs = rng.standard_exponential((batch, 2))
        for up, down in (pairs * (mtbf, mttr)).tolist():
            start = now + up
            if start >= horizon:
                return intervals
            now = start + down
            intervals.append((start, now))
