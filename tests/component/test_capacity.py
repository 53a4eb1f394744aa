"""Scripted runs, counted by hand, of what capacity planning adds: stores with different
numbers of workers, and customers who cancel when their order has not started in time."""

from __future__ import annotations

import numpy as np

from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DesignSpec, StoresSpec
from sim.world import ONLINE, World


def make_world(orders, outages, horizon, patience=None):
    """`orders`: (arrival, prep, pinned store or None, key hash); `outages` per store;
    `patience`: per order, how long its customer waits for the preparation to start."""
    arrival = np.array([o[0] for o in orders], dtype=float)
    return World(
        arrival=arrival,
        prep=np.array([o[1] for o in orders], dtype=float),
        pinned=np.array([ONLINE if o[2] is None else o[2] for o in orders], dtype=np.int32),
        key_id=np.arange(len(orders), dtype=np.int64),
        key_hash=np.array([o[3] for o in orders], dtype=np.uint64),
        outages=tuple(tuple(store) for store in outages),
        horizon=horizon,
    )


def design(queue="db", strategy="ring") -> DesignSpec:
    return DesignSpec(name=f"{queue}_{strategy}", queue=queue, balancer={"strategy": strategy})


def run(world, spec, count, workers=1):
    record = simulate(world, StoresSpec(count=count, workers=workers), spec, trace=True)
    metrics = replication_metrics(
        record.orders_frame(world), record.timeline_frame(), 0.0, None, world.horizon
    )
    return record, metrics


def test_each_store_prepares_with_its_own_workers():
    """Stores 0 and 1 (workers 1 and 3) each get three walk-ins at t = 0, prep 2: store 0
    finishes them at 2, 4, 6, store 1 all at 2."""
    orders = [(0.0, 2.0, store, 0) for store in (0, 0, 0, 1, 1, 1)]
    world = make_world(orders, [[], []], horizon=50.0)
    for queue in ("ram", "db"):
        record, metrics = run(world, design(queue), count=2, workers=(1, 3))
        finish = record.orders_frame(world)["first_completion"].tolist()
        assert finish == [2.0, 4.0, 6.0, 2.0, 2.0, 2.0]
        assert metrics["completed"] == 6
