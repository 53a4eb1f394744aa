"""Replications × designs × cells: each replication draws one world and runs every design.

Work goes out in tasks (module-level functions, so any `concurrent.futures.Executor` runs
them: this process, a process pool, a Dask cluster), each a batch of replications of one
cell sized to take about a second. Results are put back in (cell, replication) order, so
they are the same whichever executor ran them. Finished replications can be kept in a
`Cache`, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.cache import Cache, cell_key
from sim.executors import Runner
from sim.loading import load_scenario
from sim.metrics import METRICS, paired_differences, replication_metrics, summarize
from sim.model import simulate
from sim.scenario import Scenario
from sim.sweep import cells
from sim.world import draw_world

#: Metrics whose intervals `precision` watches.
PRECISION_METRICS = (
    "completed",
    "lost",
    "duplicates",
    "wasted_work",
    "latency_mean",
    "latency_p95",
    "sla_missed",
)
#: About how long one task should run, in seconds (estimated from the orders it simulates).
TASK_SECONDS = 1.0
SECONDS_PER_ORDER = 15e-6


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication gives: a metrics row per design, and its tables."""

    rows: list[dict]
    timeline: pd.DataFrame
    orders: pd.DataFrame | None


@dataclass(frozen=True)
class Results:
    """All replications of a scenario: tidy frames, each row carrying design and replication
    (and, for a sweep, the cell number and swept values, as the last columns)."""

    scenario: Scenario
    replications: pd.DataFrame
    summary: pd.DataFrame
    timeline: pd.DataFrame
    orders: pd.DataFrame | None
    trace: pd.DataFrame | None = None
    comparisons: pd.DataFrame | None = None
    errors: dict[int, str] = field(default_factory=dict)  # cell -> what went wrong
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a precision not reached

    @property
    def swept(self) -> list[str]:
        """The swept keys (columns of the frames), in grid order."""
        return list(self.scenario.sweep)


def trace_replication(scenario: Scenario, replication: int = 0) -> pd.DataFrame:
    """Every step of every order of one replication, for every design: `design, time,
    what, store, order` (what: sent, ignored, refused, start, finish, fail, abandon, drop,
    discard, lost, done, dead_letter). The run is the same as in `run_replication`, only
    recorded in full."""
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
            counters=record.counters,
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


def run_batch(scenario: Scenario, replications: list[int], keep_orders: bool) -> list:
    """A task: several replications of one cell."""
    return [run_replication(scenario, r, keep_orders) for r in replications]


def run(
    scenario: Scenario | str | Path,
    keep_orders: bool = False,
    runner: Runner | None = None,
    progress: bool = False,
    trace: bool = False,
    precision: float | None = None,
    max_replications: int = 1000,
    cache: Cache | None = None,
    executor=None,
) -> Results:
    """Run every replication of every cell and summarize them.

    `keep_orders` keeps the per-order tables; `trace` records every step of replication 0
    (for the timeline plot); `precision` adds replications, up to `max_replications`, until
    every watched interval's half-width is within that fraction of its mean; `cache`
    keeps finished replications on disk. `runner` (or a bare `executor`) says where tasks
    run: in this process by default. `scenario` may be a path to a scenario file.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if runner is None:
        runner = Runner.using(executor) if executor is not None else Runner(None)
    grid = cells(scenario)
    done: dict[tuple[int, int], ReplicationResult] = {}
    errors: dict[int, str] = {}
    wanted = {cell.index: cell.scenario.replications for cell in grid}
    bar = _Progress(scenario, wanted, precision, max_replications) if progress else _NoBar()
    while True:
        missing = {
            c.index: [r for r in range(wanted[c.index]) if (c.index, r) not in done]
            for c in grid
            if c.index not in errors
        }
        _execute(grid, missing, keep_orders, runner, cache, done, errors, bar)
        if precision is None:
            break
        more = _short_of_precision(grid, done, wanted, errors, precision, max_replications)
        if not more:
            break
        wanted.update(more)
        bar.grow(wanted)
    bar.close()
    results = _assemble(scenario, grid, done, errors, wanted, keep_orders, trace, precision)
    results.notes.extend(cache.notes if cache else [])  # entries that were run again
    return results


class _NoBar:
    """Stands in for a progress bar when none is wanted (no widget warnings in kernels)."""

    def update(self, count: int) -> None:
        pass

    def grow(self, wanted: dict[int, int]) -> None:
        pass

    def close(self) -> None:
        pass


class _Progress:
    """A progress bar counting design runs (cells x designs x replications), so that it
    shows a total and the time left; with a precision target, the total is what is
    planned so far, and the bar says how far it may grow."""

    def __init__(self, scenario: Scenario, wanted: dict[int, int], precision, cap: int):
        from tqdm.auto import tqdm  # terminal or notebook bar, whichever fits

        self.designs = len(scenario.designs)
        self.bar = tqdm(desc=scenario.name, total=self._total(wanted), unit="run")
        if precision is not None:
            self.bar.set_postfix_str(
                f"precision {precision:g}: more replications may follow, at most "
                f"{cap * len(wanted) * self.designs:,} runs",
                refresh=False,
            )

    def _total(self, wanted: dict[int, int]) -> int:
        return sum(wanted.values()) * self.designs

    def update(self, replications: int) -> None:
        self.bar.update(replications * self.designs)

    def grow(self, wanted: dict[int, int]) -> None:
        self.bar.total = self._total(wanted)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _execute(grid, missing, keep_orders, runner, cache, done, errors, bar) -> None:
    tasks = {}
    keys = {cell.index: cell_key(cell.scenario, keep_orders) for cell in grid} if cache else {}
    for cell in grid:
        replications = missing.get(cell.index, [])
        to_run = []
        for r in replications:
            stored = cache.load(keys[cell.index], r) if cache else None
            if stored is not None:
                done[(cell.index, r)] = stored
                bar.update(1)
            else:
                to_run.append(r)
        for start in range(0, len(to_run), batch := _batch_size(cell.scenario)):
            chunk = to_run[start : start + batch]
            tasks[(cell.index, chunk[0])] = (cell.scenario, chunk, keep_orders)
    for (index, first), results, error in runner.run(run_batch, tasks.items()):
        if error is not None:
            errors[index] = f"{type(error).__name__}: {error}"
            continue
        for r, result in zip(tasks[(index, first)][1], results, strict=True):
            done[(index, r)] = result
            if cache:
                cache.store(keys[index], r, result)
        bar.update(len(results))


def _batch_size(scenario: Scenario) -> int:
    """Replications per task, so that a task runs for about `TASK_SECONDS`."""
    orders = scenario.orders
    per_replication = orders.online.rate + orders.offline.rate * scenario.stores.count
    cost = per_replication * scenario.duration * len(scenario.designs) * SECONDS_PER_ORDER
    return max(1, min(scenario.replications, math.ceil(TASK_SECONDS / max(cost, 1e-6))))


def _short_of_precision(grid, done, wanted, errors, precision, cap) -> dict[int, int]:
    """Cells whose intervals are still too wide, with how many replications to reach."""
    more = {}
    for cell in grid:
        if cell.index in errors or wanted[cell.index] >= cap:
            continue
        rows = pd.DataFrame(
            [row for r in range(wanted[cell.index]) for row in done[(cell.index, r)].rows]
        )
        if not _too_wide(summarize(rows), precision).empty:
            more[cell.index] = min(cap, wanted[cell.index] + max(2, wanted[cell.index] // 2))
    return more


def _with(extra: dict, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One cell's frames, concatenated, with its cell number and swept values as columns
    (set once per cell: a column per frame would cost more than the frames)."""
    frame = pd.concat(frames, ignore_index=True)
    for key, value in extra.items():
        frame[key] = [value] * len(frame) if isinstance(value, dict | list) else value
    return frame


