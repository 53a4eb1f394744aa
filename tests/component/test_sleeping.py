"""The orchestrator sleeps through rounds in which every store answers and nothing is being
counted; the rounds it runs must be exactly those of polling at every interval."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.model import simulate
from sim.model.orchestrator import Orchestrator
from sim.scenario import Scenario
from sim.world import draw_world


def never_quiet(self):
    """Orchestrator._quiet, never quiet: every round runs."""
    return False


def read_all(self, lost):
    """Orchestrator._to_read, reading every store in every round."""
    return self.stores


def chain(seed: int, sections: dict) -> dict:
    """Four stores, two workers each, 200 minutes of orders; `sections` add the rest."""
    return {
        "name": "sleep",
        "seed": seed,
        "duration": 200.0,
        "drain": 50.0,
        "stores": {"count": 4, "workers": 2},
        "orders": {
            "online": {"rate": 1.0},
            "offline": {"rate": 0.05},
            "prep_time": {"dist": "exponential", "mean": 3},
        },
        **sections,
    }


@pytest.mark.parametrize("poll_interval", [0.1, 0.7, 1.0, 3.0])
@pytest.mark.parametrize("misses", [1, 3])
@pytest.mark.parametrize("seed", [1, 2])
def test_sleeping_changes_nothing(monkeypatch, poll_interval, misses, seed):
    scenario = Scenario.from_mapping(
        chain(
            seed,
            {
                "failures": {
                    "mtbf": 30.0,
                    "mttr": 2.0,
                    "scripted": [
                        {"store": 1, "at": 10.0, "down_for": 0.3},
                        {"store": 2, "at": 21.0, "down_for": 5.0},
                    ],
                },
                "database": {"ack_delay": 0.5},
                "orchestrator": {"poll_interval": poll_interval, "misses": misses},
                "designs": {
                    "all": {"queue": "db"},
                    "owned": {"queue": "db", "orchestrator": {"redistribute": "owned"}},
                },
            },
        )
    )
    check_same_rounds(monkeypatch, scenario)


def check_same_rounds(monkeypatch, scenario):
    world = draw_world(scenario, 0)
    for design in scenario.designs:
        sleeping = simulate(world, scenario.stores, design)
        with monkeypatch.context() as patch:
            patch.setattr(Orchestrator, "_quiet", never_quiet)
            patch.setattr(Orchestrator, "_to_read", read_all)
            awake = simulate(world, scenario.stores, design)
        assert sleeping.timeline == awake.timeline or pd.DataFrame(sleeping.timeline).equals(
            pd.DataFrame(awake.timeline)
        )
        pd.testing.assert_frame_equal(sleeping.orders_frame(world), awake.orders_frame(world))
        assert any(event[1] == "detected_down" for event in awake.timeline)


@pytest.mark.parametrize("poll_interval", [0.7, 1.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_sleeping_changes_nothing_under_imperfect_failures(monkeypatch, poll_interval, seed):
    """Lost answers wake the orchestrator at their rounds; partitions, outages of the
    orchestrator and the database, restarts and leases do not change the rounds either."""
    scenario = Scenario.from_mapping(
        chain(
            seed,
            {
                "failures": {
                    "mtbf": 30.0,
                    "mttr": 0.5,
                    "groups": [{"stores": [0, 1], "scripted": [{"at": 40.0, "down_for": 6.0}]}],
                    "slowdowns": {"mtbf": 50.0, "mttr": 10.0},
                },
                "network": {"poll_loss": 0.2, "partitions": {"mtbf": 60.0, "mttr": 3.0}},
                "database": {"outages": {"mtbf": 70.0, "mttr": 4.0}, "when_down": "retry"},
                "orchestrator": {
                    "poll_interval": poll_interval,
                    "outages": {"scripted": [{"at": 100.0, "down_for": 7.5}]},
                },
                "designs": {
                    "all": {"queue": "db"},
                    "fenced": {"queue": "db", "orchestrator": {"fencing": True}},
                    "incarnations": {"queue": "db", "orchestrator": {"incarnations": True}},
                    "lease": {"queue": "db", "orchestrator": {"max_age": 6.0}},
                },
            },
        )
    )
    check_same_rounds(monkeypatch, scenario)
