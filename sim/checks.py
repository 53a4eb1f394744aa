"""Checks of a scenario that involve several keys at once, or limits on its size.

Each returns `Problem`s naming the key to change; `Scenario.from_mapping` runs them all
after the keys themselves are valid.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sim.errors import Problem
from sim.failure_checks import failure_mode_churn, failure_mode_problems
from sim.sections import DesignSpec, FailuresSpec

if TYPE_CHECKING:
    from sim.scenario import _DesignEntry, _ScenarioFile

#: Guards against runs that could never finish or fit in memory.
MAX_ORDERS_PER_REPLICATION = 50_000_000
MAX_POLLS_PER_REPLICATION = 50_000_000
MAX_CRASHES_PER_STORE = 1_000_000
MAX_RING_POINTS = 200_000  # a ring is rebuilt for each membership a run sees
MAX_OUTAGES_PER_REPLICATION = 5_000_000
MAX_SWEEP_CELLS = 10_000
#: Balancer entries (ring points, Maglev slots, members) rebuilt per run: about 1 µs each.
MAX_REBUILD_WORK = 500_000_000


def design_problems(design: DesignSpec, entry: _DesignEntry, raw: _ScenarioFile) -> list[Problem]:
    """A design's checks that involve the world: polls, ring size, weights."""

    def where(section: str, key: str) -> tuple[str, ...]:
        overridden = key in getattr(entry, section) and raw.designs is not None
        return ("designs", design.name, section, key) if overridden else (section, key)

    count, problems = raw.stores.count, list(world_key_problems(design, entry, raw))
    horizon = raw.duration + (raw.drain if raw.drain is not None else raw.duration / 4)
    polls = horizon / design.orchestrator.poll_interval * count
    if design.queue == "db" and polls > MAX_POLLS_PER_REPLICATION:
        problems.append(
            Problem(
                where("orchestrator", "poll_interval"),
                f"({design.orchestrator.poll_interval:g}) means {polls:.3g} polls of "
                f"{count} stores per run; the limit is {MAX_POLLS_PER_REPLICATION:.0e}",
            )
        )
    spec = design.balancer
    for store in spec.weights:
        if not 0 <= store < count:
            problems.append(
                Problem(
                    (*where("balancer", "weights"), store),
                    f"no store {store}: stores are 0 to {count - 1}",
                )
            )
    if spec.weights and spec.strategy not in ("ring", "bounded"):
        problems.append(Problem(where("balancer", "weights"), "apply to ring and bounded only"))
    points = sum(max(1, round(spec.vnodes * spec.weights.get(s, 1.0))) for s in range(count))
    if spec.strategy in ("ring", "bounded") and points > MAX_RING_POINTS:
        problems.append(
            Problem(
                where("balancer", "vnodes"),
                f"the ring would have {points:.3g} points (vnodes x weights x stores); "
                f"the limit is {MAX_RING_POINTS:.0e}",
            )
        )
    if spec.strategy == "maglev" and spec.table_size < count:
        problems.append(Problem(where("balancer", "table_size"), f"must be at least {count}"))
    return problems + churn_problems(design, raw, points)


def churn_problems(design: DesignSpec, raw: _ScenarioFile, points: int) -> list[Problem]:
    """Store churn: each store declared down or back up rebuilds the balancer, whose cost
    grows with its size (a ring's points, a Maglev table), so many crashes of a large
    balancer cost more than the orders. Counted as an upper bound: every crash detected."""
    if design.queue != "db":
        return []  # only the orchestrator changes a balancer's members
    failures, count = raw.failures, raw.stores.count
    horizon = raw.duration + (raw.drain if raw.drain is not None else raw.duration / 4)
    crashes = len(failures.scripted)
    if failures.mtbf is not None:
        crashes += count * horizon / failures.mtbf
    churn, mode_key = failure_mode_churn(raw, design, horizon)
    spec = design.balancer
    cost = {"ring": points, "bounded": points, "maglev": spec.table_size}.get(spec.strategy, count)
    work = 2 * (crashes + churn) * cost  # declared down, then back up
    if work <= MAX_REBUILD_WORK:
        return []
    key = ("failures", "mtbf") if failures.mtbf is not None else ("failures", "scripted")
    if churn > crashes:  # mostly the failure modes' doing: lost answers, partitions, groups
        key = mode_key
    crashes += churn
    return [
        Problem(
            key,
            f"about {2 * crashes:.3g} balancer changes per run (stores declared down and "
            f"up) times {cost:,} entries rebuilt each by {spec.strategy} "
            f"(design {design.name}): {work:.3g}; the limit is {MAX_REBUILD_WORK:.0e}",
        )
    ]


