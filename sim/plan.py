"""Capacity planning: the smallest value of an integer key for which every target holds.

Targets (`latency_p99 <= 30`, `lost == 0`) are read and judged by `sim.targets`, and the
scenario at one value of the key is `sim.sweep.plan_cell`: both belong to the scenario
layer, which checks them when the file is loaded.

The search assumes the targets get easier as the key grows (more stores, more workers):
it checks the top of the range, then the bottom, then bisects; the answer's neighbour
below was seen to fail, so the answer is the smallest, and the value above is checked
too, as evidence that the targets do get easier.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from sim.executors import Runner
from sim.experiment import run
from sim.scenario import Scenario
from sim.sweep import plan_cell
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
    """What one value of the key gave: per target, whether it held and on what numbers."""

    value: int
    rows: list[dict]

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


def evidence(key: str, evaluations: list[Evaluation], answer: int | None) -> pd.DataFrame:
    """One row per value tried and target, as in plan.csv: key, value, target, metric,
    mean, ci_low, ci_high, n, met, answer."""
    frame = pd.DataFrame([row for evaluation in evaluations for row in evaluation.rows])
    frame.insert(0, "key", key)
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
    """What a plan found: the smallest value meeting every target (None if none does),
    and the evaluation of every value run, in order of value."""

    scenario: Scenario
    answer: int | None
    evaluations: list[Evaluation]

    @property
    def evidence(self) -> pd.DataFrame:
        """One row per value tried and target, as in plan.csv."""
        return evidence(self.scenario.plan.key, self.evaluations, self.answer)


def plan(scenario: Scenario, runner: Runner | None = None, progress: bool = False) -> PlanResults:
    """Run the scenario's plan: the smallest feasible value (or None) and the evidence."""
    spec = scenario.plan
    if spec is None:
        raise ValueError("the scenario has no plan")
    design = spec.design or scenario.designs[0].name
    targets = [parse_target(text) for text in spec.targets]

    def run_value(value: int) -> Evaluation:
        results = run(plan_cell(scenario, value), runner=runner)
        evaluation = evaluate(value, results.replications, design, targets, spec.confidence)
        if progress:
            verdict = "meets" if evaluation.feasible else "misses"
            print(f"  {spec.key} = {value}: {verdict} the targets", file=sys.stderr)
        return evaluation

    answer, evaluations = search(spec.low, spec.high, run_value)
    return PlanResults(scenario, answer, evaluations)
