"""The report's findings about imperfect failures: what each failure mode cost, and what
each safeguard (fencing, incarnations, leases) changed against the seed's design, by the
findings' one rule (`sim.findings`: a change is named only when its paired interval
excludes 0)."""

from __future__ import annotations

import pandas as pd

from sim.findings import change
from sim.scenario import Scenario
from sim.sections import DesignSpec
from sim.table import format_number

#: Metrics a safeguard trades against each other, with the words for them.
TRADED = (
    ("duplicates", "duplicates"),
    ("wasted_work", "wasted work ({unit})"),
    ("stranded_time", "stranded order-time ({unit})"),
    ("lost", "lost"),
    ("latency_p95", "p95 latency ({unit})"),
)


def failure_findings(
    summary: pd.DataFrame, replications: pd.DataFrame, scenario: Scenario
) -> list[str]:
    """Sentences on the failure modes of the scenario, empty when it has none."""
    databases = [d for d in scenario.designs if d.queue == "db"]
    if not databases or not _has_failure_modes(scenario):
        return []
    unit, first = scenario.time_unit, databases[0].name
    mean = _means(summary)
    lines = [
        f"Imperfect detection: {format_number(mean[first, 'false_detections'])} stores per run "
        f"were declared down while up (lost poll answers, partitions); "
        f"{format_number(mean[first, 'stranded'])} orders per run were stranded at the end "
        f"and {format_number(mean[first, 'stranded_time'])} order-{unit} were spent "
        f"stranded under {first}."
    ]
    if scenario.database_outages.scripted or scenario.database_outages.mtbf is not None:
        when_down = databases[0].database.when_down
        lines.append(
            f"Database outages turned away {format_number(mean[first, 'rejected'])} orders per "
            f"run (`when_down: {when_down}`)."
            if when_down == "reject"
            else "Database outages delayed the orders that arrived meanwhile (`when_down: retry`)."
        )
    if mean[first, "slow_time"] > 0:
        lines.append(
            f"Slowdowns added {format_number(mean[first, 'slow_time'])} {unit} of preparation "
            f"per run under {first}."
        )
    lines += [
        _safeguard(design, first, replications, unit) for design in databases[1:] if _guards(design)
    ]
    return lines


def describe_failure_modes(scenario: Scenario) -> str:
    """The failure modes of the scenario in a sentence (empty when there are none)."""
    unit, failures, network = scenario.time_unit, scenario.failures, scenario.network
    parts = []
    if network.poll_loss:
        parts.append(f"each poll answer is lost with probability {network.poll_loss:g}")
    parts += _random("partitions cut a store off", network.partitions, unit)
    parts += [
        f"store {p.store} is cut off at {p.at:g} for {p.for_:g} {unit}"
        for p in network.partitions.scripted
    ]
    parts += _random("slowdowns hit a store", failures.slowdowns, unit)
    parts += [
        f"store {p.store} is slowed {p.factor or failures.slowdowns.factor:g}× at {p.at:g} "
        f"for {p.for_:g} {unit}"
        for p in failures.slowdowns.scripted
    ]
    for group in failures.groups:
        stores = ", ".join(str(s) for s in group.stores)
        parts += _random(f"stores {stores} go down together", group, unit)
        parts += [
            f"stores {stores} go down at {o.at:g} for {o.down_for:g} {unit}" for o in group.scripted
        ]
    for name, spec in (
        ("the database", scenario.database_outages),
        ("the orchestrator", scenario.orchestrator_outages),
    ):
        parts += _random(f"{name} goes down", spec, unit)
        parts += [f"{name} is down at {o.at:g} for {o.down_for:g} {unit}" for o in spec.scripted]
    return ("Failure modes: " + "; ".join(parts) + ".") if parts else ""


def _random(what: str, spec, unit: str) -> list[str]:
    if spec.mtbf is None:
        return []
    return [f"{what} every {spec.mtbf:g} {unit} on average, for {spec.mttr:g} {unit}"]


def _has_failure_modes(scenario: Scenario) -> bool:
    failures, network = scenario.failures, scenario.network
    return bool(
        failures.groups
        or failures.slowdowns.scripted
        or failures.slowdowns.mtbf is not None
        or network.poll_loss > 0
        or network.partitions.scripted
        or network.partitions.mtbf is not None
        or scenario.database_outages.scripted
        or scenario.database_outages.mtbf is not None
        or scenario.orchestrator_outages.scripted
        or scenario.orchestrator_outages.mtbf is not None
        or any(_guards(design) for design in scenario.designs)
    )


def _guards(design: DesignSpec) -> list[str]:
    """The safeguards a design turns on, in words."""
    spec = design.orchestrator
    return [
        *(["fencing"] if spec.fencing else []),
        *(["incarnations"] if spec.incarnations else []),
        *([f"leases of {spec.max_age:g}"] if spec.max_age is not None else []),
    ]


def _safeguard(design: DesignSpec, first: str, replications: pd.DataFrame, unit: str) -> str:
    changes = [
        f"{words.format(unit=unit)} {change(replications, design.name, first, metric)}"
        for metric, words in TRADED
        if metric in replications
    ]
    return (
        f"**{design.name}** ({' and '.join(_guards(design))}) against {first}: "
        + "; ".join(changes)
        + "."
    )


def _means(summary: pd.DataFrame) -> dict:
    return {(row.design, row.metric): row.mean for row in summary.itertuples(index=False)}
