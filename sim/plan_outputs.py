"""What a plan with a cost (or over a grid of two keys) writes and prints: `cost.csv`,
one row per value run with its cost, and a text of every value's cost and the cheapest.
The figures are `sim.plots.plan_cost` and `sim.plots.feasible_region`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.cost_charts import cost_frame
from sim.plan import Evaluation, PlanResults
from sim.table import format_number

COST_COLUMNS = ("cost_low", "cost_mean", "cost_high")


def _values(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def write_cost(results: PlanResults, folder: Path, figure) -> list[str]:
    """cost.csv and its figure (cost.png for one key, feasible_region.png for two), each
    written by `figure(fig, path)`."""
    from sim import plots  # matplotlib is imported only to draw

    cost_frame(results).to_csv(folder / "cost.csv", index=False)
    if len(results.scenario.plan.keys) == 1:
        figure(plots.plan_cost(results), folder / "cost.png")
        return ["cost.csv", "cost.png"]
    figure(plots.feasible_region(results), folder / "feasible_region.png")
    return ["cost.csv", "feasible_region.png"]


def format_cost_plan(scenario, answer, evaluations: list[Evaluation]) -> str:
    """Every value run: its targets, its cost; then the cheapest value meeting them."""
    spec = scenario.plan
    keys = spec.keys
    ranges = ", ".join(
        f"{k} in [{lo}, {hi}]" for k, (lo, hi) in zip(keys, spec.ranges, strict=True)
    )
    lines = [
        f"{scenario.name}: cheapest {' x '.join(keys)} ({ranges}) meeting every target with "
        f"{spec.confidence:.0%} confidence",
        "",
    ]
    for evaluation in evaluations:
        lines += _evaluation_lines(keys, evaluation)
    lines.append("")
    if answer is None:
        lines.append("No value meets every target.")
    else:
        best = next(e for e in evaluations if e.value == answer)
        lines.append(
            f"Answer: {_shown(keys, answer)}, the cheapest meeting every target "
            f"(cost {format_number(best.cost['cost_mean'])} per run)."
        )
    return "\n".join(lines)


def _evaluation_lines(keys: list[str], evaluation: Evaluation) -> list[str]:
    """One value: met or not, its cost and interval, and the targets it missed."""
    verdict = "meets" if evaluation.feasible else "misses"
    cost = evaluation.cost or {}
    low, mean, high = (format_number(cost.get(k, np.nan)) for k in COST_COLUMNS)
    lines = [f"  {_shown(keys, evaluation.value)}: {verdict}; cost {mean}, 95% CI [{low}, {high}]"]
    missed = [row["target"] for row in evaluation.rows if not row["met"]]
    if missed:
        lines.append(f"      missed: {'; '.join(missed)}")
    return lines


def _shown(keys: list[str], value) -> str:
    return ", ".join(f"{k} = {v}" for k, v in zip(keys, _values(value), strict=True))

