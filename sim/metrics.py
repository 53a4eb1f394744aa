"""From a run's records to its metrics, and from replications to confidence intervals.

Every metric is counted from the per-order table and the timeline of a run; the words are
those of the glossary in DESIGN.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.stats import mean_interval

#: replications.csv columns after `design, replication`: the contract first, then extras.
METRICS = (
    "arrived",
    "completed",
    "lost",
    "unfinished",
    "duplicates",
    "wasted_work",
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "sla_missed",
    "lost_online",
    "lost_offline",
    "crashes",
    "detection_delay",
    "redistributions",
    "moves",
    "peak_load",
    "dead_lettered",
    "redeliveries",
    "rebalances",
    "paused_time",
    "max_lag",
)

#: Every metric is a count, a time or a share: none is below 0, and a share is at most 1.
SHARES = {"sla_missed"}
#: Said beside every table of intervals (terminal, report.md).
INTERVAL_NOTE = (
    "95% intervals are Student t across replications, cut to what a metric can be: "
    "counts and times at least 0, shares between 0 and 1"
)


def bounded_interval(
    metric: str, values: Sequence[float], level: float = 0.95
) -> tuple[float, float, float, int]:
    """`mean_interval` of a metric's values, its ends cut to the metric's range (a count
    cannot be negative, a share above 1): Student t is symmetric, the metric is not."""
    mean, low, high, n = mean_interval(values, level)
    upper = 1.0 if metric in SHARES else math.inf
    if not math.isnan(low):
        low, high = min(max(low, 0.0), upper), min(max(high, 0.0), upper)
    return mean, low, high, n


def replication_metrics(
    orders: pd.DataFrame,
    timeline: pd.DataFrame,
    warmup: float,
    sla: float | None,
    horizon: float,
    peak_held: Sequence[int] = (),
    counters: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The metrics of one design in one replication (`peak_held`: per store, the most
    orders it held at once; `counters`: totals the design reported, `Recorder.counters`)."""
    counters = counters or {}
    completions = orders["completions"].to_numpy()
    done = completions > 0
    lost = (orders["status"] == "lost").to_numpy()
    dead = int((orders["status"] == "dead_lettered").sum())
    online = (orders["kind"] == "online").to_numpy()
    arrived = len(orders)
    prep = orders["prep_time"].to_numpy()
    latency = _latencies(orders, warmup)
    events = timeline["event"]
    return {
        "arrived": arrived,
        "completed": int(done.sum()),
        "lost": int(lost.sum()),
        "unfinished": arrived - int(done.sum()) - int(lost.sum()) - dead,
        "duplicates": int(np.maximum(completions - 1, 0).sum()),
        "wasted_work": float(orders["work"].sum() - prep[done].sum()),
        "latency_mean": float(latency.mean()) if latency.size else math.nan,
        **_percentiles(latency),
        "sla_missed": _sla_missed(orders, warmup, sla, horizon),
        "lost_online": int((lost & online).sum()),
        "lost_offline": int((lost & ~online).sum()),
        "crashes": int((events == "crash").sum()),
        "detection_delay": _mean(timeline.loc[events == "detected_down", "detection_delay"]),
        "redistributions": int((events == "redistribute").sum()),
        "moves": int(orders["moves"].sum()),
        "peak_load": max(peak_held) if len(peak_held) else math.nan,
        "dead_lettered": dead,
        "redeliveries": _redeliveries(orders),
        "rebalances": int((events == "rebalance").sum()),
        "paused_time": float(counters.get("paused_time", 0.0)),
        "max_lag": float(counters.get("max_lag", math.nan)),
    }


def _redeliveries(orders: pd.DataFrame) -> int:
    """Deliveries by a broker beyond each message's first (0 for designs without one)."""
    if "deliveries" not in orders:
        return 0
    return int(np.maximum(orders["deliveries"].to_numpy() - 1, 0).sum())


def _latencies(orders: pd.DataFrame, warmup: float) -> np.ndarray:
    """First completion minus arrival, for completed orders that arrived after warm-up."""
    arrival = orders["arrival"].to_numpy()
    first = orders["first_completion"].to_numpy()
    keep = (arrival >= warmup) & ~np.isnan(first)
    return first[keep] - arrival[keep]


def _percentiles(latency: np.ndarray) -> dict[str, float]:
    names = ("latency_p50", "latency_p95", "latency_p99")
    if latency.size == 0:
        return dict.fromkeys(names, math.nan)
    values = np.percentile(latency, [50, 95, 99])
    return {name: float(v) for name, v in zip(names, values, strict=True)}


def _sla_missed(orders: pd.DataFrame, warmup: float, sla: float | None, horizon: float) -> float:
    """Share of orders after warm-up not completed within `sla`; lost orders missed it.

    Only orders whose deadline (arrival + sla) falls inside the run count: their outcome
    is known whatever happened to them. Choosing by arrival, not by outcome, keeps the
    share unbiased when the drain is shorter than the SLA.
    """
    if sla is None:
        return math.nan
    arrival = orders["arrival"].to_numpy()
    counted = (arrival >= warmup) & (arrival + sla <= horizon)
    if not counted.any():
        return math.nan
    latency = orders["first_completion"].to_numpy()[counted] - arrival[counted]
    met = latency <= sla  # NaN (never completed) compares False
    return float(1.0 - met.mean())


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan


def summarize(
    replications: pd.DataFrame, level: float = 0.95, by: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per design and metric (and cell, for a sweep: `by` = cell and the swept
    keys, the last columns): mean, interval across replications (cut to the metric's
    range, see `bounded_interval`), and count."""
    rows = []
    for extra, group in _cells(replications, by):
        for design, runs in group.groupby("design", sort=False):
            for metric in METRICS:
                values = runs[metric].to_numpy(dtype=float)
                mean, low, high, n = bounded_interval(metric, values, level)
                rows.append((design, metric, mean, low, high, n, *extra))
    columns = ["design", "metric", "mean", "ci_low", "ci_high", "n", *by]
    return pd.DataFrame(rows, columns=columns)


def paired_differences(
    replications: pd.DataFrame, level: float = 0.95, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Each design against the first (the baseline), metric by metric: the mean of the
    per-replication differences (design − baseline) and its interval. Designs share their
    random numbers within a replication, so the pairs are far tighter than two separate
    intervals."""
    rows = []
    for extra, group in _cells(replications, by):
        designs = list(dict.fromkeys(group["design"]))
        if not designs:
            continue
        base = group[group["design"] == designs[0]].set_index("replication")
        for design in designs[1:]:
            other = group[group["design"] == design].set_index("replication")
            for metric in METRICS:
                diff = (other[metric].astype(float) - base[metric].astype(float)).dropna()
                mean, low, high, n = mean_interval(diff.to_numpy(), level)
                rows.append((design, designs[0], metric, mean, low, high, n, *extra))
    columns = ["design", "baseline", "metric", "mean_difference", "ci_low", "ci_high", "n", *by]
    return pd.DataFrame(rows, columns=columns)


def _cells(replications: pd.DataFrame, by: Sequence[str]):
    """(values of `by`, rows) per cell; swept values may be unhashable, cells are not."""
    if not by:
        yield (), replications
        return
    for _, group in replications.groupby("cell", sort=True):
        first = group.iloc[0]
        yield tuple(first[key] for key in by), group
