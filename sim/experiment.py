"""Replications × designs: each replication draws one world and runs every design on it.

A replication is one task (a module-level function, so any `concurrent.futures.Executor`
can run it: a process pool, or a Dask cluster's executor); results are put back in
replication order, so they are the same whichever executor ran them.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sim.metrics import METRICS, replication_metrics, summarize
from sim.model import simulate
from sim.scenario import Scenario
from sim.world import draw_world


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication gives: a metrics row per design, and its tables."""

    rows: list[dict]
    timeline: pd.DataFrame
    orders: pd.DataFrame | None


@dataclass(frozen=True)
class Results:
    """All replications of a scenario: tidy frames, each row carrying design and replication."""

    scenario: Scenario
    replications: pd.DataFrame
    summary: pd.DataFrame
    timeline: pd.DataFrame
    orders: pd.DataFrame | None
    trace: pd.DataFrame | None = None


def trace_replication(scenario: Scenario, replication: int = 0) -> pd.DataFrame:
    """Every step of every order of one replication, for every design: `design, time,
    what, store, order` (what: sent, ignored, refused, start, finish, abandon, drop, lost,
    done). The run is the same as in `run_replication`, only recorded in full."""
    world = draw_world(scenario, replication)
    frames = []
    for design in scenario.designs:
        record = simulate(world, scenario.stores, design, trace=True)
        frame = pd.DataFrame(record.trace, columns=["time", "what", "store", "order"])
        frame.insert(0, "design", design.name)
        frames.append(frame)
    trace = pd.concat(frames, ignore_index=True)
    trace["design"] = pd.Categorical(trace["design"], [d.name for d in scenario.designs])
    trace["what"] = trace["what"].astype("category")
    return trace


def run_replication(scenario: Scenario, replication: int, keep_orders: bool) -> ReplicationResult:
    """Draw replication `replication`'s world and run every design on it."""
    world = draw_world(scenario, replication)
    names = [design.name for design in scenario.designs]
    rows, timelines, orders = [], [], []
    for index, design in enumerate(scenario.designs):
        record = simulate(world, scenario.stores, design)
        order_frame = record.orders_frame(world)
        timeline = record.timeline_frame()
        metrics = replication_metrics(
            order_frame,
            timeline,
            scenario.warmup,
            scenario.orders.sla,
            scenario.horizon,
            peak_held=record.peak_held,
        )
        rows.append({"design": design.name, "replication": replication, **metrics})
        timelines.append(_label(timeline, names, index, replication))
        if keep_orders:
            orders.append(_label(order_frame, names, index, replication))
    return ReplicationResult(
        rows=rows,
        timeline=pd.concat(timelines, ignore_index=True),
        orders=pd.concat(orders, ignore_index=True) if keep_orders else None,
    )


def _label(frame: pd.DataFrame, names: list[str], index: int, replication: int) -> pd.DataFrame:
    """Put `design` (categorical over all designs, so frames concatenate as categorical)
    and `replication` first, in place."""
    codes = np.full(len(frame), index, dtype=np.int8 if len(names) < 128 else np.int32)
    frame.insert(0, "design", pd.Categorical.from_codes(codes, names))
    frame.insert(1, "replication", np.full(len(frame), replication, dtype=np.int32))
    return frame


def run(
    scenario: Scenario,
    keep_orders: bool = False,
    executor: Executor | None = None,
    progress: bool = False,
    trace: bool = False,
) -> Results:
    """Run every replication (serially, or on `executor`) and summarize them.

    `keep_orders` keeps the per-order table of every run (`Results.orders`); `trace` also
    records every step of replication 0 (`Results.trace`, for the timeline plot).
    """
    results = list(
        tqdm(
            _replications(scenario, keep_orders, executor),
            total=scenario.replications,
            desc=scenario.name,
            unit="rep",
            disable=not progress,
        )
    )
    rows = [row for result in results for row in result.rows]
    replications = pd.DataFrame(rows, columns=["design", "replication", *METRICS])
    return Results(
        scenario=scenario,
        replications=replications,
        summary=summarize(replications),
        timeline=pd.concat([r.timeline for r in results], ignore_index=True),
        orders=pd.concat([r.orders for r in results], ignore_index=True) if keep_orders else None,
        trace=trace_replication(scenario, 0) if trace else None,
    )


def _replications(
    scenario: Scenario, keep_orders: bool, executor: Executor | None
) -> Iterator[ReplicationResult]:
    indices = range(scenario.replications)
    if executor is None:
        return (run_replication(scenario, r, keep_orders) for r in indices)
    n = scenario.replications
    return executor.map(run_replication, [scenario] * n, indices, [keep_orders] * n)
