"""The results folder's `report.md`: the scenario in words, the findings, table and plots.

Every sentence is generated from the numbers of the run; nothing is written by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from sim.broker_report import broker_findings
from sim.findings import design_findings, sweep_findings
from sim.metrics import INTERVAL_NOTE
from sim.scenario import Scenario
from sim.table import TIMED, design_labels, format_number, format_sweep

#: Metrics in the report's table, in order.
TABLE_METRICS = (
    "arrived",
    "completed",
    "lost",
    "lost_online",
    "lost_offline",
    "unfinished",
    "duplicates",
    "wasted_work",
    "latency_mean",
    "latency_p95",
    "latency_p99",
    "sla_missed",
    "detection_delay",
    "peak_load",
)


def _value_of(scenario: Scenario, key: str, value: float, fmt: str = "g") -> str:
    """A setting as the report says it: its value, or every value when it is swept."""
    if key in scenario.sweep:
        values = [
            format(v, fmt) if isinstance(v, int | float) else str(v) for v in scenario.sweep[key]
        ]
        return ", ".join(values[:-1]) + f" or {values[-1]} (swept)"
    return format(value, fmt)


def describe(scenario: Scenario) -> str:
    """The scenario in a few sentences (a swept setting is given with all its values)."""
    unit, orders, failures = scenario.time_unit, scenario.orders, scenario.failures
    prep = orders.prep_time

    def value(key: str, number: float) -> str:
        return _value_of(scenario, key, number)

    parts = [
        f"{value('stores.count', scenario.stores.count)} stores with "
        f"{value('stores.workers', scenario.stores.workers)} workers each; "
        f"online orders arrive at {value('orders.online.rate', orders.online.rate)} per {unit}"
        + (
            f", walk-ins at {value('orders.offline.rate', orders.offline.rate)} per {unit} "
            "per store"
            if orders.offline.rate or "orders.offline.rate" in scenario.sweep
            else ""
        )
        + f"; preparation takes {prep.mean:g} {unit} on average ({prep.dist}).",
    ]
    crashes = []
    if failures.mtbf is not None:
        crashes.append(
            f"each store crashes every {value('failures.mtbf', failures.mtbf)} {unit} on "
            f"average and takes {value('failures.mttr', failures.mttr)} {unit} to repair"
        )
    crashes += [
        f"store {c.store} crashes at {c.at:g} for {c.down_for:g} {unit}" for c in failures.scripted
    ]
    parts.append(("Crashes: " + "; ".join(crashes) + ".") if crashes else "No crashes.")
    parts.append(
        f"{scenario.replications} replications of {scenario.duration:g} {unit} of "
        f"arrivals and up to {scenario.drain:g} {unit} to finish (seed {scenario.seed})."
    )
    labels = design_labels(scenario)
    parts.append(
        "Designs: " + "; ".join(f"`{name}` ({what})" for name, what in labels.items()) + "."
    )
    return " ".join(parts)


def _value(summary: pd.DataFrame, design: str, metric: str) -> tuple[float, float, float]:
    """Mean and 95% interval (NaN when unknown)."""
    row = summary[(summary["design"] == design) & (summary["metric"] == metric)].iloc[0]
    return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])


def _with_interval(mean: float, low: float, high: float) -> str:
    """`mean [low, high]`, or the mean alone when there is no interval or no spread."""
    if math.isnan(low) or low == high:
        return format_number(mean)
    return f"{format_number(mean)} [{format_number(low)}, {format_number(high)}]"


def findings(results) -> list[str]:
    """Headline sentences, one per design, then which design did best at what, by the
    rule of `sim.findings` (a difference is named only when its paired interval
    excludes 0)."""
    summary, scenario = results.summary, results.scenario
    unit = scenario.time_unit
    lines = []
    for design in scenario.designs:
        name = design.name
        lost = _value(summary, name, "lost")
        online = _value(summary, name, "lost_online")[0]
        duplicates = _value(summary, name, "duplicates")
        p95 = _value(summary, name, "latency_p95")
        sentence = f"**{name}** lost {_with_interval(*lost)} orders per run"
        if lost[0] > 0:
            sentence += f" ({format_number(online)} of them online)"
        sentence += (
            f", prepared {_with_interval(*duplicates)} orders twice, and its 95th "
            f"percentile latency was {_with_interval(*p95)} {unit}."
        )
        lines.append(sentence)
    lines += broker_findings(summary, scenario)
    names = [d.name for d in scenario.designs]
    return lines + design_findings(results.replications, names, unit)


def table(summary: pd.DataFrame, designs: Sequence[str], unit: str) -> str:
    """A markdown table, metrics down, designs across: mean [95% CI]."""
    header = "| metric | " + " | ".join(designs) + " |"
    lines = [header, "|---|" + "---|" * len(designs)]
    for metric in TABLE_METRICS:
        cells = []
        for design in designs:
            row = summary[(summary["design"] == design) & (summary["metric"] == metric)].iloc[0]
            cell = format_number(row["mean"])
            if not math.isnan(row["ci_low"]):
                cell += f" [{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"
            cells.append(cell)
        label = f"{metric} ({unit})" if metric in TIMED else metric
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(results, figures: dict[str, str]) -> str:
    """The whole report of a run; `figures` maps a caption to a PNG file name in the same
    folder."""
    scenario, summary = results.scenario, results.summary
    designs = [d.name for d in scenario.designs]
    parts = [
        f"# {scenario.name}",
        describe(scenario),
        "## Findings",
        "\n".join(f"- {line}" for line in findings(results)),
        "## Per run, mean [95% confidence interval] across replications",
        table(summary, designs, scenario.time_unit) + f"\n\n{INTERVAL_NOTE}.",
    ]
    files = (
        "Files: `replications.csv` (one row per design and replication), `summary.csv`, "
        "`comparisons.csv`, `scenario.yaml` (the scenario as run)."
    )
    return _join(parts, figures, files)


def _join(parts: list[str], figures: dict[str, str], files: str) -> str:
    """The report's sections, then a section per figure, then the list of files."""
    for caption, file in figures.items():
        parts += [f"## {caption}", f"![{caption}]({file})"]
    return "\n\n".join([*parts, files]) + "\n"


def render_sweep(results, figures: dict[str, str]) -> str:
    """The report of a sweep: what was swept, what each swept key changes, and per cell
    the headline numbers."""
    scenario = results.scenario
    designs = [d.name for d in scenario.designs]
    changes = sweep_findings(results.replications, scenario.sweep, designs, scenario.time_unit)
    parts = [
        f"# {scenario.name}",
        describe(scenario),
        "Swept: "
        + "; ".join(f"`{key}` over {values}" for key, values in scenario.sweep.items())
        + ".",
        "## Findings",
        "\n".join(f"- {line}" for line in changes) or "Nothing was swept over two values.",
        "## Per cell and design, mean [95% confidence interval] per run",
        "```\n" + "\n".join(format_sweep(results.summary, scenario).splitlines()[3:]) + "\n```",
        f"{INTERVAL_NOTE}.",
    ]
    files = (
        "Files: `summary.csv` (per cell, design and metric), `comparisons.csv` (each design "
        "against the first, per cell), `replications.csv` (one row per cell, design and "
        "replication), `scenario.yaml`."
    )
    return _join(parts, figures, files)
