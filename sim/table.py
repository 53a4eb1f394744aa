"""The comparison table printed after a run: per design, each metric's mean and 95% CI."""

from __future__ import annotations

import math

import pandas as pd

from sim.design_words import design_words
from sim.metrics import INTERVAL_NOTE
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


def _flat(mapping: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


#: The sections each kind of design reads (a broker reads its own section only): the
#: settings of the others say nothing about it.
_READS = {"ram": ("balancer.",), "db": ("balancer.", "database.", "orchestrator.")}
#: Balancer settings that only some strategies read.
_STRATEGY_KEYS = {
    "balancer.vnodes": ("ring", "bounded"),
    "balancer.weights": ("ring", "bounded"),
    "balancer.table_size": ("maglev",),
    "balancer.epsilon": ("bounded",),
}


def _says_something(design, key: str) -> bool:
    """Whether a setting matters to this design (modulo has no vnodes)."""
    if not key.startswith(_READS.get(design.queue, (f"{design.queue}.",))):
        return False
    return design.balancer.strategy in _STRATEGY_KEYS.get(key, (design.balancer.strategy,))


def design_labels(scenario: Scenario) -> dict[str, str]:
    """Per design, what it is and how it differs from the others: `database; balancer.vnodes
    1` (every setting whose value is not the same in all designs), or the main settings
    when only the queue differs."""
    unit = scenario.time_unit
    flat = {
        d.name: _flat(d.model_dump(mode="json", exclude={"name", "queue"}))
        for d in scenario.designs
    }
    keys = list(next(iter(flat.values())))
    differing = [k for k in keys if len({repr(f.get(k)) for f in flat.values()}) > 1]
    labels = {}
    for design in scenario.designs:
        mine = [k for k in differing if _says_something(design, k)]
        settings = ", ".join(f"{k} {_setting(flat[design.name][k])}" for k in mine)
        if design.queue == "ram":
            labels[design.name] = "RAM only" + (f"; {settings}" if settings else "")
        elif design.queue != "db":
            words = design_words(design, unit)
            labels[design.name] = words + (f"; {settings}" if settings else "")
        elif settings:
            labels[design.name] = f"database; {settings}"
        else:
            poll = (
                "polling interval swept"
                if "orchestrator.poll_interval" in scenario.sweep
                else f"poll every {design.orchestrator.poll_interval:g} {unit}"
            )
            labels[design.name] = f"database, {design.balancer.strategy} balancer, {poll}"
    return labels


def _setting(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_summary(summary: pd.DataFrame, scenario: Scenario) -> str:
    """A block per design: metric, mean, and the 95% confidence interval."""
    unit = scenario.time_unit
    lines = [
        f"{scenario.name}: {scenario.stores.count} stores x {scenario.stores.workers} workers, "
        f"{scenario.duration:g} {unit} of arrivals + {scenario.drain:g} {unit} drain, "
        f"{int(summary['n'].max()) if len(summary) else 0} replications, seed {scenario.seed}",
    ]
    labels = design_labels(scenario)
    for design, group in summary.groupby("design", sort=False):
        what = labels[str(design)]
        lines += ["", f"{design}  ({what})", f"  {'metric':<22}{'mean':>12}   95% CI"]
        for row in group.itertuples(index=False):
            label = f"{row.metric} ({unit})" if row.metric in TIMED else row.metric
            interval = (
                f"[{format_number(row.ci_low)}, {format_number(row.ci_high)}]"
                if not math.isnan(row.ci_low)
                else ""
            )
            lines.append(f"  {label:<22}{format_number(row.mean):>12}   {interval}")
    lines += ["", f"({INTERVAL_NOTE}.)"]
    return "\n".join(lines)


#: What the compact tables show, per design.
HEADLINE = ("lost", "duplicates", "latency_p95", "sla_missed")


def _cell_text(mean: float, low: float, high: float) -> str:
    """`mean [low, high]`: the interval as it is (cut to the metric's range, so it may
    not be symmetric about the mean)."""
    if math.isnan(low):
        return format_number(mean)
    return f"{format_number(mean)} [{format_number(low)}, {format_number(high)}]"


def format_comparisons(comparisons: pd.DataFrame | None, scenario: Scenario) -> str:
    """Each design against the first, paired replication by replication."""
    if comparisons is None or comparisons.empty:
        return ""
    baseline = comparisons["baseline"].iloc[0]
    lines = [
        "",
        f"Paired with {baseline} (same orders and crashes in each replication), "
        "per run: difference [95% CI]",
    ]
    for design, group in comparisons.groupby("design", sort=False):
        parts = []
        for metric in HEADLINE:
            row = group[group["metric"] == metric].iloc[0]
            if math.isnan(row["mean_difference"]):
                continue
            sign = "+" if row["mean_difference"] > 0 else ""
            interval = (
                f" [{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"
                if not math.isnan(row["ci_low"])
                else ""
            )
            parts.append(f"{metric} {sign}{format_number(row['mean_difference'])}{interval}")
        lines.append(f"  {design}: " + "; ".join(parts))
    return "\n".join(lines)


def format_sweep(summary: pd.DataFrame, scenario: Scenario) -> str:
    """A row per cell and design: the swept values and the headline metrics, mean and
    95% interval."""
    keys = list(scenario.sweep)
    header = [*keys, "design", *HEADLINE]
    rows = []
    for (_, design), group in summary.groupby(["cell", "design"], sort=False):
        first = group.iloc[0]
        cells = [str(first[key]) for key in keys] + [str(design)]
        for metric in HEADLINE:
            row = group[group["metric"] == metric].iloc[0]
            cells.append(_cell_text(row["mean"], row["ci_low"], row["ci_high"]))
        rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    cells = summary["cell"].nunique()
    designs = summary["design"].nunique()
    lines = [
        f"{scenario.name}: sweep of {', '.join(keys)}: {cells} cells x {designs} designs, "
        f"{int(summary['n'].max()) if len(summary) else 0} replications each; "
        "mean [95% CI] per run",
        f"({INTERVAL_NOTE}.)",
        "",
    ]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def format_plan(scenario: Scenario, answer: int | None, evaluations: list) -> str:
    """The plan's evidence, value by value, and its answer."""
    spec = scenario.plan
    lines = [
        f"{scenario.name}: smallest {spec.key} in [{spec.low}, {spec.high}] meeting "
        f"every target with {spec.confidence:.0%} confidence",
        "",
    ]
    for evaluation in evaluations:
        verdict = "meets" if evaluation.feasible else "misses"
        lines.append(f"  {spec.key} = {evaluation.value}: {verdict}")
        for row in evaluation.rows:
            mark = "ok" if row["met"] else "no"
            lines.append(
                f"      {mark}  {row['target']:<24} mean "
                f"{format_number(row['mean'])}, 95% CI "
                f"[{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"
            )
    lines.append("")
    if answer is None:
        lines.append(f"No value of {spec.key} up to {spec.high} meets every target.")
    else:
        lines.append(f"Answer: {spec.key} = {answer}.")
    return "\n".join(lines)
