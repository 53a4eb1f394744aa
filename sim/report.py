"""The results folder's `report.md`: the scenario in words, the findings, table and plots.

Every sentence is generated from the numbers of the run; nothing is written by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from sim.report_failures import describe_failure_modes, failure_findings
from sim.scenario import Scenario
from sim.table import TIMED, format_number, format_sweep

#: Metrics in the report's table, in order.
TABLE_METRICS = (
    "arrived",
    "completed",
    "lost",
    "lost_online",
    "lost_offline",
    "unfinished",
    "held",
    "stranded",
    "stranded_time",
    "duplicates",
    "wasted_work",
    "latency_mean",
    "latency_p95",
    "latency_p99",
    "sla_missed",
    "detection_delay",
    "false_detections",
    "rejected",
    "slow_time",
    "peak_load",
)


def describe(scenario: Scenario) -> str:
    """The scenario in a sentence or two."""
    unit, orders, failures = scenario.time_unit, scenario.orders, scenario.failures
    prep = orders.prep_time
    parts = [
        f"{scenario.stores.count} stores with {scenario.stores.workers} workers each; "
        f"online orders arrive at {orders.online.rate:g} per {unit}"
        + (
            f", walk-ins at {orders.offline.rate:g} per {unit} per store"
            if orders.offline.rate
            else ""
        )
        + f"; preparation takes {prep.mean:g} {unit} on average ({prep.dist}).",
    ]
    crashes = []
    if failures.mtbf is not None:
        crashes.append(
            f"each store crashes every {failures.mtbf:g} {unit} on average and "
            f"takes {failures.mttr:g} {unit} to repair"
        )
    crashes += [
        f"store {c.store} crashes at {c.at:g} for {c.down_for:g} {unit}" for c in failures.scripted
    ]
    parts.append(("Crashes: " + "; ".join(crashes) + ".") if crashes else "No crashes.")
    if modes := describe_failure_modes(scenario):
        parts.append(modes)
    parts.append(
        f"{scenario.replications} replications of {scenario.duration:g} {unit} of "
        f"arrivals and up to {scenario.drain:g} {unit} to finish (seed {scenario.seed})."
    )
    return " ".join(parts)


def _value(summary: pd.DataFrame, design: str, metric: str) -> tuple[float, float]:
    """Mean and 95% half-width (NaN when unknown)."""
    row = summary[(summary["design"] == design) & (summary["metric"] == metric)].iloc[0]
    return float(row["mean"]), float((row["ci_high"] - row["ci_low"]) / 2)


def _pm(mean: float, half: float) -> str:
    """`mean ± half`, the half-width to two significant digits."""
    if math.isnan(half) or half == 0:
        return format_number(mean)
    return f"{format_number(mean)} ± {float(f'{half:.2g}'):g}"


def findings(summary: pd.DataFrame, scenario: Scenario) -> list[str]:
    """Headline sentences, one per design, then which design did best at what."""
    unit = scenario.time_unit
    lines = []
    for design in scenario.designs:
        name = design.name
        lost, lost_half = _value(summary, name, "lost")
        online, _ = _value(summary, name, "lost_online")
        duplicates, dup_half = _value(summary, name, "duplicates")
        p95, p95_half = _value(summary, name, "latency_p95")
        sentence = f"**{name}** lost {_pm(lost, lost_half)} orders per run"
        if lost > 0:
            sentence += f" ({format_number(online)} of them online)"
        sentence += (
            f", prepared {_pm(duplicates, dup_half)} orders twice, and its 95th "
            f"percentile latency was {_pm(p95, p95_half)} {unit}."
        )
        lines.append(sentence)
    if len(scenario.designs) > 1:
        for metric, words in (
            ("lost", "fewest orders lost"),
            ("duplicates", "fewest duplicates"),
            ("sla_missed", "smallest share missing the SLA"),
            ("latency_p95", "lowest 95th percentile latency"),
        ):
            rows = summary[summary["metric"] == metric].dropna(subset=["mean"])
            if len(rows):
                best = rows.loc[rows["mean"].idxmin()]
                label = words[0].upper() + words[1:]
                lines.append(f"{label}: {best['design']} ({format_number(best['mean'])}).")
        lines.append(
            "Latency counts completed orders only: a design that loses its slowest orders "
            "looks fast; `sla_missed` counts lost orders as missed."
        )
    return lines + failure_findings(summary, scenario)


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


def render(summary: pd.DataFrame, scenario: Scenario, figures: dict[str, str]) -> str:
    """The whole report; `figures` maps a caption to a PNG file name in the same folder."""
    designs = [d.name for d in scenario.designs]
    parts = [
        f"# {scenario.name}",
        describe(scenario),
        "## Findings",
        "\n".join(f"- {line}" for line in findings(summary, scenario)),
        "## Per run, mean [95% confidence interval] across replications",
        table(summary, designs, scenario.time_unit),
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


def render_sweep(summary: pd.DataFrame, scenario: Scenario, figures: dict[str, str]) -> str:
    """The report of a sweep: what was swept, and per cell the headline numbers."""
    parts = [
        f"# {scenario.name}",
        describe(scenario),
        "Swept: "
        + "; ".join(f"`{key}` over {values}" for key, values in scenario.sweep.items())
        + ".",
        "## Per cell and design, mean ± half the 95% confidence interval",
        "```\n" + "\n".join(format_sweep(summary, scenario).splitlines()[2:]) + "\n```",
    ]
    files = (
        "Files: `sweep.csv` (per cell, design and metric), `replications.csv` "
        "(one row per cell, design and replication), `scenario.yaml`."
    )
    return _join(parts, figures, files)
