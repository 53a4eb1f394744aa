"""The model against queueing theory, through the public path: scenario → run → metrics.

Every check compares a mean over independent replications with a closed form, within
`Z` standard errors of that mean (SE from the spread across replications). With 20
replications, P(|t_19| > 4) ≈ 0.0008, so a correct model passes reliably.

Power: where a check names `wrong` values (the theory for a model whose mean preparation
time is 10% too long or too short), it also asserts each lies more than 2 Z SE from the
right value, so such a model's measurements, centred on the wrong value, would fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tolerance import assert_close

import sim
from sim.hashing import Ring
from sim.scenario import Scenario
from sim.theory import erlang_c, mmc_number_in_system, mmc_wait


def scenario(**fields) -> Scenario:
    base = {
        "name": "validation",
        "seed": 2026,
        "replications": 20,
        "orders": {"prep_time": {"dist": "exponential", "mean": 1.0}},
        "designs": {"ram_only": {"queue": "ram"}},
    }
    return Scenario.from_mapping({**base, **fields})


def per_replication(orders: pd.DataFrame, column: str) -> np.ndarray:
    return orders.groupby("replication")[column].mean().to_numpy()


def waits(results: sim.Results, warmup: float) -> pd.DataFrame:
    orders = results.orders
    orders = orders[orders["arrival"] >= warmup].copy()
    orders["wait"] = orders["first_completion"] - orders["arrival"] - orders["prep_time"]
    orders["waited"] = orders["wait"] > 1e-9
    return orders


@pytest.mark.parametrize(
    ("c", "rho", "duration"),
    [(1, 0.5, 12000), (1, 0.9, 30000), (4, 0.5, 6000), (4, 0.9, 8000)],
)
def test_mmc_wait_and_probability_of_waiting_match_erlang_c(c, rho, duration):
    """One store, `c` workers, exponential times, no failures: an M/M/c queue."""
    lam = rho * c
    warmup = duration / 20
    results = sim.run(
        scenario(
            duration=duration,
            drain=duration / 10,
            warmup=warmup,
            stores={"count": 1, "workers": c},
            orders={"online": {"rate": lam}, "prep_time": {"dist": "exponential", "mean": 1.0}},
        ),
        keep_orders=True,
    )
    orders = waits(results, warmup)
    assert orders["status"].eq("completed").all()
    assert_close(
        per_replication(orders, "wait"),
        mmc_wait(lam, 1.0, c),
        "mean wait Wq",
        wrong=[mmc_wait(lam, 1 / 1.1, c), mmc_wait(lam, 1 / 0.9, c)],
    )
    assert_close(
        per_replication(orders, "waited"),
        erlang_c(c, lam),
        "P(wait)",
        wrong=[erlang_c(c, lam * 1.1), erlang_c(c, lam * 0.9)],
    )


def test_littles_law_and_number_in_system():
    """Time-average number in system, sampled from the arrival and completion times,
    equals arrival rate × mean time in system (Little), and M/M/c's L."""
    c, lam, duration, warmup = 3, 2.4, 6000, 300
    results = sim.run(
        scenario(
            duration=duration,
            drain=600,
            warmup=warmup,
            stores={"count": 1, "workers": c},
            orders={"online": {"rate": lam}, "prep_time": {"dist": "exponential", "mean": 1.0}},
        ),
        keep_orders=True,
    )
    rng = np.random.default_rng(0)
    averages, little = [], []
    for _, run in results.orders.groupby("replication"):
        arrival = np.sort(run["arrival"].to_numpy())
        done = np.sort(run["first_completion"].to_numpy())
        instants = rng.uniform(warmup, duration, 20_000)
        in_system = np.searchsorted(arrival, instants, "right") - np.searchsorted(
            done, instants, "right"
        )
        averages.append(in_system.mean())
        window = run[(run["arrival"] >= warmup) & (run["arrival"] < duration)]
        sojourn = (window["first_completion"] - window["arrival"]).mean()
        little.append(len(window) / (duration - warmup) * sojourn)
    averages, little = np.array(averages), np.array(little)
    assert_close(
        averages,
        mmc_number_in_system(lam, 1.0, c),
        "time-average number L",
        wrong=[mmc_number_in_system(lam, 1 / 1.1, c), mmc_number_in_system(lam, 1 / 0.9, c)],
    )
    assert_close(averages - little + 10, 10.0, "L - lambda W (shifted by 10)")


def test_each_store_behind_a_ring_is_an_mm1_queue_at_its_share():
    """Five stores, one worker each, Poisson online orders hashed by a 160-vnode ring:
    store s sees Poisson arrivals at lam × share(s), so it is an M/M/1 queue. Its
    measured share, utilization and mean wait match that store's M/M/1 numbers."""
    count, lam, duration, warmup = 5, 3.5, 6000, 300
    shares = Ring(range(count), 160).shares()
    results = sim.run(
        scenario(
            duration=duration,
            drain=600,
            warmup=warmup,
            stores={"count": count, "workers": 1},
            orders={"online": {"rate": lam}, "prep_time": {"dist": "exponential", "mean": 1.0}},
            balancer={"strategy": "ring", "vnodes": 160},
        ),
        keep_orders=True,
    )
    orders = waits(results, warmup)
    for store, share in shares.items():
        mine = orders[orders["last_store"] == store]
        counts = mine.groupby("replication").size().to_numpy()
        measured_share = counts / orders.groupby("replication").size().to_numpy()
        assert_close(measured_share, share, f"store {store} key share")
        busy = mine.groupby("replication")["prep_time"].sum().to_numpy()
        lam_s = lam * share
        assert_close(
            busy / (duration - warmup),
            lam_s,
            f"store {store} utilization",
            wrong=[lam_s * 1.1, lam_s * 0.9],
        )
        assert_close(per_replication(mine, "wait"), mmc_wait(lam_s, 1.0, 1), f"store {store} Wq")

    # Power, on the wait of all orders: each store's M/M/1 wait weighted by its share.
    def pooled(mu: float) -> float:
        return sum(share * mmc_wait(lam * share, mu, 1) for share in shares.values())

    assert_close(
        per_replication(orders, "wait"),
        pooled(1.0),
        "mean wait, all stores",
        wrong=[pooled(1 / 1.1), pooled(1 / 0.9)],
    )
