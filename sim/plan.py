"""Capacity planning: the smallest value of an integer key for which every target holds.

A target reads `metric op number` (`latency_p99 <= 30`, `lost == 0`). It holds "with 95%
confidence" when the whole confidence interval of the metric's mean across replications
meets it: for `<=` the upper end is at most the number, for `>=` the lower end at least
it, for `==` every replication gave exactly the number.

The search assumes the targets get easier as the key grows (more stores, more workers):
it checks the top of the range, then the bottom, then bisects; the answer's neighbour
below was seen to fail, so the answer is the smallest, and the value above is checked
too, as evidence that the targets do get easier.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from sim.executors import Runner
from sim.experiment import run
from sim.metrics import METRICS
from sim.scenario import Scenario
from sim.stats import mean_interval
from sim.sweep import apply_key, plain_mapping

_TARGET = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|==|<|>)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Target:
    """One target: `metric op bound`."""

    metric: str
    op: str
    bound: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def judge(self, values: list[float], confidence: float) -> tuple[bool, float, float, float]:
        """Whether the target holds for these per-replication values, and the mean and
        interval it was judged on."""
        mean, low, high, _ = mean_interval(values, confidence)
        if math.isnan(mean):
            return False, mean, low, high
        if self.op == "==":
            return all(v == self.bound for v in values), mean, low, high
        if math.isnan(low):  # one replication: no interval, no confidence
            return False, mean, low, high
        edge = high if self.op in ("<=", "<") else low
        return _OPS[self.op](edge, self.bound), mean, low, high


def parse_target(text: str) -> Target:
    """`"latency_p99 <= 30"` as a Target; ValueError naming what is wrong."""
    match = _TARGET.match(text)
    if match is None:
        raise ValueError(f"{text!r}: expected 'metric op number', op one of <=, >=, <, >, ==")
    metric, op, bound = match.groups()
    if metric not in METRICS:
        raise ValueError(f"{text!r}: unknown metric {metric!r} (one of {', '.join(METRICS)})")
    return Target(metric, op, float(bound))


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


def plan(scenario: Scenario, runner: Runner | None = None, progress: bool = False):
    """Run the scenario's plan: (the smallest feasible value or None, the evaluations)."""
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

    return search(spec.low, spec.high, run_value)


def plan_cell(scenario: Scenario, value: int) -> Scenario:
    """The scenario with the plan's key set to `value`, keeping only the plan's design."""
    spec = scenario.plan
    data = plain_mapping(scenario)
    design = spec.design or scenario.designs[0].name
    data["designs"] = {design: data["designs"][design]}
    apply_key(data, spec.key, value)
    return Scenario.from_mapping(data)
