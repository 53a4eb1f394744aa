"""The failure-mode keys: refused cleanly when wrong, drawn in the world when right, and
leaving every existing random stream alone."""

from __future__ import annotations

import numpy as np
import pytest
from test_loading import MINIMAL, refusal, write

from sim.loading import load_scenario
from sim.scenario import Scenario, ScenarioError
from sim.schedules import lost_polls
from sim.world import draw_world


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [
        ("network: {poll_loss: 1.0}\n", "network.poll_loss", "less than 1"),
        (
            "network: {partitions: {scripted: [{store: 5, at: 1, for: 2}]}}\n",
            "network.partitions.scripted.0.store",
            "no store 5",
        ),
        (
            "network: {partitions: {scripted: [{store: 0, at: 1}]}}\n",
            "network.partitions.scripted.0.for",
            "Field required",
        ),
        (
            "failures: {groups: [{stores: [0, 7], mtbf: 10, mttr: 1}]}\n",
            "failures.groups.0.stores.1",
            "no store 7",
        ),
        ("failures: {groups: [{stores: []}]}\n", "failures.groups.0.stores", "at least 1"),
        ("failures: {slowdowns: {mtbf: 10}}\n", "failures.slowdowns.mttr", "required"),
        ("failures: {slowdowns: {factor: 0.5}}\n", "failures.slowdowns.factor", "greater than"),
        (
            "database: {outages: {scripted: [{at: 500, down_for: 1}]}}\n",
            "database.outages.scripted.0.at",
            "not before the end",
        ),
        ("database: {when_down: queue}\n", "database.when_down", "'reject' or 'retry'"),
        ("orchestrator: {outages: {mttr: 3}}\n", "orchestrator.outages.mtbf", "required"),
        ("orchestrator: {max_age: 0}\n", "orchestrator.max_age", "greater than 0"),
        (
            "designs: {mq: {queue: db, database: {outages: {mtbf: 5, mttr: 1}}}}\n",
            "designs.mq.database.outages",
            "belongs to the world",
        ),
        (
            "designs: {mq: {queue: db, orchestrator: {outages: {mtbf: 5, mttr: 1}}}}\n",
            "designs.mq.orchestrator.outages",
            "belongs to the world",
        ),
        (
            "designs: {mq: {queue: db, database: {when_down: retry}}}\n",
            "designs.mq.database.when_down",
            "belongs to the world",
        ),
    ],
)
def test_a_wrong_failure_mode_is_refused_naming_its_key_and_line(tmp_path, extra, where, message):
    path = write(tmp_path, MINIMAL + extra)
    error = refusal(path)
    assert where in [p.dotted for p in error.problems], error.lines
    line = next(line for line in error.lines if f" {where}: " in line)
    assert message in line
    assert line.startswith(f"{path}:")


def test_design_settings_may_differ_by_design(tmp_path):
    path = write(
        tmp_path,
        MINIMAL
        + "orchestrator: {max_age: 30}\n"
        + "designs: {mq: {queue: db}, fenced: {queue: db, orchestrator: {fencing: true,"
        + " incarnations: true, max_age: 5}}}\n",
    )
    scenario = load_scenario(path)
    plain, fenced = scenario.designs
    assert (plain.orchestrator.max_age, plain.orchestrator.fencing) == (30.0, False)
    assert (fenced.orchestrator.max_age, fenced.orchestrator.incarnations) == (5.0, True)


FULL = {
    "name": "modes",
    "seed": 4,
    "duration": 300.0,
    "drain": 50.0,
    "stores": {"count": 3, "workers": 2},
    "orders": {"online": {"rate": 1.0}, "prep_time": {"dist": "exponential", "mean": 3}},
    "failures": {
        "mtbf": 50.0,
        "mttr": 5.0,
        "groups": [{"stores": [0, 2], "mtbf": 80.0, "mttr": 4.0}],
        "slowdowns": {
            "mtbf": 60.0,
            "mttr": 10.0,
            "scripted": [{"store": 1, "at": 5.0, "for": 3.0}],
        },
    },
    "network": {"poll_loss": 0.1, "partitions": {"mtbf": 70.0, "mttr": 2.0}},
    "database": {"outages": {"mtbf": 90.0, "mttr": 3.0}, "when_down": "retry"},
    "orchestrator": {"outages": {"scripted": [{"at": 10.0, "down_for": 2.0}]}},
    "designs": {"mq": {"queue": "db", "orchestrator": {"fencing": True}}, "ram": {"queue": "ram"}},
}


def test_the_scenario_as_run_reads_back_the_same():
    scenario = Scenario.from_mapping(FULL)
    again = Scenario.from_mapping(scenario.to_mapping())
    assert again == scenario
    assert again.to_mapping()["database"] == {
        "outages": {"mtbf": 90.0, "mttr": 3.0, "scripted": []},
        "when_down": "retry",
    }


def test_failure_modes_leave_the_existing_streams_alone():
    """Orders and each store's own crashes are the same with and without the modes; the
    group's outages are added to its members."""
    plain = dict(
        FULL, failures={"mtbf": 50.0, "mttr": 5.0}, network={}, database={}, orchestrator={}
    )
    a, b = draw_world(Scenario.from_mapping(plain), 2), draw_world(Scenario.from_mapping(FULL), 2)
    assert np.array_equal(a.arrival, b.arrival)
    assert np.array_equal(a.prep, b.prep)
    assert a.outages[1] == b.outages[1]  # store 1 is in no group
    for store in (0, 2):  # the store's own outages, inside the merged ones
        for start, end in a.outages[store]:
            assert any(s <= start and end <= e for s, e in b.outages[store])
    assert b.outages[0] != a.outages[0]
    assert (a.partitions, a.slowdowns, a.lost_polls, a.database_outages) == ((), (), (), ())
    assert len(b.partitions) == len(b.slowdowns) == len(b.lost_polls) == 3
    assert len(b.database_outages) > 0
    assert b.orchestrator_outages == ((10.0, 12.0),)
    assert b.slowdowns[1][0] == (5.0, 8.0, 3.0)


def test_lost_polls_are_independent_with_probability_p_and_do_not_depend_on_the_count():
    p = 0.2
    ticks = lost_polls(np.random.default_rng(1), p, 200_000)
    assert np.all(np.diff(ticks) > 0)
    assert 1 <= ticks[0] <= ticks[-1] <= 200_000
    share = len(ticks) / 200_000
    assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / 200_000)
    fewer = lost_polls(np.random.default_rng(1), p, 1_000)
    assert np.array_equal(fewer, ticks[ticks <= 1_000])
    assert len(lost_polls(np.random.default_rng(1), 0.0, 1_000)) == 0


def test_churn_from_lost_answers_is_bounded_like_crashes():
    """Each lost answer is a store visited in a round, and each false detection changes
    the balancer twice and redistributes: a large chain polled often with half its answers
    lost is refused by the size check, naming the key to change."""
    data = {
        "name": "churn",
        "duration": 100_000.0,
        "stores": {"count": 1000},
        "orders": {"online": {"rate": 1.0}, "prep_time": {"dist": "exponential", "mean": 1}},
        "network": {"poll_loss": 0.5},
        "orchestrator": {"poll_interval": 0.02},
    }
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_mapping(data)
    [problem] = caught.value.problems
    assert problem.dotted == "network.poll_loss"
    assert "would take about" in problem.message
    assert "mostly lost polls" in problem.message
    assert "failure modes" in problem.message  # the false detections' share
