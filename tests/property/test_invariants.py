"""Invariants every run must keep, on tiny random scenarios, for every design kind.

Each example is a scenario of 1-4 stores and a short duration, with random rates, a random
preparation-time distribution, random or scripted crashes (or none), and random database,
orchestrator and balancer settings. Every design is run on the same world with a full
trace, and the trace, the per-order table and the metrics are checked against each other.
"""

from __future__ import annotations

import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest
import simpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.experiment import run
from sim.metrics import replication_metrics
from sim.model import simulate
from sim.model.attempts import MAX_ATTEMPTS
from sim.model.events import ARRIVAL, At
from sim.records import Recorder
from sim.scenario import DesignSpec, Scenario
from sim.world import ONLINE, World, draw_world

DESIGNS = {
    "ram_only": {"queue": "ram"},
    "mq_modulo": {"queue": "db", "balancer": {"strategy": "modulo"}},
    "mq_ring": {"queue": "db", "balancer": {"strategy": "ring"}},
    "mq_rendezvous": {"queue": "db", "balancer": {"strategy": "rendezvous"}},
    "sqs_default": {"queue": "sqs"},
    "sqs_extended": {"queue": "sqs", "sqs": {"extend_visibility": "10s"}},
    "sqs_idempotent": {
        "queue": "sqs",
        "sqs": {"idempotent": True, "max_receive_count": 4, "batch": 3, "delete_delay": "5s"},
    },
    "rabbitmq_default": {"queue": "rabbitmq", "rabbitmq": {"consumer_timeout": "1d"}},
    # No consumer timeout here (rabbitmq_timeout has one): a preparation may exceed 30 min.
    "rabbitmq_prefetch1": {
        "queue": "rabbitmq",
        "rabbitmq": {"prefetch": 1, "ack_delay": 0.5, "consumer_timeout": "1d"},
    },
    "rabbitmq_timeout": {
        "queue": "rabbitmq",
        "rabbitmq": {"consumer_timeout": "3min", "delivery_limit": 2, "durable": False},
    },
    "rabbitmq_auto": {"queue": "rabbitmq", "rabbitmq": {"ack": "auto"}},
    "activemq_default": {"queue": "activemq"},
    "activemq_prefetch1": {
        "queue": "activemq",
        "activemq": {"prefetch": 1, "max_redeliveries": 1, "backoff": 2},
    },
    "activemq_auto": {"queue": "activemq", "activemq": {"ack": "auto"}},
    "kafka_default": {"queue": "kafka"},
    "kafka_cooperative_static": {
        "queue": "kafka",
        "kafka": {
            "assignor": "cooperative-sticky",
            "static_membership": True,
            "partitions": 3,
            "max_poll_interval": "2min",
        },
    },
    "kafka_sync_long_poll": {
        "queue": "kafka",
        "kafka": {
            "assignor": "sticky",
            "enable_auto_commit": False,
            "commit": "sync",
            "commit_delay": "10s",
            "max_poll_interval": "1d",
        },
    },
}
CONSISTENT = ("mq_ring", "mq_rendezvous")
BROKERS = ("sqs", "rabbitmq", "activemq", "kafka")
#: Designs that may lose an online order: nobody keeps a copy, or the broker forgot it
#: (Kafka's auto-commit covers records still in preparation).
AT_MOST_ONCE = (
    "ram_only",
    "rabbitmq_auto",
    "activemq_auto",
    "kafka_default",
    "kafka_cooperative_static",
)
#: Designs that prepare an order twice without any crash (leases, consumer timeouts,
#: Kafka consumers leaving the group after max_poll_interval without a poll).
TWICE_WITHOUT_CRASHES = (
    "sqs_default",
    "sqs_idempotent",
    "rabbitmq_timeout",
    "kafka_default",
    "kafka_cooperative_static",
)
EXAMPLES = settings(max_examples=40, deadline=None)
#: Slack for comparing times in the broad invariants, so that an event landing an ulp away
#: from its instant (see `test_events_happen_at_their_exact_instant`) does not hide other
#: failures; the exact-instant tests below hold the model to the exact times.
EPS = 1e-9


