"""Metrics of one run, from hand-made order tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.metrics import paired_differences, replication_metrics


def orders(arrival, first, status, prep=1.0, completions=None, work=None, kind="online"):
    n = len(arrival)
    completions = (
        completions if completions is not None else [int(not math.isnan(f)) for f in first]
    )
    return pd.DataFrame(
        {
            "arrival": np.array(arrival, dtype=float),
            "first_completion": np.array(first, dtype=float),
            "status": status,
            "kind": [kind] * n,
            "prep_time": np.full(n, prep),
            "completions": np.array(completions),
            "work": np.array(work if work is not None else [prep * c for c in completions], float),
            "moves": np.zeros(n, dtype=int),
            "stranded": np.zeros(n, dtype=bool),
            "stranded_time": np.zeros(n),
            "slow_time": np.zeros(n),
            "lost_reason": [None] * n,
        }
    )


EMPTY_TIMELINE = pd.DataFrame(
    {"event": pd.Series([], dtype=str), "detection_delay": pd.Series([], dtype=float)}
)


def test_sla_missed_counts_only_orders_whose_deadline_is_inside_the_run():
    """Horizon 100, SLA 10. Counted: arrivals up to 90. Order at 10 met it (latency 5), at
    20 missed it (latency 15), at 30 was lost (missed), at 85 met it (latency 4). The order
    at 95 is left out whether it completed (at 99) or not: choosing by outcome would bias
    the share."""
    frame = orders(
        [10, 20, 30, 85, 95],
        [15, 35, math.nan, 89, 99],
        ["completed", "completed", "lost", "completed", "completed"],
    )
    metrics = replication_metrics(frame, EMPTY_TIMELINE, 0.0, 10.0, 100.0)
    assert metrics["sla_missed"] == pytest.approx(2 / 4)
    unfinished = frame.assign(first_completion=[15, 35, math.nan, 89, math.nan])
    assert replication_metrics(unfinished, EMPTY_TIMELINE, 0.0, 10.0, 100.0)["sla_missed"] == (
        pytest.approx(2 / 4)
    )


def test_duplicates_and_wasted_work():
    """Order 0 completed twice (prep 2 each, plus an abandoned 1.5): 1 duplicate and 3.5 of
    wasted work; order 1 once."""
    frame = orders(
        [0, 1], [2, 3], ["completed", "completed"], prep=2.0, completions=[2, 1], work=[5.5, 2.0]
    )
    metrics = replication_metrics(frame, EMPTY_TIMELINE, 0.0, None, 50.0)
    assert metrics["duplicates"] == 1
    assert metrics["wasted_work"] == pytest.approx(3.5)
    assert math.isnan(metrics["sla_missed"])


def test_paired_differences_of_no_runs_is_empty():
    empty = pd.DataFrame({"design": [], "replication": [], "lost": []})
    assert paired_differences(empty).empty
