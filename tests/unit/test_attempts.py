"""Failed attempts: drawn from the world alone, at the rate asked for, poison always."""

from __future__ import annotations

import math

import numpy as np

from sim.model.attempts import attempt_outcomes
from sim.scenario import Scenario
from sim.world import draw_world


def scenario(poison=0.0, attempt_failure=0.0):
    return Scenario.from_mapping(
        {
            "name": "attempts",
            "seed": 11,
            "duration": 1000.0,
            "stores": {"count": 2},
            "orders": {
                "online": {"rate": 5.0},
                "prep_time": {"dist": "exponential", "mean": 1.0},
                "poison": poison,
                "attempt_failure": attempt_failure,
            },
        }
    )


def test_nothing_fails_at_the_defaults_and_nothing_is_drawn():
    world = draw_world(scenario(), 0)
    assert world.poison is None
    assert world.attempt_seed is None
    assert attempt_outcomes(world) is None


def test_the_rest_of_the_world_does_not_change_when_attempts_can_fail():
    plain, failing = draw_world(scenario(), 0), draw_world(scenario(0.1, 0.2), 0)
    for column in ("arrival", "prep", "pinned", "key_hash"):
        np.testing.assert_array_equal(getattr(plain, column), getattr(failing, column))


def test_poison_orders_fail_every_attempt_and_others_at_the_rate_asked():
    """Each attempt of a non-poison order fails with probability p, independently: the
    share over about 5000 orders x 20 attempts is within 4 standard errors of p; poison
    orders, a share of about 0.1 of them (within 4 SE), fail every time."""
    world = draw_world(scenario(0.1, 0.2), 0)
    fails = attempt_outcomes(world)
    poison = world.poison.tolist()
    n = world.size
    share = sum(poison) / n
    assert abs(share - 0.1) < 4 * math.sqrt(0.1 * 0.9 / n)
    outcomes = [fails(o, k) for o in range(n) if not poison[o] for k in range(1, 21)]
    rate = sum(outcomes) / len(outcomes)
    assert abs(rate - 0.2) < 4 * math.sqrt(0.2 * 0.8 / len(outcomes))
    assert all(fails(o, k) for o in range(n) if poison[o] for k in (1, 2, 50))
    again = attempt_outcomes(draw_world(scenario(0.1, 0.2), 0))
    assert [again(o, 3) for o in range(100)] == [fails(o, 3) for o in range(100)]