def times(low: float, high: float) -> st.SearchStrategy[float]:
    """Times in [low, high]: often round numbers, so that events tie with polls and crashes."""
    return st.one_of(
        st.integers(math.ceil(low), math.floor(high)).map(float),
        st.sampled_from([x / 2 for x in range(math.ceil(2 * low), math.floor(2 * high) + 1)]),
        st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


@st.composite
def prep_times(draw: st.DrawFn) -> dict[str, Any]:
    dist = draw(st.sampled_from(["exponential", "deterministic", "uniform", "lognormal", "gamma"]))
    if dist == "uniform":
        low = draw(times(0.0, 2.0))
        return {"dist": dist, "low": low, "high": low + draw(times(0.5, 4.0))}
    spec: dict[str, Any] = {"dist": dist, "mean": draw(times(0.5, 5.0))}
    if dist in ("lognormal", "gamma"):
        spec["cv"] = draw(st.floats(0.1, 2.0))
    return spec


def mean_of(prep: dict[str, Any]) -> float:
    return (prep["low"] + prep["high"]) / 2 if prep["dist"] == "uniform" else prep["mean"]


@st.composite
def scenarios(
    draw: st.DrawFn, failures: str | None = None, replications: int = 1, faulty: bool = True
) -> Scenario:
    """A tiny scenario; `failures` forces none, random, scripted or both (default: any);
    with `faulty`, some orders may be poison and attempts may fail."""
    count = draw(st.integers(1, 4))
    duration = draw(times(20.0, 60.0))
    prep = draw(prep_times())
    drain = mean_of(prep) * draw(st.floats(3.0, 8.0))
    horizon = duration + drain
    online = draw(st.one_of(st.just(0.0), st.floats(0.05, 2.0)))
    offline = draw(st.floats(0.0, 0.5))
    if online == 0 and offline == 0:
        offline = 0.2
    kind = failures or draw(st.sampled_from(["none", "random", "scripted", "both"]))
    failure_spec: dict[str, Any] = {}
    if kind != "none":
        failure_spec["crash"] = draw(st.sampled_from(["host", "process"]))
    if kind in ("random", "both"):
        failure_spec["mtbf"] = draw(times(5.0, 60.0))
        failure_spec["mttr"] = draw(times(0.5, 20.0))
    if kind in ("scripted", "both"):
        failure_spec["scripted"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "store": st.integers(0, count - 1),
                        "at": times(0.0, horizon).filter(lambda at: at < horizon),
                        "down_for": times(0.5, 30.0),
                    }
                ),
                min_size=1,
                max_size=3,
            )
        )
    return Scenario.from_mapping(
        {
            "name": "invariants",
            "seed": draw(st.integers(0, 2**31)),
            "duration": duration,
            "drain": drain,
            "replications": replications,
            "stores": {
                "count": count,
                "workers": draw(
                    st.one_of(
                        st.integers(1, 3),
                        st.lists(st.integers(1, 3), min_size=count, max_size=count),
                    )
                ),
            },
            "orders": {
                "online": {"rate": online},
                "offline": {"rate": offline},
                "prep_time": prep,
                "sla": draw(times(1.0, 30.0)),
                "poison": draw(st.sampled_from([0.0, 0.0, 0.05, 0.2])) if faulty else 0.0,
                "attempt_failure": draw(st.sampled_from([0.0, 0.0, 0.1, 0.3])) if faulty else 0.0,
                "patience": draw(
                    st.one_of(
                        st.none(),
                        st.builds(lambda m: {"dist": "exponential", "mean": m}, times(0.5, 20.0)),
                    )
                ),
            },
            "failures": failure_spec,
            "database": {"ack_delay": draw(st.one_of(st.just(0.0), times(0.0, 3.0)))},
            "orchestrator": {
                "poll_interval": draw(st.one_of(st.sampled_from([0.5, 1.0]), times(0.25, 3.0))),
                "misses": draw(st.integers(1, 3)),
            },
            "balancer": {
                "strategy": draw(st.sampled_from(["modulo", "ring", "rendezvous"])),
                "vnodes": draw(st.integers(1, 200)),
            },
            "designs": DESIGNS,
        }
    )


def run_designs(
    scenario: Scenario, replication: int = 0
) -> tuple[World, dict[str, tuple[DesignSpec, Recorder, pd.DataFrame, dict[str, float]]]]:
    """Every design on the same world: its spec, record, orders table and metrics."""
    world = draw_world(scenario, replication)
    runs = {}
    for design in scenario.designs:
        record = simulate(world, scenario.stores, design, trace=True)
        orders = record.orders_frame(world)
        metrics = replication_metrics(
            orders, record.timeline_frame(), scenario.warmup, scenario.orders.sla, world.horizon
        )
        runs[design.name] = (design, record, orders, metrics)
    return world, runs


