"""Checks of a scenario that involve several keys at once, or limits on its size.

Each returns `Problem`s naming the key to change; `Scenario.from_mapping` runs them all
after the keys themselves are valid.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sim.demand import demand_problems, expected_orders
from sim.errors import Problem
from sim.failure_checks import (
    MAX_OUTAGES_PER_REPLICATION,
    failure_mode_churn,
    failure_mode_key,
    failure_mode_problems,
)
from sim.failure_sections import WORLD_KEYS
from sim.sections import DesignSpec, FailuresSpec
from sim.suggest import did_you_mean
from sim.targets import parse_target, plan_range_problems

if TYPE_CHECKING:
    from sim.scenario import _DesignEntry, _ScenarioFile

#: Guards against runs that could never finish or fit in memory.
MAX_ORDERS_PER_REPLICATION = 50_000_000
MAX_CRASHES_PER_STORE = 1_000_000
MAX_RING_POINTS = 20_000_000  # 12 bytes a point, built once per process
MAX_SWEEP_CELLS = 10_000
#: The most one replication of one design may be estimated to take, on one core.
MAX_SECONDS_PER_DESIGN_RUN = 4 * 3600
#: One-core seconds per unit of work, measured on a two-core machine (rounded up): what
#: `run_cost` counts. An order's own events; one hash or load read in a look-up; one
#: member copied when a member list changes; one probe filling a Maglev table; one
#: store visited in a poll round, and a round itself; one N order looked at by a
#: redistribution in numpy (`all`, ring/modulo/maglev) or routed one by one; one ring
#: point built.
SECONDS_PER = {
    "order": 40e-6,
    "hash": 0.5e-6,
    "member": 0.02e-6,
    "maglev_probe": 0.5e-6,
    "visit": 4e-6,
    "round": 10e-6,
    "scanned_order": 0.5e-6,
    "routed_order": 3e-6,
    "ring_point": 1e-6,
}
#: Which key to change when a term of `run_cost` is the largest of a run refused.
COST_KEYS = {
    "orders": ("duration",),
    "look-ups": ("balancer", "strategy"),
    "membership changes": ("balancer", "strategy"),
    "poll rounds": ("orchestrator", "poll_interval"),
    "redistributions": ("orchestrator", "redistribute"),
    "ring": ("balancer", "vnodes"),
    "lost polls": ("network", "poll_loss"),
    "leases": ("orchestrator", "max_age"),
    # "failure modes": the key of their largest part (`failure_mode_key`)
}
MAX_POLLS_PER_REPLICATION = 50_000_000  # Kafka: auto-commits (a poll each) per run
MAX_REBALANCE_WORK = 1e9  # Kafka: partitions (and members) gone through at each rebalance


def design_problems(design: DesignSpec, entry: _DesignEntry, raw: _ScenarioFile) -> list[Problem]:
    """A design's checks that involve the world: its cost, ring size, weights."""

    def where(section: str, key: str) -> tuple[str, ...]:
        overridden = key in getattr(entry, section) and raw.designs is not None
        return ("designs", design.name, section, key) if overridden else (section, key)

    count, problems = raw.stores.count, list(world_key_problems(design, entry, raw))
    cost = run_cost(design, raw)
    if sum(cost.values()) > MAX_SECONDS_PER_DESIGN_RUN:
        term = max(cost, key=cost.__getitem__)
        path = COST_KEYS.get(term) or failure_mode_key(raw, design)
        if len(path) == 2 and path[0] in ("database", "orchestrator", "balancer"):
            path = where(*path)  # a design may set it
        terms = ", ".join(f"{name} {seconds:.3g}" for name, seconds in cost.items() if seconds)
        problems.append(
            Problem(
                path,
                f"the run of design {design.name} would take about {sum(cost.values()):.3g} s "
                f"on one core, mostly {term} ({terms}); the limit is "
                f"{MAX_SECONDS_PER_DESIGN_RUN:,} s",
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
    if design.kafka is not None:
        horizon = raw.duration + (raw.drain if raw.drain is not None else raw.duration / 4)
        problems += kafka_problems(design, entry, raw, horizon)
    return problems


def kafka_problems(
    design: DesignSpec, entry: _DesignEntry, raw: _ScenarioFile, horizon: float
) -> list[Problem]:
    """A Kafka design's settings that must agree, and its timers bounded."""
    kafka = design.kafka
    assert kafka is not None

    def where(key: str) -> tuple[str, ...]:
        overridden = key in entry.kafka and raw.designs is not None
        return ("designs", design.name, "kafka", key) if overridden else ("kafka", key)

    problems = []
    if kafka.heartbeat_interval >= kafka.session_timeout:
        problems.append(
            Problem(
                where("heartbeat_interval"),
                f"({kafka.heartbeat_interval:g}) must be lower than session_timeout "
                f"({kafka.session_timeout:g})",
            )
        )
    if kafka.commit == "sync" and kafka.enable_auto_commit:
        problems.append(
            Problem(
                where("commit"),
                "sync needs enable_auto_commit: false (an application that commits each "
                "record itself turns auto-commit off)",
            )
        )
    crashes = expected_crashes(raw.failures, raw.stores.count, horizon)
    # Each crash brings about two rebalances, each going through every partition and member.
    work = 2 * crashes * (kafka.partitions + raw.stores.count)
    if work > MAX_REBALANCE_WORK:
        problems.append(
            Problem(
                where("partitions"),
                f"({kafka.partitions}) with about {crashes:.3g} crashes per run means about "
                f"{work:.3g} partition moves to work out; the limit is {MAX_REBALANCE_WORK:.0e}",
            )
        )
    commits = horizon / kafka.auto_commit_interval * raw.stores.count
    if kafka.enable_auto_commit and commits > MAX_POLLS_PER_REPLICATION:
        problems.append(
            Problem(
                where("auto_commit_interval"),
                f"({kafka.auto_commit_interval:g}) means up to {commits:.3g} commits of "
                f"{raw.stores.count} stores per run; the limit is {MAX_POLLS_PER_REPLICATION:.0e}",
            )
        )
    return problems


def run_cost(design: DesignSpec, raw: _ScenarioFile) -> dict[str, float]:
    """Estimated one-core seconds of one replication of `design`, by what they go to.

    Counts what grows with the chain: orders (each a few events); look-ups (one hash per
    member for rendezvous, one load read per member for bounded loads); membership
    changes (two per detected crash: the strategy's update, a Maglev refill once per poll
    round that changes members, unless cached); poll rounds (the orchestrator wakes at a
    crash and visits the stores it watches: a crashed store until it is declared down,
    `misses` rounds or its outage, and once more when it comes back); redistributions
    (at most one per round, each looking at every N order under `all`, in numpy or one by
    one as the strategy allows); and building the ring's points. The failure modes add
    stores declared down like crashes (group outages, partitions, false detections: the
    "failure modes" share of those terms), lost answers (each a store visited, and a round
    woken), and with `max_age` a lease per order sent, checked at most once per round.
    Rates are the means of the scenario, so this is an estimate, not a bound;
    SECONDS_PER says what a unit costs.
    """
    count, horizon = (
        raw.stores.count,
        raw.duration + (raw.drain if raw.drain is not None else raw.duration / 4),
    )
    orders, failures = raw.orders, raw.failures
    online = orders.online.rate * raw.duration
    arrived = expected_orders(orders, count, raw.duration)  # profiles and a trace count too
    spec, strategy = design.balancer, design.balancer.strategy
    per_lookup = {"rendezvous": count, "bounded": count}.get(strategy, 0) * SECONDS_PER["hash"]
    outage = failures.mttr or 0.0
    crashes = float(len(failures.scripted))
    if failures.mtbf is not None and failures.mttr is not None:
        crashes += count * horizon / (failures.mtbf + failures.mttr)
    outage = max([outage, *(c.down_for for c in failures.scripted)])
    cost = {"orders": arrived * SECONDS_PER["order"], "look-ups": online * per_lookup}
    points = sum(max(1, round(spec.vnodes * spec.weights.get(s, 1.0))) for s in range(count))
    cost["ring"] = points * SECONDS_PER["ring_point"] if strategy in ("ring", "bounded") else 0.0
    if design.queue != "db":
        return cost
    poll = design.orchestrator.poll_interval
    lost = count * horizon / poll * raw.network.poll_loss
    cost["lost polls"] = (
        lost * SECONDS_PER["visit"] + min(horizon / poll, lost) * SECONDS_PER["round"]
    )
    if design.orchestrator.max_age is not None:
        checks = min(horizon / poll, online)
        cost["leases"] = online * SECONDS_PER["visit"] + checks * SECONDS_PER["round"]
    churn = failure_mode_churn(raw, design, horizon)[0]
    if crashes + churn == 0:
        return cost
    outage = max(
        outage, raw.network.partitions.mttr or 0.0, *(g.mttr or 0.0 for g in failures.groups)
    )
    crashes += churn
    watched = min(design.orchestrator.misses, math.ceil(outage / poll)) + 2
    rounds = min(horizon / poll, crashes * watched)
    changes = 2 * crashes
    per_change = count * SECONDS_PER["member"] if strategy in ("modulo", "rendezvous") else 0.0
    if strategy == "maglev":
        per_change = count * SECONDS_PER["member"] + min(1.0, rounds / changes) * (
            spec.table_size * math.log(spec.table_size) * SECONDS_PER["maglev_probe"]
        )
    cost["membership changes"] = changes * per_change
    cost["poll rounds"] = rounds * SECONDS_PER["round"] + crashes * watched * SECONDS_PER["visit"]
    redistributions = min(rounds, crashes)
    waiting = orders.online.rate * (orders.prep_time.mean + poll * design.orchestrator.misses)
    if design.orchestrator.redistribute == "all":
        vectorized = strategy in ("ring", "modulo", "maglev")
        per_order = SECONDS_PER["scanned_order"] if vectorized else SECONDS_PER["routed_order"]
        cost["redistributions"] = redistributions * waiting * (per_order + per_lookup)
    if churn:
        share = churn / crashes  # of the stores declared down, those the failure modes add
        outages = ("membership changes", "poll rounds", "redistributions")
        cost["failure modes"] = share * sum(cost.get(term, 0.0) for term in outages)
        for term in outages:
            if term in cost:
                cost[term] *= 1 - share
    return cost


def expected_crashes(failures: FailuresSpec, count: int, horizon: float) -> float:
    """About how many crashes a run has: the scripted ones, and count x horizon / mtbf."""
    crashes = float(len(failures.scripted))
    if failures.mtbf is not None:
        crashes += count * horizon / failures.mtbf
    return crashes


def world_key_problems(
    design: DesignSpec, entry: _DesignEntry, raw: _ScenarioFile
) -> Iterator[Problem]:
    """Outages of the database and the orchestrator, and what customers do while the
    database is down, are the world's: every design sees the same."""
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
    workers = raw.stores.workers
    if not isinstance(workers, int) and len(workers) != raw.stores.count:
        yield Problem(
            ("stores", "workers"),
            f"lists {len(workers)} stores but stores.count is {raw.stores.count}: give one "
            "number per store, or a single number for every store",
        )
    orders = raw.orders
    if orders.online.rate == 0 and orders.offline.rate == 0 and orders.trace is None:
        yield Problem(("orders",), "no orders would arrive: online.rate and offline.rate are 0")
    if drain < orders.prep_time.mean:
        yield Problem(
            ("drain",),
            f"({drain:g}) is shorter than the mean preparation time "
            f"({orders.prep_time.mean:g}): orders arriving at the end could never finish",
        )
    yield from demand_problems(orders, raw.duration, raw.stores.count)
    expected = expected_orders(orders, raw.stores.count, raw.duration)
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
    plan = raw.plan
    if plan is None:
        return
    yield from plan_range_problems(plan, raw)
    for index, target in enumerate(plan.targets):
        try:
            parse_target(target)
        except ValueError as error:
            yield Problem(("plan", "targets", index), str(error))
    names = list(raw.designs or {"ram_only": 0, "mq": 0})
    if plan.design is not None and plan.design not in names:
        yield Problem(
            ("plan", "design"),
            f"no design {plan.design!r} (designs: {', '.join(names)})"
            + did_you_mean(plan.design, names),
        )


def sweep_problems(raw: _ScenarioFile) -> Iterator[Problem]:
    """A sweep may not be too large; its values are checked cell by cell later."""
    cells = 1
    for values in raw.sweep.values():
        cells *= len(values)
    if cells > MAX_SWEEP_CELLS:
        yield Problem(("sweep",), f"{cells:,} cells; the limit is {MAX_SWEEP_CELLS:,}")
