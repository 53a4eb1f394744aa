"""Demand profiles: the integrated rate and its inverse, and the keys that set them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.demand import Profile, poisson_times
from sim.errors import ScenarioError

DOMINOES = "scenarios/dominoes.yaml"


def test_step_profile_integrates_piecewise():
    profile = Profile.build({0: 0.5, 10: 2.0, 30: 0.0}, "step", 40.0)
    assert profile.total == pytest.approx(0.5 * 10 + 2.0 * 20)
    assert profile.multiplier(np.array([0, 9.9, 10, 35])).tolist() == [0.5, 0.5, 2.0, 0.0]
    assert profile.cumulative(np.array([20.0]))[0] == pytest.approx(5 + 20)


def test_linear_profile_moves_in_straight_lines_then_stays():
    profile = Profile.build({0: 0.0, 10: 2.0}, "linear", 20.0)
    assert profile.multiplier(np.array([5.0, 15.0])).tolist() == [1.0, 2.0]
    assert profile.total == pytest.approx(10 + 20)


@given(
    levels=st.lists(st.floats(0, 5), min_size=1, max_size=6),
    shape=st.sampled_from(["step", "linear"]),
    share=st.floats(0, 0.999),
)
def test_invert_undoes_cumulative(levels, shape, share):
    points = {10.0 * i: level for i, level in enumerate(levels)}
    if not any(levels):
        points[0.0] = 1.0
    profile = Profile.build(points, shape, 10.0 * len(levels))
    u = np.array([share * profile.total])
    t = profile.invert(u)
    assert 0 <= t[0] < 10.0 * len(levels)
    assert profile.cumulative(t)[0] == pytest.approx(u[0], abs=1e-7 * max(1, profile.total))


def test_no_profile_draws_as_before():
    """The homogeneous draw is unchanged: a Poisson count, then sorted uniforms."""
    rng, again = np.random.default_rng(3), np.random.default_rng(3)
    expected = np.sort(again.uniform(0.0, 100.0, again.poisson(50.0)))
    assert np.array_equal(poisson_times(rng, 0.5, 100.0), expected)


def test_arrivals_follow_the_profile_of_each_stream():
    scenario = sim.load_scenario(
        DOMINOES,
        orders__online__profile={0: 0.0, 240: 1.0},
        orders__offline__profile="same",
    )
    world = sim.world.draw_world(scenario, 0)
    assert world.size > 0
    assert world.arrival.min() >= 240


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("orders__online__profile", {60: 1.0}, "must have a multiplier at time 0"),
        ("orders__online__profile", {0: 0.0}, "every multiplier before duration is 0"),
        ("orders__online__profile", {0: 1.0, 480: 0.0, 500: 1.0}, None),
        ("orders__online__profile", {0: 0.0, 480: 2.0}, "every multiplier before duration is 0"),
        ("orders__online__profile", "same", "`same` is for offline"),
        ("orders__offline__profile", "same", "needs orders.online.profile"),
        ("orders__online__profile_shape", "cubic", "'step' or 'linear'"),
        ("stores__workers", [4, 4], "lists 2 stores but stores.count is 6"),
        ("stores__workers", [4, 4, 4, 0, 4, 4], "greater than or equal to 1"),
    ],
)
def test_demand_keys_are_checked(key, value, message):
    if message is None:  # times after the end of arrivals are allowed, and never reached
        sim.load_scenario(DOMINOES, **{key: value})
        return
    with pytest.raises(ScenarioError) as caught:
        sim.load_scenario(DOMINOES, **{key: value})
    assert any(message in line for line in caught.value.lines), caught.value.lines


def test_profile_reads_back_from_the_scenario_as_run():
    scenario = sim.load_scenario(
        DOMINOES, orders__online__profile={0: 0.5, 60: 2}, stores__workers=[1, 2, 3, 4, 5, 6]
    )
    again = sim.scenario.Scenario.from_mapping(scenario.to_mapping())
    assert again == scenario
