"""Failure modes against theory and against each other.

- Lost poll answers, independent with probability p, no crashes: a store is declared down
  (falsely) at poll n when the answers to polls n-k+1 .. n are lost and the one to poll
  n-k arrived (or n = k): per store, p^k + (N - k)(1 - p) p^k over N polls, about
  (1 - p) p^k per poll. Within `Z` = 4 SE over 20 replications, and the same formula
  with k - 1 or k + 1 misses must fall outside the band (the check can tell k apart).
- A group outage is the same scripted crash of each member: same orders, same results.
- With `incarnations`, outages all shorter than one poll interval strand nothing and lose
  no online order; without, the same world strands orders (the test can fail).
"""

from __future__ import annotations

import numpy as np
from tolerance import assert_close

import sim
from sim.scenario import Scenario


def expected_false_detections(p: float, k: int, polls: int) -> float:
    """Per poll per store: runs of k lost answers that follow an answer (or the start)."""
    return (p**k + (polls - k) * (1 - p) * p**k) / polls


def test_false_detections_from_lost_answers_follow_the_run_length_law():
    p, k, interval, stores = 0.3, 2, 1.0, 4
    duration, drain = 1000.0, 10.0
    scenario = Scenario.from_mapping(
        {
            "name": "poll_loss",
            "seed": 5,
            "duration": duration,
            "drain": drain,
            "replications": 20,
            "stores": {"count": stores},
            "orders": {"online": {"rate": 0.01}, "prep_time": {"dist": "deterministic", "mean": 1}},
            "network": {"poll_loss": p},
            "orchestrator": {"poll_interval": interval, "misses": k},
            "designs": {"mq": {"queue": "db"}},
        }
    )
    polls = int(np.ceil((duration + drain) / interval)) - 1  # polls at n * interval < horizon
    results = sim.run(scenario, progress=False)
    rate = results.replications["false_detections"] / (stores * polls)
    assert_close(
        rate,
        expected_false_detections(p, k, polls),
        "false detections per poll per store",
        wrong=[
            expected_false_detections(p, k + 1, polls),
            expected_false_detections(p, k - 1, polls),
        ],
    )
    assert (results.replications["crashes"] == 0).all()
    assert results.replications["detection_delay"].isna().all()  # no true detection


def world(failures: dict, seed: int = 3) -> dict:
    return {
        "name": "groups",
        "seed": seed,
        "duration": 400.0,
        "drain": 100.0,
        "replications": 4,
        "stores": {"count": 5, "workers": 2},
        "orders": {
            "online": {"rate": 1.0},
            "offline": {"rate": 0.05},
            "prep_time": {"dist": "lognormal", "mean": 6, "cv": 0.5},
        },
        "failures": {"mtbf": 150.0, "mttr": 10.0, **failures},
        "designs": {
            "ram_only": {"queue": "ram"},
            "mq": {"queue": "db"},
            "mq_fenced": {"queue": "db", "orchestrator": {"fencing": True}},
        },
    }


def test_a_group_outage_is_the_same_crash_of_each_member():
    outages = [{"at": 100.0, "down_for": 30.0}, {"at": 250.5, "down_for": 12.0}]
    group = Scenario.from_mapping(world({"groups": [{"stores": [0, 2, 3], "scripted": outages}]}))
    scripted = Scenario.from_mapping(
        world({"scripted": [{"store": s, **o} for s in (0, 2, 3) for o in outages]})
    )
    a, b = sim.run(group, progress=False), sim.run(scripted, progress=False)
    assert a.replications.equals(b.replications)
    assert a.replications["crashes"].sum() > 0


def test_random_group_outages_take_every_member_down_together():
    from sim.world import draw_world

    data = world({})
    data["failures"] = {"groups": [{"stores": [1, 4], "mtbf": 100.0, "mttr": 5.0}]}
    scenario = Scenario.from_mapping(data)
    for replication in range(3):
        outages = draw_world(scenario, replication).outages
        assert outages[1] == outages[4]
        assert len(outages[1]) > 0
        assert outages[0] == outages[2] == outages[3] == ()


def short_outages(seed: int, stores: int, duration: float, interval: float) -> list[dict]:
    """Per store, 15 outages shorter than one poll interval, at least 3 intervals apart."""
    rng = np.random.default_rng(seed)
    scripted = []
    for store in range(stores):
        starts = np.sort(rng.uniform(10.0, duration - 20.0, 15))
        kept = [s for i, s in enumerate(starts) if i == 0 or s - starts[i - 1] > 3 * interval]
        for start in kept:
            down_for = float(rng.uniform(0.05, 0.95) * interval)
            scripted.append({"store": store, "at": float(start), "down_for": down_for})
    return scripted


def test_incarnations_strand_nothing_when_every_outage_is_shorter_than_a_poll():
    interval, duration = 1.0, 300.0
    scenario = Scenario.from_mapping(
        {
            "name": "incarnations",
            "seed": 9,
            "duration": duration,
            "drain": 60.0,
            "replications": 10,
            "stores": {"count": 4, "workers": 2},
            "orders": {"online": {"rate": 1.0}, "prep_time": {"dist": "exponential", "mean": 3}},
            "failures": {"scripted": short_outages(9, 4, duration, interval)},
            "orchestrator": {"poll_interval": interval, "misses": 2},
            "designs": {
                "mq": {"queue": "db"},
                "mq_incarnations": {"queue": "db", "orchestrator": {"incarnations": True}},
            },
        }
    )
    runs = sim.run(scenario, progress=False).replications.set_index("design")
    with_incarnations, without = runs.loc["mq_incarnations"], runs.loc["mq"]
    assert (with_incarnations["crashes"] > 40).all()
    assert (with_incarnations["stranded"] == 0).all()
    assert (with_incarnations["lost_online"] == 0).all()
    assert (with_incarnations["unfinished"] == 0).all()
    assert (with_incarnations["redistributions"] == 0).all()  # no outage was ever detected
    assert without["stranded"].sum() > 10
