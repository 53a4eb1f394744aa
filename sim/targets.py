"""A plan's targets: `metric op number`, read when the scenario is checked.

A target holds "with 95% confidence" when the whole confidence interval of the metric's
mean across replications meets it: for `<=` the upper end is at most the number, for
`>=` the lower end at least it, for `==` every replication gave exactly the number.
This is part of the scenario layer (the checks read targets); running a plan is
`sim.plan`'s.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sim.cost import cost_problems
from sim.errors import Problem
from sim.metrics import METRICS, bounded_interval
from sim.suggest import did_you_mean

_TARGET = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|==|<|>)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}

#: The most values (grid points) an exhaustive plan (a cost, or two keys) may run.
MAX_PLAN_POINTS = 400


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
        mean, low, high, _ = bounded_interval(self.metric, values, confidence)
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
        hint = did_you_mean(metric, METRICS) or f" (one of {', '.join(METRICS)})"
        raise ValueError(f"{text!r}: unknown metric {metric!r}{hint}")
    return Target(metric, op, float(bound))


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
