"""An order failing every attempt, with a preparation time near 0, is bounded work.

A poison order of 1 µs on one store of one worker, retried in place (`ram_only`, a walk-in,
a Kafka partition): without a bound a 100 s run would simulate 10^8 attempts. After
`MAX_ATTEMPTS` the store is stuck on it until the end, as endless retries would keep it;
the order never completes either way.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.broker_sections import KafkaSpec
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.model.attempts import MAX_ATTEMPTS
from sim.scenario import DesignSpec, StoresSpec
from sim.world import ONLINE, World


def world(pinned: int) -> World:
    return World(
        arrival=np.array([0.0, 1.0]),
        prep=np.array([1e-6, 5.0]),
        pinned=np.array([pinned, pinned], dtype=np.int32),
        key_id=np.array([1, 2], dtype=np.int64),
        key_hash=np.array([1, 2], dtype=np.uint64),
        outages=((),),
        horizon=100.0,
        poison=np.array([True, False]),
    )


@pytest.mark.parametrize(
    ("queue", "pinned", "spec"),
    [("ram", ONLINE, {}), ("db", 0, {}), ("kafka", ONLINE, {"kafka": KafkaSpec(partitions=1)})],
)
def test_a_poison_order_retried_in_place_is_attempted_at_most_max_attempts_plus_one(
    queue, pinned, spec
):
    w = world(pinned)
    design = DesignSpec(name=queue, queue=queue, **spec)
    record = simulate(w, StoresSpec(count=1, workers=1), design)
    orders = record.orders_frame(w)
    metrics = replication_metrics(orders, record.timeline_frame(), 0.0, None, w.horizon)
    assert orders["attempts"].tolist()[0] == MAX_ATTEMPTS + 1
    assert orders["status"].astype(str).tolist()[0] == "unfinished"
    assert metrics["completed"] + metrics["unfinished"] == 2
