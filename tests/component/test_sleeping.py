"""The orchestrator polls only the stores it watches, and sleeps while it watches none;
redistributions walk only the orders that can move. The result must be exactly that of
polling every store at every interval and walking every N order."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.model import simulate
from sim.model.database import Database
from sim.model.designs import DatabaseQueue
from sim.model.orchestrator import Orchestrator
from sim.scenario import Scenario
from sim.world import draw_world


def never_quiet(self):
    """Orchestrator._quiet, never quiet: every round runs."""
    return False


def read_all(self, lost):
    """Orchestrator._to_read, reading every store in every round."""
    return self.stores


def walk_every_order(self):
    """DatabaseQueue._may_move's stand-in: None, so that every N order is walked, as the
    seed describes."""


def orders_of_by_scan(self, stores):
    """Database.orders_of without the index: scan every N order."""
    wanted = set(stores)
    return sorted(o for o in self.open if self.recorder.sent_to[o] in wanted)


def chain(seed: int, sections: dict, count: int = 4) -> dict:
    """`count` stores, two workers each, 200 minutes of orders; `sections` add the rest."""
    return {
        "name": "sleep",
        "seed": seed,
        "duration": 200.0,
        "drain": 50.0,
        "stores": {"count": count, "workers": 2},
        "orders": {
            "online": {"rate": 0.25 * count},
            "offline": {"rate": 0.05},
            "prep_time": {"dist": "exponential", "mean": 3},
        },
        **sections,
    }


def crashes(poll_interval, misses, mtbf, mttr, scripted, strategy="ring", **balancer):
    """The sections of a world of crashes, `all` against `owned`."""
    return {
        "failures": {"mtbf": mtbf, "mttr": mttr, "scripted": scripted},
        "database": {"ack_delay": balancer.pop("ack_delay", 0.5)},
        "orchestrator": {"poll_interval": poll_interval, "misses": misses},
        "balancer": {"strategy": strategy, "vnodes": 20, **balancer},
        "designs": {
            "all": {"queue": "db"},
            "owned": {"queue": "db", "orchestrator": {"redistribute": "owned"}},
        },
    }


def check_same_rounds(monkeypatch, scenario):
    world = draw_world(scenario, 0)
    for design in scenario.designs:
        watching = simulate(world, scenario.stores, design)
        with monkeypatch.context() as patch:
            patch.setattr(Orchestrator, "_quiet", never_quiet)
            patch.setattr(Orchestrator, "_to_read", read_all)
            polling = simulate(world, scenario.stores, design)
        assert pd.DataFrame(watching.timeline).equals(pd.DataFrame(polling.timeline))
        pd.testing.assert_frame_equal(watching.orders_frame(world), polling.orders_frame(world))
        assert any(event[1] == "detected_down" for event in polling.timeline)
        assert any(event[1] == "detected_up" for event in polling.timeline)


@pytest.mark.parametrize("poll_interval", [0.1, 0.7, 1.0, 3.0])
@pytest.mark.parametrize("misses", [1, 3])
@pytest.mark.parametrize("seed", [1, 2])
def test_watching_changes_nothing(monkeypatch, poll_interval, misses, seed):
    scripted = [
        {"store": 1, "at": 10.0, "down_for": 0.3},  # between two polls, or seen once
        {"store": 2, "at": 21.0, "down_for": 5.0},
        {"store": 2, "at": 26.5, "down_for": 0.2},  # crashes again soon after recovering
    ]
    sections = crashes(poll_interval, misses, 30.0, 2.0, scripted)
    check_same_rounds(monkeypatch, Scenario.from_mapping(chain(seed, sections)))


@pytest.mark.parametrize("strategy", ["ring", "modulo", "jump"])
@pytest.mark.parametrize("seed", [3, 4])
def test_watching_a_chain_where_stores_are_always_down(monkeypatch, strategy, seed):
    """Forty stores, about a third of them down at any time, and the whole chain down at
    once for a while (no members: orders wait in the database)."""
    scripted = [{"store": s, "at": 100.0, "down_for": 4.0 + s % 3} for s in range(40)]
    sections = crashes(1.0, 2, 10.0, 5.0, scripted, strategy)
    check_same_rounds(monkeypatch, Scenario.from_mapping(chain(seed, sections, count=40)))


IMPERFECT = {
    "failures": {
        "mtbf": 30.0,
        "mttr": 0.5,
        "groups": [{"stores": [0, 1], "scripted": [{"at": 40.0, "down_for": 6.0}]}],
        "slowdowns": {"mtbf": 50.0, "mttr": 10.0},
    },
    "network": {"poll_loss": 0.2, "partitions": {"mtbf": 60.0, "mttr": 3.0}},
    "database": {"outages": {"mtbf": 70.0, "mttr": 4.0}, "when_down": "retry"},
    "designs": {
        "all": {"queue": "db"},
        "owned": {"queue": "db", "orchestrator": {"redistribute": "owned"}},
        "fenced": {"queue": "db", "orchestrator": {"fencing": True}},
        "incarnations": {"queue": "db", "orchestrator": {"incarnations": True}},
        "lease": {"queue": "db", "orchestrator": {"max_age": 6.0}},
    },
}


@pytest.mark.parametrize("poll_interval", [0.7, 1.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_sleeping_changes_nothing_under_imperfect_failures(monkeypatch, poll_interval, seed):
    """Lost answers wake the orchestrator at their rounds; partitions, outages of the
    orchestrator and the database, restarts and leases do not change the rounds either."""
    sections = {
        **IMPERFECT,
        "orchestrator": {
            "poll_interval": poll_interval,
            "outages": {"scripted": [{"at": 100.0, "down_for": 7.5}]},
        },
    }
    check_same_rounds(monkeypatch, Scenario.from_mapping(chain(seed, sections)))


def check_same_walks(monkeypatch, scenario):
    world = draw_world(scenario, 0)
    monkeypatch.setattr("sim.model.designs.WALK_ALL_BELOW", 0)  # a small chain's database
    for design in scenario.designs:
        indexed = simulate(world, scenario.stores, design)
        with monkeypatch.context() as patch:
            patch.setattr(DatabaseQueue, "_may_move", walk_every_order)
            patch.setattr(Database, "orders_of", orders_of_by_scan)
            walked = simulate(world, scenario.stores, design)
        assert pd.DataFrame(indexed.timeline).equals(pd.DataFrame(walked.timeline))
        pd.testing.assert_frame_equal(indexed.orders_frame(world), walked.orders_frame(world))
        assert sum(walked.moves) > 0


@pytest.mark.parametrize("strategy", ["ring", "modulo", "maglev"])
@pytest.mark.parametrize("ack_delay", [0.0, 0.5])
@pytest.mark.parametrize("seed", [5, 6])
def test_redistribution_walking_only_what_can_move_changes_nothing(
    monkeypatch, strategy, ack_delay, seed
):
    """Under `all` only orders whose store changed or that their store no longer holds
    are walked; under `owned` the orders of stores out come from the database's index."""
    scripted = [{"store": s, "at": 50.0, "down_for": 3.0} for s in range(0, 30, 2)]
    sections = crashes(1.0, 2, 20.0, 4.0, scripted, strategy, ack_delay=ack_delay, table_size=251)
    check_same_walks(monkeypatch, Scenario.from_mapping(chain(seed, sections, count=30)))


@pytest.mark.parametrize("strategy", ["ring", "maglev"])
@pytest.mark.parametrize("seed", [7, 8])
def test_redistribution_walks_under_imperfect_failures(monkeypatch, strategy, seed):
    """Fenced stores drop what they hold, D writes wait out database outages, restarts
    send orders again and leases run out: the walks still find every order that can
    move."""
    sections = {
        **IMPERFECT,
        "balancer": {"strategy": strategy, "vnodes": 20, "table_size": 251},
        "orchestrator": {"poll_interval": 1.0, "misses": 2},
    }
    check_same_walks(monkeypatch, Scenario.from_mapping(chain(seed, sections, count=30)))
