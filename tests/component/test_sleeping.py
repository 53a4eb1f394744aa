"""The orchestrator polls only the stores it watches, and sleeps while it watches none;
the result must be exactly that of polling every store at every interval."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.model import simulate
from sim.model.orchestrator import Orchestrator
from sim.scenario import Scenario
from sim.world import draw_world


def poll_every_store(self):
    """Orchestrator.poll_once as the seed describes it: every store, every round."""
    now, down = self.env.now, []
    for store, detector in zip(self.stores, self.detectors, strict=True):
        if store.up:
            self.last_answer[store.index] = now
        verdict = detector.observe(store.up)
        if verdict == "down":
            delay = now - self.went_silent(store)
            self.recorder.event(now, "detected_down", store.index, detection_delay=delay)
            down.append(store)
        elif verdict == "up":
            self.recorder.event(now, "detected_up", store.index)
            self.on_up(store)
    if down:
        self.on_down(down)


def every_round(self, event):
    self.poll_once()
    self._schedule(event.tick + 1)


def run_both(monkeypatch, scenario):
    world = draw_world(scenario, 0)
    for design in scenario.designs:
        watching = simulate(world, scenario.stores, design)
        with monkeypatch.context() as patch:
            patch.setattr(Orchestrator, "poll_once", poll_every_store)
            patch.setattr(Orchestrator, "_poll", every_round)
            patch.setattr(Orchestrator, "watch", lambda self, store: None)
            patch.setattr(Orchestrator, "start", lambda self: self._schedule(1))
            polling = simulate(world, scenario.stores, design)
        assert pd.DataFrame(watching.timeline).equals(pd.DataFrame(polling.timeline))
        pd.testing.assert_frame_equal(watching.orders_frame(world), polling.orders_frame(world))
        assert any(event[1] == "detected_down" for event in polling.timeline)
        assert any(event[1] == "detected_up" for event in polling.timeline)


def scenario_of(
    seed, count, poll_interval, misses, mtbf, mttr, scripted, strategy="ring", **balancer
):
    return Scenario.from_mapping(
        {
            "name": "watch",
            "seed": seed,
            "duration": 200.0,
            "drain": 50.0,
            "stores": {"count": count, "workers": 2},
            "orders": {
                "online": {"rate": 0.25 * count},
                "offline": {"rate": 0.05},
                "prep_time": {"dist": "exponential", "mean": 3},
            },
            "failures": {"mtbf": mtbf, "mttr": mttr, "scripted": scripted},
            "database": {"ack_delay": balancer.pop("ack_delay", 0.5)},
            "orchestrator": {"poll_interval": poll_interval, "misses": misses},
            "balancer": {"strategy": strategy, "vnodes": 20, **balancer},
            "designs": {
                "all": {"queue": "db"},
                "owned": {"queue": "db", "orchestrator": {"redistribute": "owned"}},
            },
        }
    )


@pytest.mark.parametrize("poll_interval", [0.1, 0.7, 1.0, 3.0])
@pytest.mark.parametrize("misses", [1, 3])
@pytest.mark.parametrize("seed", [1, 2])
def test_watching_changes_nothing(monkeypatch, poll_interval, misses, seed):
    scripted = [
        {"store": 1, "at": 10.0, "down_for": 0.3},  # between two polls, or seen once
        {"store": 2, "at": 21.0, "down_for": 5.0},
        {"store": 2, "at": 26.5, "down_for": 0.2},  # crashes again soon after recovering
    ]
    run_both(monkeypatch, scenario_of(seed, 4, poll_interval, misses, 30.0, 2.0, scripted))


@pytest.mark.parametrize("strategy", ["ring", "modulo", "jump"])
@pytest.mark.parametrize("seed", [3, 4])
def test_watching_a_chain_where_stores_are_always_down(monkeypatch, strategy, seed):
    """Forty stores, about a third of them down at any time, and the whole chain down at
    once for a while (no members: orders wait in the database)."""
    scripted = [{"store": s, "at": 100.0, "down_for": 4.0 + s % 3} for s in range(40)]
    scenario = scenario_of(seed, 40, 1.0, 2, 10.0, 5.0, scripted, strategy)
    run_both(monkeypatch, scenario)


def walk_every_order(self):
    """DatabaseQueue._may_move's stand-in: None, so that every N order is walked, as the
    seed describes."""


def orders_of_by_scan(self, stores):
    """Database.orders_of without the index: scan every N order."""
    wanted = set(stores)
    return sorted(o for o in self.open if self.recorder.sent_to[o] in wanted)


@pytest.mark.parametrize("strategy", ["ring", "modulo", "maglev"])
@pytest.mark.parametrize("ack_delay", [0.0, 0.5])
@pytest.mark.parametrize("seed", [5, 6])
def test_redistribution_walking_only_what_can_move_changes_nothing(
    monkeypatch, strategy, ack_delay, seed
):
    """Under `all` only orders whose store changed or that their store no longer holds
    are walked; under `owned` the orders of stores out come from the database's index."""
    from sim.model.database import Database
    from sim.model.designs import DatabaseQueue

    scripted = [{"store": s, "at": 50.0, "down_for": 3.0} for s in range(0, 30, 2)]
    scenario = scenario_of(
        seed, 30, 1.0, 2, 20.0, 4.0, scripted, strategy, ack_delay=ack_delay, table_size=251
    )
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
