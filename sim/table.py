"""The comparison table printed after a run: per design, each metric's mean and 95% CI."""

from __future__ import annotations

import math

import pandas as pd

from sim.scenario import Scenario

#: Metrics measured in the scenario's time unit.
TIMED = {
    "wasted_work",
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "detection_delay",
}


def format_number(value: float) -> str:
    """Counts without decimals when whole, other values to four significant digits."""
    if math.isnan(value):
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def format_summary(summary: pd.DataFrame, scenario: Scenario) -> str:
    """A block per design: metric, mean, and the 95% confidence interval."""
    unit = scenario.time_unit
    lines = [
        f"{scenario.name}: {scenario.stores.count} stores x {scenario.stores.workers} workers, "
        f"{scenario.duration:g} {unit} of arrivals + {scenario.drain:g} {unit} drain, "
        f"{scenario.replications} replications, seed {scenario.seed}",
    ]
    for design, group in summary.groupby("design", sort=False):
        spec = scenario.design(str(design))
        what = (
            "RAM only"
            if spec.queue == "ram"
            else (
                f"database, {spec.balancer.strategy} balancer, poll every "
                f"{spec.orchestrator.poll_interval:g} {unit}"
            )
        )
        lines += ["", f"{design}  ({what})", f"  {'metric':<22}{'mean':>12}   95% CI"]
        for row in group.itertuples(index=False):
            label = f"{row.metric} ({unit})" if row.metric in TIMED else row.metric
            interval = (
                f"[{format_number(row.ci_low)}, {format_number(row.ci_high)}]"
                if not math.isnan(row.ci_low)
                else ""
            )
            lines.append(f"  {label:<22}{format_number(row.mean):>12}   {interval}")
    return "\n".join(lines)
