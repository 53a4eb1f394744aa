"""The world of one replication, drawn once and shared by every design (common random numbers).

Everything random is drawn here, in numpy batches, before any design runs: arrival times,
which store a walk-in stands in, preparation times, and each store's outages. A design
then differs from another only by what it does with the same orders and the same crashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xxhash

from sim.demand import poisson_times, profile_of
from sim.randomness import Streams
from sim.scenario import FailuresSpec, Scenario
from sim.schedules import (
    Intervals,
    group_outages,
    lost_polls,
    merge_intervals,
    outages,
    poll_count,
    random_outages,
    slowdowns,
    spells,
)
from sim.trace import read_trace

ONLINE = -1  # the `pinned` value of an order any store may prepare


@dataclass(frozen=True)
class World:
    """Orders (sorted by arrival) and outages of one replication.

    Order `i` arrives at `arrival[i]`, needs `prep[i]`, is pinned to store `pinned[i]`
    (or `ONLINE`). An online order has a random 63-bit id `key_id[i]` (0 for walk-ins),
    drawn from its own stream, like the order numbers of a real shop, and is routed by
    `key_hash[i]`, the xxh3 hash of its key `order_key(key_id[i])`. The k-th online order
    gets the k-th id, so adding walk-ins does not change how online orders hash.
    `outages[s]` lists store `s`'s down intervals `(start, end)`, its groups' included.
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
    #: When each order's customer cancels unless its preparation is under way (or done);
    #: infinite for walk-ins, None when nobody cancels.
    patience_end: np.ndarray | None = None
    # Failure modes (`sim.schedules`); empty when they are off. Per store where indexed.
    partitions: tuple[Intervals, ...] = ()  # up, but cut off from the orchestrator
    slowdowns: tuple[tuple[tuple[float, float, float], ...], ...] = ()  # (start, end, factor)
    lost_polls: tuple[np.ndarray, ...] = ()  # numbers k of the polls whose answer is lost
    #: When whatever durably holds the orders is down (the database; a broker).
    database_outages: Intervals = ()
    orchestrator_outages: Intervals = ()  # no polls while down
    #: What a crash is (`failures.crash`): `host`, the server stops and its connections
    #: fall silent; `process`, the process dies and its host closes its connections at once.
    crash: str = "host"

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
    if orders.trace is not None:
        return _replayed(scenario, streams)
    duration = scenario.duration
    online = profile_of(orders.online, orders.online, duration)
    times = [poisson_times(streams.get("online_arrivals"), orders.online.rate, duration, online)]
    preps = [orders.prep_time.sample(streams.get("online_prep"), len(times[0]))]
    stores = [np.full(len(times[0]), ONLINE, dtype=np.int32)]
    offline = profile_of(orders.offline, orders.online, duration)
    for store in range(scenario.stores.count):
        rng = streams.get("offline_arrivals", store)
        t = poisson_times(rng, orders.offline.rate, duration, offline)
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
    return _world(
        scenario, streams, arrival, np.concatenate(preps), np.concatenate(stores), key_id, order
    )