def down_at(outages: tuple[tuple[float, float], ...], time: float) -> bool:
    """The store is down at `time` (down on [start, end)), give or take EPS."""
    return any(start - EPS <= time < end + EPS for start, end in outages)


def inside(outages: tuple[tuple[float, float], ...], time: float) -> bool:
    """`time` is strictly inside an outage, by more than EPS."""
    return any(start + EPS < time < end - EPS for start, end in outages)


def at_a_crash(outages: tuple[tuple[float, float], ...], time: float) -> bool:
    return any(abs(time - start) <= EPS for start, _ in outages)


def check_trace(world: World, record: Recorder, copies: bool = False) -> None:
    """A store never prepares while down, and every attempt ends exactly once (with
    `copies`, a broker's consumer, a store may prepare two copies of an order at once)."""
    assert record.trace is not None
    prep = world.prep.tolist()
    under_way: dict[tuple[int, int], list[float]] = {}
    finishes: Counter[int] = Counter()
    cancelled: set[int] = set()
    previous = 0.0
    for time, what, store, order in record.trace:
        assert time >= previous, "trace out of time order"
        previous = time
        assert 0 <= time < world.horizon
        if what == "cancelled":  # nothing of it under way, and never again anywhere
            assert not any(o == order for _, o in under_way), (time, order)
            assert world.patience_end is not None
            assert time == world.patience_end[order]
            cancelled.add(order)
            continue
        assert order not in cancelled or what in ("drop", "ignored"), (time, what, order)
        if store < 0:
            assert what in ("lost", "done", "dead_letter")
            continue
        outages = world.outages[store]
        if what in ("sent", "ignored"):
            assert not inside(outages, time), (time, what, store, order)
        elif what == "refused":
            assert down_at(outages, time), (time, what, store, order)
        elif what == "start":
            assert not inside(outages, time), (time, what, store, order)
            assert copies or (store, order) not in under_way, "started twice at once"
            under_way.setdefault((store, order), []).append(time)
        elif what in ("finish", "fail", "abandon"):
            starts = under_way.get((store, order), [])
            assert starts, f"{what} without start: {(time, store, order)}"
            if what == "abandon":
                assert at_a_crash(outages, time), (time, what, store, order)
                starts.pop()
            else:
                assert not inside(outages, time), (time, what, store, order)
                ended = [start for start in starts if start + prep[order] == time]
                assert ended, (time, what, store, order)
                starts.remove(ended[0])
                if what == "finish":
                    finishes[order] += 1
            if not starts:
                del under_way[(store, order)]
        elif what == "drop":
            assert at_a_crash(outages, time), (time, what, store, order)
        elif what == "discard":
            assert not inside(outages, time), (time, what, store, order)
        elif what == "withdrawn":  # its customer cancels: it was queued, not in preparation
            assert (store, order) not in under_way, (time, store, order)
            assert world.patience_end is not None
            assert time == world.patience_end[order]
        else:
            raise AssertionError(f"unknown trace event {what!r}")
    for (store, order), starts in under_way.items():
        # Still under way at the end: it could not have finished before the horizon, or its
        # store is stuck on it (an order attempted more than MAX_ATTEMPTS times).
        if record.attempts[order] > MAX_ATTEMPTS:
            continue
        assert all(start + prep[order] >= world.horizon - EPS for start in starts), (store, order)
    completions = np.frombuffer(record.completions, dtype=np.int32)
    assert dict(finishes) == {i: int(c) for i, c in enumerate(completions) if c}


