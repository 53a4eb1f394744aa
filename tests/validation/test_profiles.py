"""Arrivals under a profile are a non-homogeneous Poisson process.

For each segment of the profile, the count of arrivals in it over independent
replications must have the integral of the rate over the segment as its mean (within the
shared 4 SE rule, SE from the Poisson variance) and a variance equal to that mean: the
Poisson dispersion statistic sum((x - mean)^2) / mean is chi-squared with R - 1 degrees of
freedom, and must lie within its 0.05% and 99.95% quantiles (Wilson–Hilferty).
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.demand import profile_of
from sim.world import ONLINE, draw_world

REPLICATIONS = 400
Z_9995 = 3.2905  # the 99.95% quantile of the standard normal


def chi2_quantile(z: float, k: int) -> float:
    """The chi-squared (k degrees of freedom) quantile at standard normal quantile z."""
    return k * (1 - 2 / (9 * k) + z * np.sqrt(2 / (9 * k))) ** 3


PROFILE = {0: 0.3, 60: 1.0, 150: 2.5, 240: 1.2, 420: 0.4}
EDGES = [0, 60, 150, 240, 420, 480]


@pytest.mark.parametrize("shape", ["step", "linear"])
def test_counts_per_segment_match_the_integrated_rate(shape):
    scenario = sim.load_scenario(
        "scenarios/dominoes.yaml",
        orders__online__profile=PROFILE,
        orders__online__profile_shape=shape,
        orders__offline__profile="same",
    )
    rate = scenario.orders.online.rate
    profile = profile_of(scenario.orders.online, scenario.orders.online, scenario.duration)
    expected = rate * np.diff(profile.cumulative(np.array(EDGES, dtype=float)))
    counts = np.array(
        [
            np.histogram(w.arrival[w.pinned == ONLINE], bins=EDGES)[0]
            for w in (draw_world(scenario, r) for r in range(REPLICATIONS))
        ]
    )
    low, high = chi2_quantile(-Z_9995, REPLICATIONS - 1), chi2_quantile(Z_9995, REPLICATIONS - 1)
    for segment, theory in enumerate(expected):
        x = counts[:, segment]
        se = np.sqrt(theory / REPLICATIONS)
        print(f"segment {segment}: mean {x.mean():.2f}, theory {theory:.2f} ± {4 * se:.2f}")
        assert abs(x.mean() - theory) <= 4 * se
        dispersion = ((x - x.mean()) ** 2).sum() / x.mean()
        assert low <= dispersion <= high, (segment, dispersion, low, high)