def _world(scenario, streams, arrival, prep, pinned, key_id, order) -> World:
    """The world of orders given in any order (`order` sorts them by arrival), with the
    stores' outages and the online orders' key hashes."""
    key_hash = np.zeros(len(arrival), dtype=np.uint64)
    online = np.flatnonzero(key_id)
    key_hash[online] = [
        xxhash.xxh3_64_intdigest(order_key(i).encode()) for i in key_id[online].tolist()
    ]
    horizon = scenario.horizon
    count = scenario.stores.count
    groups = group_outages(scenario.failures.groups, streams, horizon, count)
    outages = tuple(
        _outages(scenario.failures, store, streams.get("failures", store), horizon, groups[store])
        for store in range(count)
    )
    orders = scenario.orders
    poison, seeds = _failures_of_attempts(streams, orders.poison, orders.attempt_failure, order)
    arrival, pinned = arrival[order], pinned[order]
    return World(
        arrival=arrival,
        prep=prep[order],
        pinned=pinned,
        key_id=key_id[order],
        key_hash=key_hash[order],
        outages=outages,
        horizon=horizon,
        poison=poison,
        attempt_seed=seeds,
        attempt_failure=orders.attempt_failure,
        patience_end=_patience_end(scenario, streams, arrival, pinned),
        crash=scenario.failures.crash,
        **draw_failure_modes(scenario, streams),
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


def _patience_end(
    scenario: Scenario, streams: Streams, arrival: np.ndarray, pinned: np.ndarray
) -> np.ndarray | None:
    """Arrival plus a patience drawn for each online order, in arrival order."""
    patience = scenario.orders.patience
    if patience is None:
        return None
    online = pinned == ONLINE
    end = np.full(len(arrival), np.inf)
    end[online] = arrival[online] + patience.sample(streams.get("patience"), int(online.sum()))
    return end


def _replayed(scenario: Scenario, streams: Streams) -> World:
    """The world of a recorded log: its orders before `duration`, exactly; preparation
    times and keys it leaves blank are drawn (their own streams), as are the outages."""
    trace = read_trace(scenario.orders.trace)
    kept = trace.time < scenario.duration
    prep = trace.prep[kept]
    blank = np.isnan(prep)
    prep[blank] = scenario.orders.prep_time.sample(streams.get("trace_prep"), int(blank.sum()))
    key_id, pinned = trace.key[kept], trace.pinned[kept]
    drawn = (pinned == ONLINE) & (key_id == 0)
    key_id[drawn] = streams.get("order_keys").integers(1, 2**63, int(drawn.sum()), dtype=np.int64)
    order = np.argsort(trace.time[kept], kind="stable")
    return _world(scenario, streams, trace.time[kept], prep, pinned, key_id, order)


def _outages(
    failures: FailuresSpec,
    store: int,
    rng: np.random.Generator,
    horizon: float,
    groups: Sequence[tuple[float, float]] = (),
) -> tuple[tuple[float, float], ...]:
    """Down intervals of one store: random ones, scripted ones and those of its groups,
    overlaps merged."""
    intervals = [(c.at, c.at + c.down_for) for c in failures.scripted if c.store == store]
    if failures.mtbf is not None and failures.mttr is not None:
        intervals += random_outages(rng, failures.mtbf, failures.mttr, horizon)
    return merge_intervals([*intervals, *groups])


def draw_failure_modes(scenario: Scenario, streams: Streams) -> dict:
    """The schedules of lost polls, partitions, slowdowns and database and orchestrator
    outages; nothing is drawn (and no field set) for a mode left at its default."""
    horizon, count = scenario.horizon, scenario.stores.count
    network, slow, drawn = scenario.network, scenario.failures.slowdowns, {}
    if network.partitions.scripted or network.partitions.mtbf is not None:
        drawn["partitions"] = tuple(
            spells(network.partitions, s, streams.get("partitions", s), horizon)
            for s in range(count)
        )
    if slow.scripted or slow.mtbf is not None:
        drawn["slowdowns"] = tuple(
            slowdowns(slow, s, streams.get("slowdowns", s), horizon) for s in range(count)
        )
    if network.poll_loss > 0:
        polls = poll_count(
            horizon, (d.orchestrator.poll_interval for d in scenario.designs if d.queue != "ram")
        )
        drawn["lost_polls"] = tuple(
            lost_polls(streams.get("poll_loss", s), network.poll_loss, polls) for s in range(count)
        )
    for name, spec in (
        ("database_outages", scenario.database_outages),
        ("orchestrator_outages", scenario.orchestrator_outages),
    ):
        if spec.scripted or spec.mtbf is not None:
            drawn[name] = outages(spec, streams.get(name), horizon)
    return drawn
