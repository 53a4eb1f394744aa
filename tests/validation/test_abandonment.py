"""Impatient customers against Erlang A (M/M/c+M).

One store with `c` workers, Poisson arrivals, exponential preparation (mean 1) and
exponential patience (mean 1 / theta), no failures: the share of orders cancelled must
match the Erlang-A abandonment probability within 4 SE (the shared rule) at a moderate
and at an overloaded load. Under first come, first served an order's fate depends only on
the orders ahead of it, so orders arriving near the end are no different; only those
arriving before the warm-up are left out (the queue starts empty).
"""

from __future__ import annotations

import numpy as np
import pytest
from tolerance import assert_close

from sim.model import simulate
from sim.scenario import Scenario
from sim.theory import erlang_a_abandonment
from sim.world import draw_world

REPLICATIONS = 20


@pytest.mark.parametrize(("c", "lam", "theta"), [(3, 2.4, 0.5), (3, 3.6, 1.0)])
def test_share_cancelled_matches_erlang_a(c, lam, theta):
    duration, warmup = 1500.0, 100.0
    scenario = Scenario.from_mapping(
        {
            "name": "erlang_a",
            "seed": 16,
            "duration": duration,
            "drain": 50.0,
            "warmup": warmup,
            "replications": REPLICATIONS,
            "stores": {"count": 1, "workers": c},
            "orders": {
                "online": {"rate": lam},
                "prep_time": {"dist": "exponential", "mean": 1.0},
                "patience": {"dist": "exponential", "mean": 1 / theta},
            },
            "designs": {"ram_only": {"queue": "ram"}},
        }
    )
    shares = []
    for replication in range(REPLICATIONS):
        world = draw_world(scenario, replication)
        orders = simulate(world, scenario.stores, scenario.designs[0]).orders_frame(world)
        counted = orders[orders["arrival"] >= warmup]
        assert (counted["status"] != "unfinished").all()
        shares.append((counted["status"] == "cancelled").mean())
    theory = erlang_a_abandonment(lam, 1.0, c, theta)
    # Power: the same queue with 10% faster or slower preparation.
    wrong = [erlang_a_abandonment(lam, mu, c, theta) for mu in (1 / 1.1, 1 / 0.9)]
    assert_close(np.array(shares), theory, f"P(abandon), c={c}, lam={lam}", wrong=wrong)


def test_erlang_a_tends_to_known_limits():
    """Very patient customers at a load below 1 hardly leave; with one server and no
    waiting room effect (theta huge), abandonment tends to Erlang B's blocking."""
    assert erlang_a_abandonment(0.5, 1.0, 1, 1e-6) < 1e-5
    assert erlang_a_abandonment(1.0, 1.0, 1, 1e6) == pytest.approx(0.5, rel=1e-4)