def check_orders(world: World, design: DesignSpec, orders: pd.DataFrame, metrics: dict) -> None:
    """Conservation, consistent statuses, causality, and what each design may not do."""
    assert metrics["arrived"] == world.size == len(orders)
    parts = ("completed", "lost", "unfinished", "dead_lettered", "cancelled")
    assert sum(metrics[part] for part in parts) == metrics["arrived"]
    assert metrics["unfinished"] >= 0
    cancelled_at = orders["cancelled_at"].to_numpy()
    np.testing.assert_array_equal(orders["status"] == "cancelled", ~np.isnan(cancelled_at))
    assert metrics["held"] + metrics["stranded"] == metrics["unfinished"]
    stranded_time = orders["stranded_time"].to_numpy()
    assert np.all(stranded_time >= 0)
    assert np.all(stranded_time <= world.horizon - orders["arrival"].to_numpy() + EPS)
    if design.queue == "ram":
        assert (metrics["stranded"], metrics["stranded_time"]) == (0, 0)
    completions = orders["completions"].to_numpy()
    status = orders["status"].astype(str).to_numpy()
    lost_at = orders["lost_at"].to_numpy()
    np.testing.assert_array_equal(status == "completed", completions > 0)
    # An order lost (its only copy died) is never completed afterwards, nor before.
    assert np.all(completions[~np.isnan(lost_at)] == 0)
    np.testing.assert_array_equal(status == "lost", ~np.isnan(lost_at))
    np.testing.assert_array_equal(status == "lost", orders["lost_reason"].notna().to_numpy())
    assert np.all(orders["attempts"].to_numpy() >= completions)
    assert metrics["wasted_work"] >= -1e-9
    assert metrics["duplicates"] == int(np.maximum(completions - 1, 0).sum())

    first = orders["first_completion"].to_numpy()
    arrival = orders["arrival"].to_numpy()
    done = completions > 0
    assert np.all(np.isnan(first[~done]))
    assert np.all(first[done] >= arrival[done] - EPS)
    assert np.all(first[done] - arrival[done] >= orders["prep_time"].to_numpy()[done] - 1e-9)
    assert np.all(first[done] < world.horizon)
    assert np.all(lost_at[~np.isnan(lost_at)] >= arrival[~np.isnan(lost_at)] - EPS)

    dead_at = orders["dead_lettered_at"].to_numpy()
    np.testing.assert_array_equal(status == "dead_lettered", ~np.isnan(dead_at) & ~done)
    assert np.all(dead_at[~np.isnan(dead_at)] >= arrival[~np.isnan(dead_at)])
    reasons = orders["lost_reason"].astype(object).to_numpy()
    if metrics["crashes"] == 0:
        assert set(reasons[status == "lost"]) <= {"failed"}, design.name
    if design.queue in BROKERS:
        check_broker_orders(design, orders, metrics)
        return
    assert metrics["dead_lettered"] == metrics["redeliveries"] == 0
    done_at = orders["done_at"].to_numpy()
    if design.queue == "ram":
        assert metrics["duplicates"] == 0
        assert np.all(np.isnan(done_at))
        assert metrics["redistributions"] == 0
        assert metrics["moves"] == 0
    else:
        assert metrics["lost_online"] == 0
        landed = ~np.isnan(done_at)
        assert np.all(done[landed])
        ack = design.database.ack_delay
        assert np.all(done_at[landed] >= first[landed] + ack - 1e-9)
        if ack == 0:
            np.testing.assert_array_equal(done_at[landed], first[landed])


def check_broker_orders(design: DesignSpec, orders: pd.DataFrame, metrics: dict) -> None:
    """What a broker may and may not do to online orders."""
    online = (orders["kind"] == "online").to_numpy()
    deliveries = orders["deliveries"].to_numpy()
    assert np.all(deliveries[~online] == 0)  # walk-ins never go through the broker
    assert np.all(orders["attempts"].to_numpy()[online] <= deliveries[online])
    assert metrics["redeliveries"] == int(np.maximum(deliveries - 1, 0).sum())
    assert np.all(np.isnan(orders["done_at"].to_numpy()))
    if design.name not in AT_MOST_ONCE:
        assert metrics["lost_online"] == 0, design.name


