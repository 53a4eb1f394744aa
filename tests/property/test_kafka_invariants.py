"""The invariants every run keeps, for Kafka designs, on tiny random scenarios.

The worlds are those of test_invariants (1-4 stores, random rates, preparation times and
crashes); the designs are Kafka with random settings: partitions, assignor, static
membership, commits (auto or sync) and every duration; some add outages of the cluster
(`database.outages`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_invariants import EPS, at_a_crash, down_at, inside, scenarios, times

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
def kafka_scenarios(
    draw: st.DrawFn, failures: str | None = None, cluster_outages: bool = False
) -> Scenario:
    """Two Kafka designs on a tiny world; with `cluster_outages`, the cluster goes down
    (scripted or random outages) and sends while it is down are lost or kept."""
    data = draw(scenarios(failures=failures)).to_mapping()
    data["designs"] = {
        f"kafka_{i}": {"queue": "kafka", "kafka": draw(kafka_settings())} for i in range(2)
    }
    if cluster_outages:
        horizon = data["duration"] + data["drain"]
        scripted = st.fixed_dictionaries(
            {
                "at": times(0.0, horizon).filter(lambda at: at < horizon),
                "down_for": times(0.5, 20.0),
            }
        )
        outages = st.one_of(
            st.fixed_dictionaries({"scripted": st.lists(scripted, min_size=1, max_size=3)}),
            st.fixed_dictionaries({"mtbf": times(5.0, 40.0), "mttr": times(0.5, 10.0)}),
        )
        data["database"] = {
            **data.get("database", {}),
            "outages": draw(outages),
            "when_down": draw(st.sampled_from(["reject", "retry"])),
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
    cancelled: set[int] = set()
    for time, what, store, order in record.trace:
        assert 0 <= time < world.horizon
        if what == "cancelled":  # never in preparation then, and skipped from then on
            assert not any(starts for (_, o), starts in under_way.items() if o == order), order
            cancelled.add(order)
        if store < 0:
            continue
        assert what != "start" or order not in cancelled, (time, store, order)
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
    """Conservation and the per-order rules; a send turned away while the cluster is down
    (`rejected`) is the only loss other than crashes'."""
    kafka = design.kafka
    lost = metrics["lost"] - metrics["rejected"]
    parts = ("completed", "lost", "unfinished", "dead_lettered", "cancelled")
    assert sum(metrics[part] for part in parts) == metrics["arrived"]
    cancelled_at = orders["cancelled_at"].to_numpy()
    assert np.array_equal(orders["status"] == "cancelled", ~np.isnan(cancelled_at))
    completions = orders["completions"].to_numpy()
    lost_at = orders["lost_at"].to_numpy()
    assert np.all(completions[~np.isnan(lost_at)] == 0)  # a lost record is never finished
    first = orders["first_completion"].to_numpy()
    done = completions > 0
    prep = orders["prep_time"].to_numpy()
    assert np.all(first[done] - orders["arrival"].to_numpy()[done] >= prep[done] - 1e-9)
    assert np.all(orders["deliveries"].to_numpy()[done & (orders["kind"] == "online")] >= 1)
    if kafka.commit == "sync":  # a commit never covers an unfinished record
        assert metrics["lost_online"] == metrics["rejected"]
    assert 0 <= metrics["paused_time"] <= kafka.partitions * horizon + EPS
    assert 0 <= metrics["max_lag"] <= int((orders["kind"] == "online").sum())
    if metrics["crashes"] == 0:
        assert lost == 0
        assert not (timeline["event"] == "detected_down").any()


def check_detections(world, design, timeline) -> None:
    """A crashed member is removed `session_timeout` after its last heartbeat (so between
    `session_timeout - heartbeat_interval` and `session_timeout` after the crash), and no
    sooner than `session_timeout` after the end of any outage of the cluster it fell
    silent before: the coordinator gives every member a fresh session when it is back."""
    kafka, cluster = design.kafka, world.database_outages
    session = kafka.session_timeout
    rows = timeline[timeline["event"] == "detected_down"]
    for time, store, delay in zip(
        rows["time"], rows["store"], rows["detection_delay"], strict=True
    ):
        crash = time - delay
        assert at_a_crash(world.outages[int(store)], crash)
        assert not inside(cluster, time), time
        assert delay >= session - kafka.heartbeat_interval - EPS
        after = [end + session for start, end in cluster if start < time - EPS and end > crash]
        assert all(time >= bound - EPS for bound in after), (time, crash, cluster)
        assert time <= max([crash + session, *after]) + EPS, (time, crash, cluster)


def check_cluster_outages(world, design, record, orders, timeline, metrics) -> None:
    """While the cluster is down no online record is fetched (so none starts) and no
    rebalance completes; a send is turned away only while it is down, and never with
    `when_down: retry`."""
    cluster = world.database_outages
    online = world.pinned < 0
    for time, what, _store, order in record.trace:
        if what == "start" and online[order]:
            assert not inside(cluster, time), (time, order)
    for time in timeline.loc[timeline["event"] == "rebalance", "time"]:
        assert not inside(cluster, time), time
    rejected = (orders["lost_reason"] == "db_down").to_numpy()
    assert all(down_at(cluster, arrival) for arrival in world.arrival[rejected])
    if design.database.when_down == "retry":
        assert metrics["rejected"] == 0


@EXAMPLES
@given(kafka_scenarios())
def test_kafka_conserves_orders_and_keeps_causality(scenario):
    for world, design, record, orders, timeline, metrics in runs(scenario):
        check_trace(world, record)
        check_orders(design, orders, timeline, metrics, world.horizon)
        check_detections(world, design, timeline)


@EXAMPLES
@given(kafka_scenarios(cluster_outages=True))
def test_kafka_under_outages_of_the_cluster(scenario):
    for world, design, record, orders, timeline, metrics in runs(scenario):
        check_trace(world, record)
        check_orders(design, orders, timeline, metrics, world.horizon)
        check_detections(world, design, timeline)
        check_cluster_outages(world, design, record, orders, timeline, metrics)


@EXAMPLES
@given(kafka_scenarios(failures="both"))
def test_kafka_under_many_crashes(scenario):
    for world, design, record, orders, timeline, metrics in runs(scenario):
        check_trace(world, record)
        check_orders(design, orders, timeline, metrics, world.horizon)
        check_detections(world, design, timeline)


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
