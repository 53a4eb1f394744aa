"""Plans with a cost: prices, the cheapest value meeting the targets, and grids of two keys.

The case is built so that the answer is known: one store, four walk-ins at t = 0 that
take 10 each, an SLA of 15, a run of 50. With `w` workers, `w` orders finish at 10 and the
others at 20 or later: 4 - w are late (w <= 4), `sla_missed` is (4 - w) / 4. At 0.2 per
worker per time unit (10 w per run) and 12 per late order, a run costs 48 - 2 w for w <= 4
and 10 w from then on: 46, 44, 42, 40, 50 for w = 1..5. The target `sla_missed <= 0.6`
rules out w = 1. The smallest feasible value is 2; the cheapest is 4.
"""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import sim
import sim.plots
from sim.errors import ScenarioError
from sim.plan import plan

SCENARIO = """\
name: cheapest
duration: 1
drain: 49
replications: 3
stores: {count: 1, workers: 1}
orders:
  trace: log.csv
  prep_time: {dist: deterministic, mean: 10}
  sla: 15
designs:
  mq: {queue: db}
plan:
  key: stores.workers
  low: 1
  high: 5
  targets: ["sla_missed <= 0.6"]
  cost:
    per: {stores.workers: 0.2}
    late: 12
"""


@pytest.fixture
def path(tmp_path):
    (tmp_path / "log.csv").write_text("time,kind,store\n" + "0,offline,0\n" * 4)
    path = tmp_path / "cheapest.yaml"
    path.write_text(SCENARIO)
    return path


def test_the_cheapest_feasible_value_is_the_answer(path):
    found = plan(sim.load_scenario(path))
    answer, evaluations = found.answer, found.evaluations
    costs = {e.value: e.cost["cost_mean"] for e in evaluations}
    assert costs == pytest.approx({1: 46.0, 2: 44.0, 3: 42.0, 4: 40.0, 5: 50.0})
    assert [e.feasible for e in evaluations] == [False, True, True, True, True]
    assert answer == 4
    assert evaluations[3].cost["cost_low"] == evaluations[3].cost["cost_high"] == 40.0


def test_without_a_cost_the_smallest_feasible_value_is_the_answer(path):
    answer = plan(sim.load_scenario(path, plan__cost=None)).answer
    assert answer == 2


def test_the_command_line_prints_every_cost_and_writes_cost_png(path, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "plan", str(path), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "stores.workers = 2: meets; cost 44, 95% CI [44, 44]" in done.stdout
    assert "Answer: stores.workers = 4, the cheapest meeting every target (cost 40" in done.stdout
    assert pd.read_csv(out / "cost.csv")["cheapest"].tolist() == [False, False, False, True, False]
    assert {"plan.png", "cost.png"} <= {p.name for p in out.iterdir()}


def test_a_grid_of_two_keys_finds_the_cheapest_point(path):
    """A second store costs 1 per time unit (50 per run) and changes nothing for walk-ins
    of store 0: the cheapest point is one store with four workers."""
    scenario = sim.load_scenario(
        path,
        plan__key=["stores.count", "stores.workers"],
        plan__low=[1, 1],
        plan__high=[2, 5],
        plan__cost={"per": {"stores.workers": 0.2, "stores.count": 1.0}, "late": 12},
        stores__workers=1,
    )
    found = plan(scenario)
    answer, evaluations = found.answer, found.evaluations
    assert answer == (1, 4)
    assert len(evaluations) == 10
    costs = {e.value: e.cost["cost_mean"] for e in evaluations}
    # Two stores (100 a run) of four workers (eight paid for: 80), no order late.
    assert costs[(2, 4)] == pytest.approx(100 + 80)
    assert costs[(1, 4)] == pytest.approx(50 + 40)
    # The figure of the plots API: drawn from the PlanResults, into a given axes too.
    figure = sim.plots.feasible_region(found)
    assert [t.get_text() for t in figure.axes[0].texts].count("90") == 1
    outer = plt.figure()
    assert sim.plots.feasible_region(found, ax=outer.add_subplot()) is outer
    plt.close("all")


def test_the_cost_figure_marks_the_cheapest_value(path):
    found = plan(sim.load_scenario(path))
    figure = sim.plots.plan_cost(found)
    ax = figure.axes[0]
    ringed = ax.collections[-1].get_offsets()
    assert ringed.tolist() == [[4.0, 40.0]]
    assert ax.get_xlabel() == "stores.workers"
    plt.close(figure)


def test_the_command_line_writes_the_costs_and_the_region(path, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "plan",
            str(path),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "plan.key=[stores.count, stores.workers]",
            "--set",
            "plan.low=[1, 1]",
            "--set",
            "plan.high=[2, 5]",
            "--set",
            "stores.workers=1",
            "--set",
            "plan.cost={per: {stores.workers: 0.2, stores.count: 1.0}, late: 12}",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Answer: stores.count = 1, stores.workers = 4, the cheapest" in done.stdout
    cost = pd.read_csv(out / "cost.csv")
    assert cost.loc[cost["cheapest"], ["stores.count", "stores.workers"]].values.tolist() == [
        [1, 4]
    ]
    assert (out / "feasible_region.png").stat().st_size > 0
    assert list(pd.read_csv(out / "plan.csv").columns[:3]) == [
        "stores.count",
        "stores.workers",
        "target",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"plan__key": ["stores.count", "stores.workers"], "plan__cost": None},
            "required with two keys",
        ),
        ({"plan__cost": {"per": {"stores.colour": 1}}}, "stores.colour: not a key"),
        ({"plan__cost": {"late": 1}, "orders__sla": None}, "needs orders.sla"),
        ({"plan__cost": {"lost": -1}}, "greater than or equal to 0"),
        ({"plan__high": 1000}, "the limit is 400"),
        ({"plan__low": [1, 2]}, "give one bound per key"),
    ],
)
def test_bad_cost_plans_are_refused(path, overrides, message):
    with pytest.raises(ScenarioError) as caught:
        sim.load_scenario(path, **overrides)
    assert any(message in line for line in caught.value.lines), caught.value.lines