def check_timeline(
    world: World, design: DesignSpec, record: Recorder, orders: pd.DataFrame
) -> None:
    """Crashes and recoveries follow the outages; detections follow the polling rule."""
    timeline = record.timeline_frame()
    assert timeline["time"].is_monotonic_increasing
    rows = list(timeline.itertuples(index=False))
    crashes = [(r.store, r.time) for r in rows if r.event == "crash"]
    recoveries = [(r.store, r.time) for r in rows if r.event == "recover"]
    expected_crashes = [(s, a) for s, o in enumerate(world.outages) for a, _ in o]
    expected_recoveries = [
        (s, b) for s, o in enumerate(world.outages) for _, b in o if b < world.horizon
    ]
    for seen, expected in ((crashes, expected_crashes), (recoveries, expected_recoveries)):
        seen, expected = sorted(seen), sorted(expected)
        assert [store for store, _ in seen] == [store for store, _ in expected]
        assert [t for _, t in seen] == pytest.approx([t for _, t in expected], abs=EPS)
    reasons = orders["lost_reason"].astype(str).to_numpy()
    assert sum(r.lost for r in rows if r.event == "crash") == int((reasons == "crash").sum())
    assert sum(r.moved for r in rows if r.event == "redistribute") == int(orders["moves"].sum())
    if design.queue == "kafka":
        check_kafka_timeline(world, design, rows)
        return
    if design.queue in ("ram", *BROKERS):
        assert not {"detected_down", "detected_up", "redistribute"} & set(timeline["event"])
        return
    interval, misses = design.orchestrator.poll_interval, design.orchestrator.misses
    for r in rows:
        if r.event in ("detected_down", "detected_up", "redistribute"):
            k = round(r.time / interval)
            assert k >= 1, r
            assert r.time == pytest.approx(k * interval, abs=EPS), r
        if r.event == "detected_down":
            assert down_at(world.outages[r.store], r.time), r
            # At least `misses` polls went unanswered, the last of them now.
            assert (r.time + EPS) // interval >= misses, r
            assert r.detection_delay >= 0, r
        elif r.event == "detected_up":
            assert not inside(world.outages[r.store], r.time), r
    downs = [r.time for r in rows if r.event == "detected_down"]
    redistributions = [r.time for r in rows if r.event == "redistribute"]
    assert redistributions == sorted(set(downs))


def check_kafka_timeline(world: World, design: DesignSpec, rows: list) -> None:
    """Kafka's coordinator removes a crashed member between session_timeout −
    heartbeat_interval and session_timeout after its crash, while it is still down or
    after a restart as a new member; nothing else is detected."""
    kafka = design.kafka
    assert not {"detected_up", "redistribute"} & {r.event for r in rows}
    for r in rows:
        if r.event == "detected_down":
            low = kafka.session_timeout - kafka.heartbeat_interval
            assert low - EPS <= r.detection_delay <= kafka.session_timeout + EPS, r
            assert at_a_crash(world.outages[r.store], r.time - r.detection_delay), r


@EXAMPLES
@given(scenarios())
def test_conservation_and_causality(scenario):
    world, runs = run_designs(scenario)
    for design, record, orders, metrics in runs.values():
        check_orders(world, design, orders, metrics)
        check_timeline(world, design, record, orders)
        assert metrics["crashes"] == sum(
            1 for outages in world.outages for start, _ in outages if start < world.horizon
        )


@EXAMPLES
@given(scenarios())
def test_a_store_never_prepares_while_down(scenario):
    world, runs = run_designs(scenario)
    for design, record, _, _ in runs.values():
        check_trace(world, record, copies=design.queue in BROKERS)


@EXAMPLES
@given(scenarios(failures="both"))
def test_a_store_never_prepares_while_down_under_many_crashes(scenario):
    world, runs = run_designs(scenario)
    for design, record, orders, metrics in runs.values():
        check_trace(world, record, copies=design.queue in BROKERS)
        check_orders(world, design, orders, metrics)
        check_timeline(world, design, record, orders)


@EXAMPLES
@given(scenarios())
def test_all_designs_see_the_same_orders(scenario):
    world, runs = run_designs(scenario)
    columns = ["order_id", "kind", "order_key", "pinned_store", "arrival", "prep_time"]
    frames = [orders[columns] for _, _, orders, _ in runs.values()]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    np.testing.assert_array_equal(frames[0]["arrival"].to_numpy(), world.arrival)
    np.testing.assert_array_equal(
        frames[0]["kind"].astype(str).to_numpy() == "online", world.pinned == ONLINE
    )


@EXAMPLES
@given(scenarios(failures="none", faulty=False))
def test_without_failures_nothing_is_lost_or_prepared_twice(scenario):
    world, runs = run_designs(scenario)
    assert world.outages == ((),) * scenario.stores.count
    for design, _record, orders, metrics in runs.values():
        check_orders(world, design, orders, metrics)
        if design.name in TWICE_WITHOUT_CRASHES or times_out(design, world):
            continue
        assert metrics["duplicates"] == 0, design.name
        assert metrics["lost"] == 0, design.name
        assert metrics["crashes"] == 0
        assert metrics["redistributions"] == 0
        assert metrics["moves"] == 0
        assert abs(metrics["wasted_work"]) <= 1e-9  # a difference of sums: rounding only


