"""Capacity planning: the smallest value of an integer key for which every target holds.

Targets (`latency_p99 <= 30`, `lost == 0`) are read and judged by `sim.targets`, and the
scenario at one value of the key is `sim.sweep.plan_cell`: both belong to the scenario
layer, which checks them when the file is loaded.

The search assumes the targets get easier as the key grows (more stores, more workers):
it checks the top of the range, then the bottom, then bisects; the answer's neighbour
below was seen to fail, so the answer is the smallest, and the value above is checked
too, as evidence that the targets do get easier.

With a `cost` (see `sim.cost`), or with two keys, every value (every point of the grid)
is run, since cost need not fall or rise with the key: the answer is the value meeting
every target whose mean cost is lowest (ties: the first in grid order).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from sim.cost import capacity_cost, replication_costs, summarize_cost
from sim.executors import Runner
from sim.experiment import run
from sim.scenario import Scenario
from sim.sweep import plain_mapping, plan_cell
from sim.targets import Target, parse_target

__all__ = [
    "Evaluation",
    "PlanResults",
    "Target",
    "evaluate",
    "evidence",
    "parse_target",
    "plan",
    "search",
]


@dataclass(frozen=True)
class Evaluation:
    """What one value of the key gave (a tuple of values for a grid): per target, whether
    it held and on what numbers; with a cost, its mean and interval."""

    value: int | tuple[int, ...]
    rows: list[dict]
    cost: dict[str, float] | None = None

    @property
    def feasible(self) -> bool:
        return all(row["met"] for row in self.rows)


def evaluate(
    value: int, replications: pd.DataFrame, design: str, targets: list[Target], confidence: float
) -> Evaluation:
    """Judge every target on one design's replications."""
    mine = replications[replications["design"] == design]
    rows = []
    for target in targets:
        values = mine[target.metric].astype(float).tolist()
        met, mean, low, high = target.judge(values, confidence)
        rows.append(
            {
                "value": value,
                "target": str(target),
                "metric": target.metric,
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "n": len(values),
                "met": met,
            }
        )
    return Evaluation(value, rows)


def evidence(key, evaluations: list[Evaluation], answer) -> pd.DataFrame:
    """One row per value tried and target, as in plan.csv: key, value, target, metric,
    mean, ci_low, ci_high, n, met, answer. For a grid (`key` a list of two), a column per
    key holds the point's values instead of key and value, and `answer` is left out."""
    frame = pd.DataFrame([row for evaluation in evaluations for row in evaluation.rows])
    if isinstance(key, list) and len(key) > 1:
        points = frame.pop("value").tolist()
        for index, name in reversed(list(enumerate(key))):
            frame.insert(0, name, [point[index] for point in points])
        return frame
    frame.insert(0, "key", key if isinstance(key, str) else key[0])
    frame["answer"] = answer
    return frame


def search(low: int, high: int, run: Callable[[int], Evaluation]) -> tuple[int | None, list]:
    """The smallest feasible value in [low, high] by bisection, with the evaluations made
    (each value is run once). None if even `high` is not feasible."""
    seen: dict[int, Evaluation] = {}

    def feasible(value: int) -> bool:
        if value not in seen:
            seen[value] = run(value)
        return seen[value].feasible

    if not feasible(high):
        return None, list(seen.values())
    if feasible(low):
        answer = low
    else:
        bad, good = low, high
        while good - bad > 1:
            middle = (bad + good) // 2
            if feasible(middle):
                good = middle
            else:
                bad = middle
        answer = good
    if answer + 1 <= high:
        feasible(answer + 1)  # evidence that the targets get easier above the answer
    return answer, [seen[v] for v in sorted(seen)]


@dataclass(frozen=True)
class PlanResults:
    """What a plan found and the evaluation of every value run, in order of value (of
    grid point). The answer is the smallest value meeting every target, or with a cost
    the cheapest such value (a tuple for a grid); None if no value meets them."""

    scenario: Scenario
    answer: int | tuple[int, ...] | None
    evaluations: list[Evaluation]

    @property
    def evidence(self) -> pd.DataFrame:
        """One row per value tried and target, as in plan.csv."""
        return evidence(self.scenario.plan.key, self.evaluations, self.answer)


def cheapest(values: list, run: Callable[[object], Evaluation]) -> tuple[object, list]:
    """Run every value; the feasible one of lowest mean cost (None if none is feasible)."""
    evaluations = [run(value) for value in values]
    feasible = [e for e in evaluations if e.feasible and e.cost is not None]
    best = min(feasible, key=lambda e: e.cost["cost_mean"], default=None)
    return (None if best is None else best.value), evaluations


def exhaustive(scenario: Scenario) -> bool:
    """Whether the plan runs every value (a cost, or a grid) rather than bisecting."""
    spec = scenario.plan
    return spec.cost is not None or len(spec.keys) > 1


def plan(scenario: Scenario, runner: Runner | None = None, progress: bool = False) -> PlanResults:
    """Run the scenario's plan: the answer (or None) and the evidence."""
    spec = scenario.plan
    if spec is None:
        raise ValueError("the scenario has no plan")
    design = spec.design or scenario.designs[0].name
    targets = [parse_target(text) for text in spec.targets]

    def run_value(value) -> Evaluation:
        cell = plan_cell(scenario, value)
        results = run(cell, runner=runner)
        evaluation = evaluate(value, results.replications, design, targets, spec.confidence)
        if spec.cost is not None:
            mine = results.replications[results.replications["design"] == design]
            capacity = capacity_cost(spec.cost, plain_mapping(cell), cell.horizon)
            costs = replication_costs(spec.cost, mine, capacity)
            evaluation = Evaluation(value, evaluation.rows, summarize_cost(costs, spec.confidence))
        if progress:
            verdict = "meets" if evaluation.feasible else "misses"
            print(f"  {_shown(spec.keys, value)}: {verdict} the targets", file=sys.stderr)
        return evaluation

    if exhaustive(scenario):
        answer, evaluations = cheapest(grid_values(spec.ranges), run_value)
    else:
        ((low, high),) = spec.ranges
        answer, evaluations = search(low, high, run_value)
    return PlanResults(scenario, answer, evaluations)


def grid_values(ranges: list[tuple[int, int]]) -> list:
    """Every value of one key, or every point (a tuple) of a grid of two."""
    spans = [range(low, high + 1) for low, high in ranges]
    if len(spans) == 1:
        return list(spans[0])
    return list(itertools.product(*spans))


def _shown(keys: list[str], value) -> str:
    values = value if isinstance(value, tuple) else (value,)
    return ", ".join(f"{key} = {v}" for key, v in zip(keys, values, strict=True))

