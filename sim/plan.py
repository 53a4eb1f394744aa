"""Capacity planning: the smallest value of an integer key for which every target holds.

A target reads `metric op number` (`latency_p99 <= 30`, `lost == 0`). It holds "with 95%
confidence" when the whole confidence interval of the metric's mean across replications
meets it: for `<=` the upper end is at most the number, for `>=` the lower end at least
it, for `==` every replication gave exactly the number.

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
import math
import operator
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from sim.cost import capacity_cost, cost_problems, replication_costs, summarize_cost
from sim.errors import Problem
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


#: The most values (grid points) an exhaustive plan may run.
MAX_PLAN_POINTS = 400


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


def plan(scenario: Scenario, runner: Runner | None = None, progress: bool = False):
    """Run the scenario's plan: (the answer or None, the evaluations). The answer is the
    smallest feasible value, or with a cost the cheapest (a tuple for a grid)."""
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
        return cheapest(grid_values(spec.ranges), run_value)
    ((low, high),) = spec.ranges
    return search(low, high, run_value)


def grid_values(ranges: list[tuple[int, int]]) -> list:
    """Every value of one key, or every point (a tuple) of a grid of two."""
    spans = [range(low, high + 1) for low, high in ranges]
    if len(spans) == 1:
        return list(spans[0])
    return list(itertools.product(*spans))


def _shown(keys: list[str], value) -> str:
    values = value if isinstance(value, tuple) else (value,)
    return ", ".join(f"{key} = {v}" for key, v in zip(keys, values, strict=True))


def plan_cell(scenario: Scenario, value) -> Scenario:
    """The scenario with the plan's key set to `value` (keys to a tuple of values, for a
    grid), keeping only the plan's design."""
    spec = scenario.plan
    data = plain_mapping(scenario)
    design = spec.design or scenario.designs[0].name
    data["designs"] = {design: data["designs"][design]}
    values = tuple(value) if isinstance(value, list | tuple) else (value,) * len(spec.keys)
    for key, one in zip(spec.keys, values, strict=True):
        apply_key(data, key, one)
    return Scenario.from_mapping(data)


def plan_range_problems(plan, raw) -> Iterator[Problem]:
    """Bounds ordered, one per key; a grid needs a cost and must not be too large; prices
    must name numeric keys."""
    keys, ranges = plan.keys, plan.ranges
    for name in ("low", "high"):
        bound = getattr(plan, name)
        if isinstance(bound, list) and len(bound) != len(keys):
            yield Problem(("plan", name), f"give one bound per key ({len(keys)})")
    for index, (low, high) in enumerate(ranges):
        if low > high:
            where = ("plan", "high", index) if isinstance(plan.high, list) else ("plan", "high")
            yield Problem(where, f"must be at least low ({low})")
    if len(set(keys)) < len(keys):
        yield Problem(("plan", "key"), "the two keys must differ")
    if len(keys) > 1 and plan.cost is None:
        yield Problem(("plan", "cost"), "required with two keys: the cheapest point is the answer")
    points = math.prod(max(0, high - low + 1) for low, high in ranges)
    if (plan.cost is not None or len(keys) > 1) and points > MAX_PLAN_POINTS:
        yield Problem(
            ("plan", "high"),
            f"{points} values to run (with a cost every value runs); the limit is "
            f"{MAX_PLAN_POINTS}",
        )
    yield from cost_problems(plan.cost, raw.model_dump(mode="json"), raw.orders.sla)