def _assemble(scenario, grid, done, errors, wanted, keep_orders, trace, precision) -> Results:
    swept = list(scenario.sweep)
    rows, timelines, orders = [], [], []
    for cell in grid:
        if cell.index in errors:
            continue
        extra = {"cell": cell.index, **cell.values} if swept else {}
        results = [done[(cell.index, r)] for r in range(wanted[cell.index])]
        rows += [{**row, **extra} for result in results for row in result.rows]
        timelines.append(_with(extra, [result.timeline for result in results]))
        if keep_orders:
            orders.append(_with(extra, [result.orders for result in results]))
    columns = ["design", "replication", *METRICS, *(["cell", *swept] if swept else [])]
    replications = pd.DataFrame(rows, columns=columns)
    by = ["cell", *swept] if swept else []
    summary = summarize(replications, by=by)
    notes, warnings = [], []
    if precision is not None:
        counts = sorted(set(wanted.values()))
        notes.append(f"precision {precision:g}: {', '.join(map(str, counts))} replications")
        warnings += _precision_missed(summary, precision, max(counts) if counts else 0)
    return Results(
        scenario=scenario,
        replications=replications,
        summary=summary,
        timeline=pd.concat(timelines, ignore_index=True) if timelines else pd.DataFrame(),
        orders=pd.concat(orders, ignore_index=True) if keep_orders and orders else None,
        trace=trace_replication(grid[0].scenario, 0) if trace and not swept else None,
        comparisons=paired_differences(replications, by=by),
        errors={i: errors[i] for i in sorted(errors)},
        notes=notes,
        warnings=warnings,
    )


def _too_wide(summary: pd.DataFrame, precision: float) -> pd.DataFrame:
    """The watched rows whose interval's half-width exceeds `precision` x |mean|."""
    watched = summary[summary["metric"].isin(PRECISION_METRICS)].dropna(subset=["mean"])
    half = (watched["ci_high"] - watched["ci_low"]) / 2
    return watched[half > precision * watched["mean"].abs()].assign(_half=half)


def _precision_missed(summary: pd.DataFrame, precision: float, reached: int) -> list[str]:
    """A warning naming every interval still wider than asked (the cap was reached)."""
    wide = _too_wide(summary, precision)
    if wide.empty:
        return []
    cell = (lambda row: f" (cell {row['cell']})") if "cell" in wide else (lambda row: "")
    named = [
        f"{row['design']} {row['metric']}{cell(row)}: ± {row['_half']:.3g} "
        f"on a mean of {row['mean']:.4g}"
        for _, row in wide.iterrows()
    ]
    return [
        f"precision {precision:g} not reached for {len(named)} interval(s) at "
        f"{reached} replications (--max-replications): " + "; ".join(named)
    ]
