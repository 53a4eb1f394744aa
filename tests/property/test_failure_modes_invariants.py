"""Invariants under the failure modes, on tiny random scenarios (see test_invariants).

Each example adds to a random tiny scenario lost poll answers, partitions, slowdowns, a
group outage, database and orchestrator outages, and runs the seed's design plain, fenced,
with incarnations and with a lease, beside ram_only and a Kafka design with synchronous
commits (for it the database's outages are the cluster's, its consumers are slowed like the
stores; lost polls and partitions do not reach it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_invariants import EPS, down_at, inside, run_designs, scenarios, times

from sim.scenario import Scenario

DESIGNS = {
    "ram_only": {"queue": "ram"},
    "mq": {"queue": "db"},
    "mq_fenced": {"queue": "db", "orchestrator": {"fencing": True}},
    "mq_incarnations": {"queue": "db", "orchestrator": {"incarnations": True}},
    "mq_lease": {"queue": "db", "orchestrator": {"max_age": 4.0}},
    "kafka_sync": {
        "queue": "kafka",
        "kafka": {"enable_auto_commit": False, "commit": "sync", "max_poll_interval": "1d"},
    },
}


def outages(horizon: float) -> st.SearchStrategy[dict[str, Any]]:
    scripted = st.fixed_dictionaries(
        {"at": times(0.0, horizon).filter(lambda at: at < horizon), "down_for": times(0.5, 10.0)}
    )
    return st.one_of(
        st.just({}),
        st.fixed_dictionaries({"scripted": st.lists(scripted, min_size=1, max_size=2)}),
        st.fixed_dictionaries({"mtbf": times(5.0, 40.0), "mttr": times(0.5, 5.0)}),
    )


@st.composite
def imperfect(draw: st.DrawFn) -> Scenario:
    """A tiny scenario with every failure mode, each maybe."""
    base = draw(scenarios()).to_mapping()
    count, horizon = base["stores"]["count"], base["duration"] + base["drain"]
    spell = st.fixed_dictionaries(
        {
            "store": st.integers(0, count - 1),
            "at": times(0.0, horizon).filter(lambda at: at < horizon),
            "for": times(0.5, 10.0),
        }
    )
    base["network"] = {
        "poll_loss": draw(st.sampled_from([0.0, 0.1, 0.4])),
        "partitions": {"scripted": draw(st.lists(spell, max_size=2))},
    }
    base["failures"]["slowdowns"] = {"scripted": draw(st.lists(spell, max_size=2)), "factor": 2.5}
    base["failures"]["groups"] = [{"stores": list(range(count)), **draw(outages(horizon))}]
    base["database"] = {
        "outages": draw(outages(horizon)),
        "when_down": draw(st.sampled_from(["reject", "retry"])),
    }
    base["orchestrator"] = {"outages": draw(outages(horizon))}
    base["designs"] = DESIGNS
    return Scenario.from_mapping(base)


#: Found by hypothesis: a store back up at a poll's instant, its answer to that poll lost
#: (the second miss): declared down while up, at the very end of its outage.
RECOVERED_AT_A_LOST_POLL = {
    "name": "invariants",
    "duration": 20.0,
    "drain": 3.0,
    "stores": {"count": 1, "workers": 1},
    "orders": {
        "online": {"rate": 0.0},
        "offline": {"rate": 0.2},
        "prep_time": {"dist": "exponential", "mean": 1.0},
    },
    "failures": {
        "groups": [
            {
                "stores": [0],
                "scripted": [{"at": 0.0, "down_for": 1.0}, {"at": 2.5, "down_for": 1.5}],
            }
        ]
    },
    "network": {"poll_loss": 0.4},
    "orchestrator": {"poll_interval": 1.0, "misses": 2},
    "designs": DESIGNS,
}


@settings(max_examples=30, deadline=None)
@given(imperfect())
@example(Scenario.from_mapping(RECOVERED_AT_A_LOST_POLL))
def test_conservation_and_causality_under_failure_modes(scenario):
    world, runs = run_designs(scenario)
    when_down = scenario.designs[0].database.when_down
    for design, record, orders, metrics in runs.values():
        assert metrics["arrived"] == world.size
        parts = ("completed", "lost", "unfinished", "dead_lettered", "cancelled")
        assert sum(metrics[part] for part in parts) == world.size
        assert metrics["held"] + metrics["stranded"] == metrics["unfinished"]
        assert np.all(orders["stranded_time"].to_numpy() >= 0)
        assert np.all(orders["slow_time"].to_numpy() >= -EPS)
        first = orders["first_completion"].to_numpy()
        done = ~np.isnan(first)
        assert np.all(first[done] >= world.arrival[done] + world.prep[done] - EPS)
        rejected = (orders["lost_reason"] == "db_down").to_numpy()
        for arrival in world.arrival[rejected]:
            assert down_at(world.database_outages, arrival)
        if design.queue == "ram":
            assert metrics["rejected"] == metrics["false_detections"] == 0
            continue
        expected = metrics["rejected"] if when_down == "reject" else 0
        assert metrics["lost_online"] == expected
        landed = orders["done_at"].to_numpy()
        for time in landed[~np.isnan(landed)]:
            assert not inside(world.database_outages, time)
        if design.queue == "kafka":
            continue  # its coordinator's detections: test_kafka_invariants
        check_detections(world, record)
        if design.orchestrator.fencing:
            check_fenced_stores_prepare_nothing(record)


def check_detections(world, record) -> None:
    """True detections find the store down, false ones up; no round while the
    orchestrator is down."""
    for time, event, store, *_ in record.timeline:
        if event in ("detected_down", "false_detection", "detected_up"):
            assert not inside(world.orchestrator_outages, time)
        if event == "detected_down":
            assert down_at(world.outages[store], time)
        elif event == "false_detection":
            # Exactly up: a store that recovers at a poll's instant answers it (crashes
            # and recoveries rank before polls), so a lost answer then is a false
            # detection right at the end of an outage, where `down_at`'s slack says down.
            assert not any(start <= time < end for start, end in world.outages[store])


def check_fenced_stores_prepare_nothing(record) -> None:
    """No store starts a preparation between being fenced and unfenced. At one instant,
    an unfencing comes first (the round puts stores back before it redistributes), and
    a fencing last (a completion starting the next order comes before the round)."""
    fenced: set[int] = set()
    rank = {"unfenced": 0, "start": 1, "fenced": 2}
    steps = [(t, rank[e], e, s) for t, e, s, *_ in record.timeline if e in ("fenced", "unfenced")]
    steps += [(t, 1, what, s) for t, what, s, _ in record.trace if what == "start"]
    for time, _, what, store in sorted(steps):
        if what == "fenced":
            fenced.add(store)
        elif what == "unfenced":
            fenced.discard(store)
        else:
            assert store not in fenced, (time, store)