def times_out(design, world) -> bool:
    """Whether a RabbitMQ design's consumer_timeout can fire without a crash: a delivery
    unacked for longer is requeued and prepared again, as the broker does, so a world with
    a preparation that long (a lognormal tail) gives duplicates with no failure at all."""
    longest = float(world.prep.max(initial=0.0))
    return design.queue == "rabbitmq" and longest > design.rabbitmq.consumer_timeout


@st.composite
def single_permanent_crash(draw: st.DrawFn) -> Scenario:
    """One scripted crash that lasts past the end of the run; D writes land at once."""
    base = draw(scenarios(failures="none"))
    data = base.to_mapping()
    data["database"] = {"ack_delay": 0.0}
    data["designs"] = {
        name: {**spec, "database": {"ack_delay": 0.0}} for name, spec in DESIGNS.items()
    }
    at = draw(times(0.0, base.horizon).filter(lambda at: at < base.horizon))
    store = draw(st.integers(0, base.stores.count - 1))
    data["failures"] = {"scripted": [{"store": store, "at": at, "down_for": base.horizon + 1}]}
    return Scenario.from_mapping(data)


@EXAMPLES
@given(single_permanent_crash())
def test_one_crash_that_never_recovers_gives_no_duplicates_with_consistent_hashing(scenario):
    world, runs = run_designs(scenario)
    assert sum(len(outages) for outages in world.outages) == 1
    for name in (*CONSISTENT, "ram_only"):
        design, _record, orders, metrics = runs[name]
        check_orders(world, design, orders, metrics)
        assert metrics["crashes"] == 1
        assert metrics["duplicates"] == 0, name


@settings(max_examples=15, deadline=None)
@given(scenarios(replications=2))
def test_same_seed_gives_identical_results(scenario):
    first = run(scenario).replications
    second = run(scenario).replications
    pd.testing.assert_frame_equal(first, second)
    assert first.to_csv(index=False) == second.to_csv(index=False)
    assert list(first["design"]) == [d for _ in range(2) for d in DESIGNS]


def test_an_executor_gives_the_same_results_as_a_serial_run():
    scenario = Scenario.from_mapping(
        {
            "name": "executor",
            "seed": 3,
            "duration": 60.0,
            "drain": 20.0,
            "replications": 4,
            "stores": {"count": 3, "workers": 2},
            "orders": {
                "online": {"rate": 1.0},
                "offline": {"rate": 0.1},
                "prep_time": {"dist": "gamma", "mean": 3.0, "cv": 0.5},
            },
            "failures": {"mtbf": 20.0, "mttr": 4.0},
            "designs": DESIGNS,
        }
    )
    serial = run(scenario, keep_orders=True)
    with ThreadPoolExecutor(2) as pool:
        pooled = run(scenario, keep_orders=True, executor=pool)
    pd.testing.assert_frame_equal(serial.replications, pooled.replications)
    pd.testing.assert_frame_equal(serial.summary, pooled.summary)
    pd.testing.assert_frame_equal(serial.timeline, pooled.timeline)
    assert serial.orders is not None
    assert pooled.orders is not None
    pd.testing.assert_frame_equal(serial.orders, pooled.orders)


# Exact instants. The model promises (sim/model/events.py) that an event scheduled for time
# t happens at exactly t, so that instants computed two ways compare equal and the fixed
# order of simultaneous events decides ties. These tests hold it to that, without slack.


@settings(max_examples=200, deadline=None)
@given(
    now=st.floats(0.0, 1e4, allow_nan=False, allow_infinity=False),
    time=st.floats(0.0, 1e4, allow_nan=False, allow_infinity=False),
)
@example(now=0.5309822874215573, time=2.6821361064339695)
def test_events_happen_at_their_exact_instant(now, time):
    now, time = min(now, time), max(now, time)
    env = simpy.Environment(initial_time=now)
    fired: list[float] = []
    At(env, time, ARRIVAL).callbacks.append(lambda _: fired.append(env.now))
    env.run()
    assert fired == [time], f"scheduled from {now!r} for {time!r}, happened at {fired[0]!r}"


