"""The brokers' claims, on random worlds: SQS duplicates exactly ceil(d / v) − 1 per order;
RabbitMQ with manual acks loses no online order, prepares none twice, leaves nothing
unfinished after the drain, and redelivers a crashed store's messages between 1.5 and 3
heartbeat timeouts after the crash when its host went down, at the crash when its process
died."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.broker_sections import SqsSpec
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import DesignSpec, Scenario, StoresSpec
from sim.world import ONLINE, World, draw_world

EPS = 1e-9


@st.composite
def lease_worlds(draw: st.DrawFn) -> tuple[World, float, float]:
    """Online orders, deterministic preparation d > v, arrivals at least d apart (light
    load: one store, more workers than copies), no crashes. d / v stays away from whole
    numbers, where a lease and a preparation end at the same instant."""
    v = draw(st.floats(0.5, 60.0))
    d = v * (draw(st.integers(1, 12)) + draw(st.floats(0.02, 0.98)))
    gaps = draw(st.lists(st.floats(1.0, 3.0), min_size=1, max_size=8))
    arrival = np.cumsum([gap * d for gap in gaps])
    size = len(arrival)
    world = World(
        arrival=arrival,
        prep=np.full(size, d),
        pinned=np.full(size, ONLINE, dtype=np.int32),
        key_id=np.arange(1, size + 1, dtype=np.int64),
        key_hash=np.arange(1, size + 1, dtype=np.uint64),
        outages=((),),
        horizon=float(arrival[-1]) + 2 * d,
    )
    return world, d, v


def sqs_run(world: World, spec: SqsSpec, d: float, v: float):
    workers = math.ceil(d / v) + 1
    design = DesignSpec(name="sqs", queue="sqs", sqs=spec)
    record = simulate(world, StoresSpec(count=1, workers=workers), design)
    orders = record.orders_frame(world)
    return orders, replication_metrics(orders, record.timeline_frame(), 0.0, None, world.horizon)


@settings(max_examples=40, deadline=None)
@given(lease_worlds())
def test_sqs_gives_exactly_ceil_d_over_v_minus_one_duplicates(case):
    world, d, v = case
    orders, metrics = sqs_run(world, SqsSpec(visibility_timeout=v), d, v)
    receipts = math.ceil(d / v)
    assert orders["completions"].tolist() == [receipts] * world.size
    assert metrics["duplicates"] == (receipts - 1) * world.size
    assert metrics["lost"] == metrics["unfinished"] == 0


@settings(max_examples=25, deadline=None)
@given(lease_worlds(), st.floats(0.05, 0.99))
def test_sqs_extension_shorter_than_the_timeout_or_idempotence_gives_none(case, share):
    world, d, v = case
    for spec in (
        SqsSpec(visibility_timeout=v, extend_visibility=share * v),
        SqsSpec(visibility_timeout=v, idempotent=True),
    ):
        orders, metrics = sqs_run(world, spec, d, v)
        assert metrics["duplicates"] == 0, spec
        assert orders["completions"].tolist() == [1] * world.size


@st.composite
def rabbit_scenarios(draw: st.DrawFn) -> Scenario:
    """Time in seconds; light load; crashes (random and scripted) during the arrivals only,
    then a drain long enough to finish everything; heartbeat 60 s; no consumer timeout."""
    count = draw(st.integers(2, 4))
    workers = draw(st.integers(1, 3))
    mean = draw(st.floats(5.0, 60.0))
    duration = draw(st.floats(300.0, 900.0))
    rate = draw(st.floats(0.05, 0.4)) * count * workers / mean
    scripted = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "store": st.integers(0, count - 1),
                    "at": st.floats(0.0, duration / 2),
                    "down_for": st.floats(1.0, 120.0),
                }
            ),
            min_size=1,
            max_size=4,
        )
    )
    return Scenario.from_mapping(
        {
            "name": "rabbit",
            "seed": draw(st.integers(0, 2**31)),
            "time_unit": "s",
            "duration": duration,
            "drain": duration * 2,
            "stores": {"count": count, "workers": workers},
            "orders": {
                "online": {"rate": rate},
                "offline": {"rate": draw(st.floats(0.0, 0.01))},
                "prep_time": {"dist": "exponential", "mean": mean},
            },
            "failures": {"scripted": scripted, "crash": draw(st.sampled_from(["host", "process"]))},
            "designs": {
                "rabbitmq_default": {"queue": "rabbitmq", "rabbitmq": {"consumer_timeout": "1d"}},
                "rabbitmq_prefetch": {
                    "queue": "rabbitmq",
                    "rabbitmq": {"prefetch": draw(st.integers(1, 5)), "consumer_timeout": "1d"},
                },
            },
        }
    )


@settings(max_examples=20, deadline=None)
@given(rabbit_scenarios())
def test_rabbitmq_manual_ack_loses_nothing_online_and_prepares_nothing_twice(scenario):
    world = draw_world(scenario, 0)
    heartbeat = 60.0
    for design in scenario.designs:
        record = simulate(world, scenario.stores, design, trace=True)
        orders = record.orders_frame(world)
        metrics = replication_metrics(orders, record.timeline_frame(), 0.0, None, scenario.horizon)
        assert metrics["lost_online"] == 0, design.name
        assert metrics["duplicates"] == 0, design.name
        assert metrics["unfinished"] == 0, design.name
        check_redelivery_times(world, record, heartbeat, design.rabbitmq.prefetch is None)


def check_redelivery_times(world: World, record, heartbeat: float, unlimited: bool) -> None:
    """A crashed store's connection closes between 1.5 and 3 heartbeat timeouts after the
    crash when its host went down (the receiver checks every timeout and closes at the
    second check in a row that read nothing; heartbeats every half timeout, acks count
    too), at the crash itself when its process died (`world.crash`); its online orders in
    hand are sent again no sooner, and, with an unlimited
    prefetch, at the close itself when every other store was up all along and the store
    did not crash again meanwhile (a store that crashed still has an open connection the
    broker may push to)."""
    timeline = record.timeline_frame()
    crashes = timeline[timeline["event"] == "crash"]
    process = world.crash == "process"
    closes = timeline[timeline["event"] == ("closed_crash" if process else "closed_silent")]
    low, high = (0.0, 0.0) if process else (1.5 * heartbeat, 3 * heartbeat)
    assert len(closes) == len(crashes)
    closed_at = {}  # (store, crash time) -> when its connection closed
    for crash, close in zip(
        crashes.sort_values(["store", "time"]).itertuples(),
        closes.sort_values(["store", "time"]).itertuples(),
        strict=True,
    ):
        assert crash.store == close.store
        assert low - EPS <= close.time - crash.time <= high + EPS
        closed_at[(crash.store, crash.time)] = close.time
    online = (world.pinned == ONLINE).tolist()
    trace = record.trace
    for i, (time, what, store, order) in enumerate(trace):
        if what not in ("abandon", "drop") or not online[order]:
            continue
        # Sent again after the drop (at the same instant too, when a process died).
        later = [t for t, w, _, o in trace[i + 1 :] if w == "sent" and o == order]
        assert later, (time, store, order)
        assert later[0] >= time + low - EPS
        close = closed_at[(store, time)]
        others = [s for s in range(len(world.outages)) if s != store]
        others_up = others and all(
            not any(a <= close and b > time - high for a, b in world.outages[s]) for s in others
        )
        # The store itself may have come back and crashed again: a dead connection too.
        again = any(time < a <= close for a, _ in world.outages[store])
        if others_up and not again and unlimited:
            assert later[0] == close, (time, store, order, later[0], close)
