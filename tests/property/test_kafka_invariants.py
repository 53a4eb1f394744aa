"""The invariants every run keeps, for Kafka designs, on tiny random scenarios.

The worlds are those of test_invariants (1-4 stores, random rates, preparation times and
crashes); the designs are Kafka with random settings: partitions, assignor, static
membership, commits (auto or sync) and every duration.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_invariants import EPS, at_a_crash, inside, scenarios

from sim.experiment import run
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.scenario import Scenario
from sim.world import draw_world

EXAMPLES = settings(max_examples=40, deadline=None)


@st.composite
def kafka_settings(draw: st.DrawFn) -> dict[str, Any]:
    session = draw(st.floats(0.5, 5.0))
    sync = draw(st.booleans())
    return {
        "partitions": draw(st.integers(1, 8)),
        "assignor": draw(st.sampled_from(["range", "roundrobin", "sticky", "cooperative-sticky"])),
        "session_timeout": session,
        "heartbeat_interval": session * draw(st.floats(0.05, 0.95)),
        "rebalance_time": draw(st.one_of(st.just(0.0), st.floats(0.01, 2.0))),
        "static_membership": draw(st.booleans()),
        "max_poll_interval": draw(st.floats(0.5, 20.0)),
        "enable_auto_commit": not sync,
        "auto_commit_interval": draw(st.floats(0.05, 3.0)),
        "commit": "sync" if sync else "none",
        "commit_delay": draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
    }


@st.composite
def kafka_scenarios(draw: st.DrawFn, failures: str | None = None) -> Scenario:
    data = draw(scenarios(failures=failures)).to_mapping()
    data["designs"] = {
        f"kafka_{i}": {"queue": "kafka", "kafka": draw(kafka_settings())} for i in range(2)
    }
    return Scenario.from_mapping(data)


def runs(scenario: Scenario):
    world = draw_world(scenario, 0)
    for design in scenario.designs:
        record = simulate(world, scenario.stores, design, trace=True)
        orders = record.orders_frame(world)
        timeline = record.timeline_frame()
        metrics = replication_metrics(
            orders,
            timeline,
            scenario.warmup,
            scenario.orders.sla,
            world.horizon,
            counters=record.counters,
        )
        yield world, design, record, orders, timeline, metrics


def check_trace(world, record) -> None:
    """No preparation while down; every attempt ends once, a finish after exactly its
    preparation time (a store may prepare two copies of a record at once: a consumer
    that left the group cannot tell)."""
    prep = world.prep.tolist()
    under_way: dict[tuple[int, int], list[float]] = {}
    finishes: Counter[int] = Counter()
    for time, what, store, order in record.trace:
        assert 0 <= time < world.horizon
        if store < 0:
            continue
        outages = world.outages[store]
        if what == "start":
            assert not inside(outages, time)
            under_way.setdefault((store, order), []).append(time)
        elif what in ("finish", "fail", "abandon"):
            start = under_way[(store, order)].pop(0)
            if what == "abandon":
                assert at_a_crash(outages, time)
            else:
                assert not inside(outages, time)
                assert time == start + prep[order]
                finishes[order] += what == "finish"
    completions = np.frombuffer(record.completions, dtype=np.int32)
    assert dict(+finishes) == {i: int(c) for i, c in enumerate(completions) if c}


def check_orders(design, orders, timeline, metrics, horizon) -> None:
    kafka = design.kafka
    assert metrics["completed"] + metrics["lost"] + metrics["unfinished"] == metrics["arrived"]
    completions = orders["completions"].to_numpy()
    lost_at = orders["lost_at"].to_numpy()
    assert np.all(completions[~np.isnan(lost_at)] == 0)  # a lost record is never finished
    first = orders["first_completion"].to_numpy()
    done = completions > 0
    prep = orders["prep_time"].to_numpy()
    assert np.all(first[done] - orders["arrival"].to_numpy()[done] >= prep[done] - 1e-9)
    assert np.all(orders["deliveries"].to_numpy()[done & (orders["kind"] == "online")] >= 1)
    if kafka.commit == "sync":
        assert metrics["lost_online"] == 0  # a commit never covers an unfinished record
    delays = timeline.loc[timeline["event"] == "detected_down", "detection_delay"]
    low = kafka.session_timeout - kafka.heartbeat_interval
    assert delays.between(low - EPS, kafka.session_timeout + EPS).all()
    assert 0 <= metrics["paused_time"] <= kafka.partitions * horizon + EPS
    assert 0 <= metrics["max_lag"] <= int((orders["kind"] == "online").sum())
    if metrics["crashes"] == 0:
        assert metrics["lost"] == 0
        assert not (timeline["event"] == "detected_down").any()


@EXAMPLES
@given(kafka_scenarios())
def test_kafka_conserves_orders_and_keeps_causality(scenario):
    for world, design, record, orders, timeline, metrics in runs(scenario):
        check_trace(world, record)
        check_orders(design, orders, timeline, metrics, world.horizon)


@EXAMPLES
@given(kafka_scenarios(failures="both"))
def test_kafka_under_many_crashes(scenario):
    for world, design, record, orders, timeline, metrics in runs(scenario):
        check_trace(world, record)
        check_orders(design, orders, timeline, metrics, world.horizon)


@EXAMPLES
@given(kafka_scenarios(failures="none"))
def test_kafka_without_crashes_or_poll_timeouts_never_rebalances_loses_or_duplicates(scenario):
    data = scenario.to_mapping()
    for spec in data["designs"].values():
        spec["kafka"]["max_poll_interval"] = 2 * scenario.horizon
    for world, _design, record, _orders, _timeline, metrics in runs(Scenario.from_mapping(data)):
        check_trace(world, record)
        assert metrics["rebalances"] == 0
        assert (metrics["lost"], metrics["duplicates"], metrics["paused_time"]) == (0, 0, 0.0)


@settings(max_examples=10, deadline=None)
@given(kafka_scenarios())
def test_kafka_same_seed_gives_identical_results(scenario):
    first = run(scenario).replications
    assert first.to_csv(index=False) == run(scenario).replications.to_csv(index=False)
