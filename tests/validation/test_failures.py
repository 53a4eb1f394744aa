"""Crashes against renewal theory, and RAM-only losses against PASTA.

As in test_queueing: means over independent replications, within `Z` = 4 standard errors
(P(|t| > 4) < 0.001 for 20 replications), and, where `wrong` values are named, a check
that a model with a 10% error in the named time would fall outside the band.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tolerance import assert_close

import sim
from sim.scenario import Scenario
from sim.theory import availability, expected_failures, mmc_number_in_system


def down_time(timeline: pd.DataFrame, horizon: float) -> pd.Series:
    """Total down time per (replication, store), from crash and recover events."""
    rows = timeline[timeline["event"].isin(["crash", "recover"])]
    totals = {}
    for key, events in rows.groupby(["replication", "store"]):
        down, since = 0.0, None
        for time, event in zip(events["time"], events["event"], strict=True):
            if event == "crash":
                since = time
            else:
                down, since = down + time - since, None
        totals[key] = down + (horizon - since if since is not None else 0.0)
    return pd.Series(totals)


def test_stores_are_up_mtbf_over_mtbf_plus_mttr_and_crash_as_often_as_expected():
    """Twenty stores, exponential up times (mean 100) and repairs (mean 20), 15,000 time
    units. Up fraction per store: mtbf / (mtbf + mttr) = 0.8333. Crashes per store in
    [0, H): the delayed-renewal expectation (H / 120 plus a constant: 125.03 here)."""
    mtbf, mttr, count, duration = 100.0, 20.0, 20, 12_000.0
    scenario = Scenario.from_mapping(
        {
            "name": "availability",
            "seed": 11,
            "duration": duration,
            "drain": 3_000.0,
            "replications": 20,
            "stores": {"count": count},
            "orders": {"online": {"rate": 0.05}, "prep_time": {"dist": "deterministic", "mean": 1}},
            "failures": {"mtbf": mtbf, "mttr": mttr},
            "designs": {"ram_only": {"queue": "ram"}},
        }
    )
    horizon = scenario.horizon
    results = sim.run(scenario)
    down = down_time(results.timeline, horizon).groupby(level=0).sum()
    up_fraction = 1 - down.reindex(range(20), fill_value=0.0) / (count * horizon)
    assert_close(
        up_fraction,
        availability(mtbf, mttr),
        "up fraction",
        wrong=[availability(mtbf * 1.1, mttr), availability(mtbf * 0.9, mttr)],
    )
    crashes = results.replications["crashes"] / count
    assert_close(
        crashes,
        expected_failures(horizon, mtbf, mttr),
        "crashes per store",
        wrong=[
            expected_failures(horizon, mtbf * 1.1, mttr),
            expected_failures(horizon, mtbf * 0.9, mttr),
        ],
    )


def number_at_store_while_up(orders: pd.DataFrame, outages, duration, rng) -> float:
    """Time-average number of orders held by the store over its up time, by sampling."""
    accepted = orders[orders["lost_reason"].astype(object) != "store_down"]
    arrival = np.sort(accepted["arrival"].to_numpy())
    gone = np.sort(
        np.concatenate(
            [
                accepted["first_completion"].dropna().to_numpy(),
                accepted["lost_at"].dropna().to_numpy(),
            ]
        )
    )
    instants = rng.uniform(0, duration, 200_000)
    for start, end in outages:
        instants = instants[(instants < start) | (instants >= end)]
    held = np.searchsorted(arrival, instants, "right") - np.searchsorted(gone, instants, "right")
    return float(held.mean())


def test_ram_only_loses_per_crash_what_the_store_holds_at_a_random_instant():
    """One store, two workers, Poisson arrivals (rate 1), exponential preparation (mean 1),
    crashes with mtbf 500, mttr 2. A crash is memoryless, independent of the queue, so it
    sees the time-average state of the store over its up time (PASTA): orders lost in
    crashes per crash = time-average number held while up (checked as a paired
    difference per replication). With mtbf far above the queue's relaxation time (a few
    time units), that average is M/M/2's L = 4/3; the transient after each (empty)
    recovery lowers it by about 1%, inside the tolerance."""
    scenario = Scenario.from_mapping(
        {
            "name": "pasta",
            "seed": 5,
            "duration": 40_000.0,
            "drain": 50.0,
            "replications": 12,
            "stores": {"count": 1, "workers": 2},
            "orders": {"online": {"rate": 1.0}, "prep_time": {"dist": "exponential", "mean": 1}},
            "failures": {"mtbf": 500.0, "mttr": 2.0},
            "designs": {"ram_only": {"queue": "ram"}},
        }
    )
    results = sim.run(scenario, keep_orders=True)
    rng = np.random.default_rng(1)
    per_crash, held = [], []
    for replication, orders in results.orders.groupby("replication"):
        timeline = results.timeline[results.timeline["replication"] == replication]
        crashes = timeline[(timeline["event"] == "crash") & (timeline["time"] < 40_000.0)]
        lost = orders[orders["lost_reason"].astype(object) == "crash"]
        lost = lost[lost["lost_at"] < 40_000.0]
        per_crash.append(len(lost) / len(crashes))
        outages = sim.world.draw_world(scenario, int(replication)).outages[0]
        held.append(number_at_store_while_up(orders, outages, 40_000.0, rng))
    per_crash, held = np.array(per_crash), np.array(held)
    assert_close(per_crash - held, 0.0, "lost per crash - time-average held")
    assert_close(per_crash, mmc_number_in_system(1.0, 1.0, 2), "lost per crash vs M/M/2 L")
