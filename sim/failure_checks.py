"""Checks of the failure-mode keys that involve several keys at once, or the run's size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sim.errors import Problem

if TYPE_CHECKING:
    from sim.scenario import _ScenarioFile

#: The most outages of one kind (crashes, slowdowns, partitions, ...) drawn per replication.
MAX_OUTAGES_PER_REPLICATION = 5_000_000


def failure_mode_problems(raw: _ScenarioFile, horizon: float) -> Iterator[Problem]:
    """Random schedules need both means, scripted ones a store that exists and a time
    inside the run, and no schedule may be too large to draw."""
    count = raw.stores.count
    failures = raw.failures
    sections: list[tuple[tuple[str | int, ...], Any, int]] = [
        (("failures", "slowdowns"), failures.slowdowns, count),
        (("network", "partitions"), raw.network.partitions, count),
        (("database", "outages"), raw.database.outages, 1),
        (("orchestrator", "outages"), raw.orchestrator.outages, 1),
    ]
    for index, group in enumerate(failures.groups):
        path = ("failures", "groups", index)
        sections.append((path, group, len(set(group.stores))))  # each member goes down
        for position, store in enumerate(group.stores):
            if store >= count:
                yield _no_store((*path, "stores", position), store, count)
    for path, spec, copies in sections:
        yield from _schedule_problems(path, spec, copies, count, horizon)


def failure_mode_churn(
    raw: _ScenarioFile, design: Any, horizon: float
) -> tuple[float, tuple[str | int, ...]]:
    """Stores declared down (then up) per run by the failure modes, at most (group
    outages, each member; partitions; false detections from lost answers), and the key
    of the largest part."""
    count, network = raw.stores.count, raw.network
    parts: list[tuple[float, tuple[str | int, ...]]] = []
    for index, group in enumerate(raw.failures.groups):
        outages = len(group.scripted) + (horizon / group.mtbf if group.mtbf else 0.0)
        parts.append((outages * len(set(group.stores)), ("failures", "groups", index)))
    partitions = network.partitions
    spells = len(partitions.scripted) + (
        count * horizon / partitions.mtbf if partitions.mtbf else 0
    )
    parts.append((spells, ("network", "partitions")))
    p, k = network.poll_loss, design.orchestrator.misses
    polls = count * horizon / design.orchestrator.poll_interval
    parts.append((polls * (1 - p) * p**k, ("network", "poll_loss")))
    return sum(part for part, _ in parts), max(parts)[1]


def failure_mode_key(raw: _ScenarioFile, design: Any) -> tuple[str | int, ...]:
    """The key of the failure mode that declares the most stores down in a run."""
    horizon = raw.duration + (raw.drain if raw.drain is not None else raw.duration / 4)
    return failure_mode_churn(raw, design, horizon)[1]


def _schedule_problems(
    path: tuple[str | int, ...], spec: Any, copies: int, count: int, horizon: float
) -> Iterator[Problem]:
    if spec.mtbf is not None and spec.mttr is None:
        yield Problem((*path, "mttr"), f"required when {_dotted(path)}.mtbf is given")
    if spec.mttr is not None and spec.mtbf is None:
        yield Problem((*path, "mtbf"), f"required when {_dotted(path)}.mttr is given")
    if spec.mtbf is not None and copies * horizon / spec.mtbf > MAX_OUTAGES_PER_REPLICATION:
        yield Problem(
            (*path, "mtbf"),
            f"({spec.mtbf:g}) means about {copies * horizon / spec.mtbf:.3g} outages per run; "
            f"the limit is {MAX_OUTAGES_PER_REPLICATION:.0e}",
        )
    for index, item in enumerate(spec.scripted):
        where = (*path, "scripted", index)
        store = getattr(item, "store", None)
        if store is not None and store >= count:
            yield _no_store((*where, "store"), store, count)
        if item.at >= horizon:
            yield Problem(
                (*where, "at"), f"({item.at:g}) is not before the end of the run ({horizon:g})"
            )


def _no_store(path: tuple[str | int, ...], store: int, count: int) -> Problem:
    return Problem(path, f"no store {store}: stores are numbered 0 to {count - 1}")


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)