def world_key_problems(
    design: DesignSpec, entry: _DesignEntry, raw: _ScenarioFile
) -> Iterator[Problem]:
    """Outages of the database and the orchestrator, and what customers do while the
    database is down, are the world's: every design sees the same."""
    from sim.scenario import WORLD_KEYS  # the scenario module imports this one

    if raw.designs is None:
        return
    for section, keys in WORLD_KEYS.items():
        for key in keys:
            if key in getattr(entry, section):
                yield Problem(
                    ("designs", design.name, section, key),
                    f"belongs to the world, the same for every design: set it under the "
                    f"top-level `{section}` section",
                )


def world_problems(raw: _ScenarioFile) -> Iterator[Problem]:
    """Checks that involve several keys at once."""
    drain = raw.drain if raw.drain is not None else raw.duration / 4
    horizon = raw.duration + drain
    if raw.warmup >= raw.duration:
        yield Problem(("warmup",), f"must be less than duration ({raw.duration:g})")
    orders = raw.orders
    if orders.online.rate == 0 and orders.offline.rate == 0:
        yield Problem(("orders",), "no orders would arrive: online.rate and offline.rate are 0")
    if drain < orders.prep_time.mean:
        yield Problem(
            ("drain",),
            f"({drain:g}) is shorter than the mean preparation time "
            f"({orders.prep_time.mean:g}): orders arriving at the end could never finish",
        )
    expected = (orders.online.rate + orders.offline.rate * raw.stores.count) * raw.duration
    if expected > MAX_ORDERS_PER_REPLICATION:
        yield Problem(
            ("duration",),
            f"about {expected:.3g} orders per replication; the limit is "
            f"{MAX_ORDERS_PER_REPLICATION:.0e}",
        )
    yield from failure_problems(raw.failures, raw.stores.count, horizon)
    yield from failure_mode_problems(raw, horizon)


def failure_problems(failures: FailuresSpec, count: int, horizon: float) -> Iterator[Problem]:
    if failures.mtbf is not None and failures.mttr is None:
        yield Problem(("failures", "mttr"), "required when failures.mtbf is given")
    if failures.mttr is not None and failures.mtbf is None:
        yield Problem(("failures", "mtbf"), "required when failures.mttr is given")
    if failures.mtbf is not None and count * horizon / failures.mtbf > MAX_OUTAGES_PER_REPLICATION:
        yield Problem(
            ("failures", "mtbf"),
            f"({failures.mtbf:g}) means about {count * horizon / failures.mtbf:.3g} crashes of "
            f"{count} stores per run; the limit is {MAX_OUTAGES_PER_REPLICATION:.0e}",
        )
    elif failures.mtbf is not None and horizon / failures.mtbf > MAX_CRASHES_PER_STORE:
        yield Problem(
            ("failures", "mtbf"),
            f"({failures.mtbf:g}) means about {horizon / failures.mtbf:.3g} crashes per store "
            f"per run; the limit is {MAX_CRASHES_PER_STORE:.0e}",
        )
    for index, crash in enumerate(failures.scripted):
        if crash.store >= count:
            yield Problem(
                ("failures", "scripted", index, "store"),
                f"no store {crash.store}: stores are numbered 0 to {count - 1}",
            )
        if crash.at >= horizon:
            yield Problem(
                ("failures", "scripted", index, "at"),
                f"({crash.at:g}) is not before the end of the run ({horizon:g})",
            )
    if not math.isfinite(horizon):
        yield Problem(("duration",), "duration plus drain is not finite")


def plan_problems(raw: _ScenarioFile) -> Iterator[Problem]:
    """A plan's key must be an integer key, its range ordered, its targets readable."""
    from sim.plan import parse_target  # the plan module reads targets; no cycle at import

    plan = raw.plan
    if plan is None:
        return
    if plan.low > plan.high:
        yield Problem(("plan", "high"), f"must be at least low ({plan.low})")
    for index, target in enumerate(plan.targets):
        try:
            parse_target(target)
        except ValueError as error:
            yield Problem(("plan", "targets", index), str(error))
    names = list(raw.designs or {"ram_only": 0, "mq": 0})
    if plan.design is not None and plan.design not in names:
        yield Problem(
            ("plan", "design"), f"no design {plan.design!r} (designs: {', '.join(names)})"
        )


def sweep_problems(raw: _ScenarioFile) -> Iterator[Problem]:
    """A sweep may not be too large; its values are checked cell by cell later."""
    cells = 1
    for values in raw.sweep.values():
        cells *= len(values)
    if cells > MAX_SWEEP_CELLS:
        yield Problem(("sweep",), f"{cells:,} cells; the limit is {MAX_SWEEP_CELLS:,}")