def check_trace_exactly(world: World, record: Recorder) -> None:
    """The store-down rules at exact instants: down on [start, end), arrivals first."""
    assert record.trace is not None
    arrival = world.arrival.tolist()
    for time, what, store, order in record.trace:
        assert time >= arrival[order], f"{what} of order {order} at {time!r} < {arrival[order]!r}"
        if store < 0:
            continue
        outages = world.outages[store]
        down = any(start <= time < end for start, end in outages)
        if what in ("sent", "ignored"):
            assert not down, (time, what, store, order)
        elif what == "refused":
            assert down, (time, what, store, order)
        elif what in ("start", "finish"):
            assert not any(start < time < end for start, end in outages)
        elif what in ("abandon", "drop"):
            assert time in {start for start, _ in outages}, (time, what, store, order)


ULP_EXAMPLE = Scenario.from_mapping(
    {
        "name": "ulp",
        "seed": 920048583,
        "duration": 34.0,
        "drain": 3.0,
        "stores": {"count": 3, "workers": 1},
        "orders": {"offline": {"rate": 0.5}, "prep_time": {"dist": "exponential", "mean": 1.0}},
        "failures": {
            "mtbf": 5.0,
            "mttr": 1.0,
            "scripted": [{"store": 2, "at": 0.0, "down_for": 3.0}],
        },
        "designs": DESIGNS,
    }
)


@settings(max_examples=30, deadline=None)
@given(scenarios())
@example(ULP_EXAMPLE)
def test_everything_happens_at_its_exact_instant(scenario):
    """Nothing happens to an order before it arrives; crashes and recoveries happen at
    exactly the outage times drawn in the world; the store-down rules hold at the instant."""
    world, runs = run_designs(scenario)
    outage_starts = sorted((s, a) for s, o in enumerate(world.outages) for a, _ in o)
    outage_ends = sorted(
        (s, b) for s, o in enumerate(world.outages) for _, b in o if b < world.horizon
    )
    for _, record, orders, _ in runs.values():
        lost_at = orders["lost_at"].to_numpy()
        lost = ~np.isnan(lost_at)
        assert np.all(lost_at[lost] >= orders["arrival"].to_numpy()[lost])
        timeline = record.timeline_frame()
        events = list(timeline.itertuples(index=False))
        assert sorted((int(r.store), r.time) for r in events if r.event == "crash") == (
            outage_starts
        )
        assert sorted((int(r.store), r.time) for r in events if r.event == "recover") == (
            outage_ends
        )
        check_trace_exactly(world, record)


# Detection delay.


def silent_since(outages: tuple[tuple[float, float], ...], interval: float, time: float) -> float:
    """When the store went silent for good before a detection at `time`: the start of the
    first outage after the last poll it answered."""
    answered = [
        k * interval
        for k in range(1, round(time / interval) + 1)
        if not any(start <= k * interval < end for start, end in outages)
    ]
    last = answered[-1] if answered else -math.inf
    return min(start for start, end in outages if end > last and start <= time)


DETECTION_EXAMPLE = Scenario.from_mapping(
    {
        "name": "detection",
        "seed": 0,
        "duration": 20.0,
        "drain": 14.0,
        "stores": {"count": 1},
        "orders": {"offline": {"rate": 0.2}, "prep_time": {"dist": "exponential", "mean": 2.0}},
        # Store 0 is down on [32.23, 33.24) and [33.26, 34.88): back up between two polls.
        "failures": {"mtbf": 5.0, "mttr": 1.0},
        "orchestrator": {"poll_interval": 0.5, "misses": 3},
        "designs": {"mq_ring": DESIGNS["mq_ring"]},
    }
)


@settings(max_examples=30, deadline=None)
@given(scenarios(failures="random"))
@example(DETECTION_EXAMPLE)
def test_detection_delay_runs_from_when_the_store_went_silent(scenario):
    """The orchestrator declares a store down after `misses` unanswered polls in a row, so a
    detection comes between (misses − 1) and misses poll intervals after the crash that
    silenced the store: the first crash since the store last answered a poll (a repair
    that no poll saw does not restart the count)."""
    world, runs = run_designs(scenario)
    for design, record, _, _ in runs.values():
        if design.queue != "db":
            continue
        interval, misses = design.orchestrator.poll_interval, design.orchestrator.misses
        timeline = record.timeline_frame()
        for r in timeline[timeline["event"] == "detected_down"].itertuples(index=False):
            since = silent_since(world.outages[r.store], interval, r.time)
            assert r.detection_delay == pytest.approx(r.time - since, abs=EPS), r
            assert (misses - 1) * interval - EPS <= r.detection_delay < misses * interval + EPS
