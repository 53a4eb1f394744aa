"""The world of a replication: deterministic, Poisson, and built on independent named streams."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
import xxhash

from sim.scenario import Scenario
from sim.world import ONLINE, World, draw_world, order_key


def scenario(**changes: Any) -> Scenario:
    """A small scenario with every kind of randomness; `changes` are dotted overrides."""
    data: dict[str, Any] = {
        "name": "world",
        "seed": 11,
        "duration": 100.0,
        "drain": 30.0,
        "stores": {"count": 3, "workers": 2},
        "orders": {
            "online": {"rate": 0.8},
            "offline": {"rate": 0.1},
            "prep_time": {"dist": "lognormal", "mean": 5.0, "cv": 0.5},
        },
        "failures": {"mtbf": 40.0, "mttr": 5.0},
    }
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        node = data
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return Scenario.from_mapping(data)


def online(world: World) -> np.ndarray:
    return world.pinned == ONLINE


def assert_same_orders(a: World, b: World) -> None:
    np.testing.assert_array_equal(a.arrival, b.arrival)
    np.testing.assert_array_equal(a.prep, b.prep)
    np.testing.assert_array_equal(a.pinned, b.pinned)
    np.testing.assert_array_equal(a.key_id, b.key_id)
    np.testing.assert_array_equal(a.key_hash, b.key_hash)


def test_same_seed_and_replication_give_the_same_world():
    s = scenario()
    a, b = draw_world(s, 3), draw_world(s, 3)
    assert_same_orders(a, b)
    assert a.outages == b.outages
    assert a.horizon == b.horizon == 130.0


def test_replications_differ():
    s = scenario()
    worlds = [draw_world(s, r) for r in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            a, b = worlds[i], worlds[j]
            assert a.size != b.size or not np.array_equal(a.arrival, b.arrival)
            assert a.outages != b.outages
            assert set(a.key_hash) - {0} != set(b.key_hash) - {0}


def test_seeds_differ():
    a, b = draw_world(scenario(seed=1), 0), draw_world(scenario(seed=2), 0)
    assert a.size != b.size or not np.array_equal(a.arrival, b.arrival)


@pytest.mark.parametrize(
    ("seed_a", "rep_a", "seed_b", "rep_b"), [(2**32, 0, 0, 1), (2**33 + 5, 0, 5, 2)]
)
def test_distinct_seed_and_replication_pairs_give_distinct_worlds(seed_a, rep_a, seed_b, rep_b):
    """Seeds may be any 63-bit integer: two different (seed, replication) pairs must not
    draw the same world (they would silently be the same replication twice)."""
    a = draw_world(scenario(seed=seed_a), rep_a)
    b = draw_world(scenario(seed=seed_b), rep_b)
    same = a.size == b.size and np.array_equal(a.arrival, b.arrival) and a.outages == b.outages
    assert not same, (
        f"seed {seed_a} replication {rep_a} draws the same world as "
        f"seed {seed_b} replication {rep_b}"
    )


def test_orders_are_sorted_and_arrive_during_the_run():
    s = scenario()
    for r in range(5):
        world = draw_world(s, r)
        assert world.size > 0
        assert np.all(np.diff(world.arrival) >= 0)
        assert np.all(world.arrival >= 0)
        assert np.all(world.arrival < s.duration)
        assert np.all(world.prep > 0)
        assert set(world.pinned.tolist()) <= {ONLINE, 0, 1, 2}
        assert len(world.key_hash) == world.size == len(world.prep) == len(world.key_id)


def test_online_orders_are_hashed_by_their_key_and_walk_ins_have_none():
    world = draw_world(scenario(), 0)
    is_online = online(world)
    for i in range(world.size):
        if is_online[i]:
            key = order_key(int(world.key_id[i]))
            assert int(world.key_hash[i]) == xxhash.xxh3_64_intdigest(key.encode())
            assert world.key_id[i] > 0
        else:
            assert world.key_hash[i] == 0
            assert world.key_id[i] == 0
    ids = world.key_id[is_online]
    assert len(set(ids.tolist())) == len(ids)  # 63-bit random ids: no repeats expected


def test_order_key_format():
    assert order_key(255) == "order-00000000000000ff"


def test_order_counts_are_poisson():
    """400 replications. Online orders: Poisson(0.8 · 100 = 80), so the mean count has sd
    sqrt(80 / 400) ≈ 0.45: five sd is 2.2. Walk-ins per store: Poisson(10), mean over
    400 · 3 store-replications has sd sqrt(10 / 1200) ≈ 0.09: five sd is 0.46. The sample
    variance of a Poisson count equals its mean; its sd over 400 draws is about
    80 · sqrt(2 / 399 + 1 / (80 · 400)) ≈ 5.7, so 80 ± 30 is over five sd.
    """
    s = scenario(failures={})
    online_counts, offline_counts = [], []
    for r in range(400):
        world = draw_world(s, r)
        online_counts.append(int(online(world).sum()))
        offline_counts += [int((world.pinned == store).sum()) for store in range(3)]
    assert np.mean(online_counts) == pytest.approx(80, abs=5 * np.sqrt(80 / 400))
    assert np.var(online_counts, ddof=1) == pytest.approx(80, abs=30)
    assert np.mean(offline_counts) == pytest.approx(10, abs=5 * np.sqrt(10 / 1200))


def test_no_orders_of_a_kind_with_rate_zero():
    world = draw_world(scenario(**{"orders.offline.rate": 0.0}), 0)
    assert np.all(online(world))
    world = draw_world(scenario(**{"orders.online.rate": 0.0}), 0)
    assert not np.any(online(world))
    assert set(world.key_hash) == {0}


# Common random numbers: each part of the world has its own stream.


def test_changing_mtbf_leaves_the_orders_alone():
    a, b = draw_world(scenario(), 2), draw_world(scenario(**{"failures.mtbf": 7.0}), 2)
    assert_same_orders(a, b)
    assert a.outages != b.outages


def test_changing_failures_off_leaves_the_orders_alone():
    a, b = draw_world(scenario(), 2), draw_world(scenario(failures={}), 2)
    assert_same_orders(a, b)
    assert b.outages == ((), (), ())


def test_changing_mtbf_keeps_the_repair_times():
    """Up and repair times are standard exponentials drawn in pairs and then scaled: with
    the same mttr, the repair times of the first outages stay the same."""
    a = draw_world(scenario(), 0).outages
    b = draw_world(scenario(**{"failures.mtbf": 80.0}), 0).outages
    compared = 0
    for store in range(3):
        ra = [end - start for start, end in a[store]]
        rb = [end - start for start, end in b[store]]
        common = min(len(ra), len(rb))
        compared += common
        np.testing.assert_allclose(ra[:common], rb[:common], rtol=1e-12)
    assert compared > 0


def test_changing_the_walk_in_rate_leaves_the_online_orders_alone():
    a = draw_world(scenario(), 1)
    b = draw_world(scenario(**{"orders.offline.rate": 0.5}), 1)
    assert online(b).sum() == online(a).sum()
    assert (~online(b)).sum() > (~online(a)).sum()
    np.testing.assert_array_equal(a.arrival[online(a)], b.arrival[online(b)])
    np.testing.assert_array_equal(a.prep[online(a)], b.prep[online(b)])
    np.testing.assert_array_equal(a.key_id[online(a)], b.key_id[online(b)])
    np.testing.assert_array_equal(a.key_hash[online(a)], b.key_hash[online(b)])
    assert a.outages == b.outages


def test_changing_the_online_rate_leaves_the_outages_and_walk_ins_alone():
    a = draw_world(scenario(), 1)
    b = draw_world(scenario(**{"orders.online.rate": 2.5}), 1)
    assert a.outages == b.outages
    np.testing.assert_array_equal(a.arrival[~online(a)], b.arrival[~online(b)])
    np.testing.assert_array_equal(a.prep[~online(a)], b.prep[~online(b)])
    np.testing.assert_array_equal(a.pinned[~online(a)], b.pinned[~online(b)])


def test_adding_a_store_leaves_the_other_stores_alone():
    a = draw_world(scenario(), 0)
    b = draw_world(scenario(**{"stores.count": 4}), 0)
    assert b.outages[:3] == a.outages
    for store in range(3):
        np.testing.assert_array_equal(a.arrival[a.pinned == store], b.arrival[b.pinned == store])


# Outages.


def check_outages(world: World) -> None:
    """Every store's outages are sorted, non-empty and neither overlap nor touch."""
    for outages in world.outages:
        for start, end in outages:
            assert start < end
            assert start < world.horizon
        for (_, end), (start, _) in itertools.pairwise(outages):
            assert end < start


def test_random_outages_are_sorted_and_disjoint():
    for mtbf, mttr in [(40.0, 5.0), (3.0, 3.0), (1.0, 20.0)]:
        s = scenario(**{"failures.mtbf": mtbf, "failures.mttr": mttr})
        for r in range(10):
            world = draw_world(s, r)
            check_outages(world)
            assert all(world.outages)


def test_random_outages_have_the_right_means():
    """Over many replications, up times average mtbf and repair times mttr (within 5%:
    thousands of exponential draws, so the standard error is about 1-2%)."""
    s = scenario(duration=2000.0, drain=500.0, **{"failures.mtbf": 40.0, "failures.mttr": 10.0})
    ups, repairs = [], []
    for r in range(20):
        for outages in draw_world(s, r).outages:
            previous_end = 0.0
            for start, end in outages:
                ups.append(start - previous_end)
                if end < s.horizon:
                    repairs.append(end - start)
                previous_end = end
    assert len(repairs) > 2000
    assert np.mean(ups) == pytest.approx(40.0, rel=0.05)
    assert np.mean(repairs) == pytest.approx(10.0, rel=0.05)


def test_scripted_crashes_appear_as_outages():
    s = scenario(
        failures={
            "scripted": [
                {"store": 1, "at": 50.0, "down_for": 10.0},
                {"store": 1, "at": 20.0, "down_for": 5.0},
                {"store": 2, "at": 0.0, "down_for": 500.0},
            ]
        }
    )
    world = draw_world(s, 0)
    assert world.outages == ((), ((20.0, 25.0), (50.0, 60.0)), ((0.0, 500.0),))


def test_overlapping_and_touching_scripted_crashes_are_merged():
    s = scenario(
        failures={
            "scripted": [
                {"store": 0, "at": 10.0, "down_for": 10.0},
                {"store": 0, "at": 15.0, "down_for": 2.0},
                {"store": 0, "at": 18.0, "down_for": 7.0},
                {"store": 0, "at": 25.0, "down_for": 5.0},
                {"store": 0, "at": 40.0, "down_for": 1.0},
            ]
        }
    )
    assert draw_world(s, 0).outages[0] == ((10.0, 30.0), (40.0, 41.0))


def merge(intervals: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def test_scripted_crash_overlapping_a_random_one_is_merged():
    base = draw_world(scenario(), 0)
    start, end = base.outages[1][0]
    at, down_for = (start + end) / 2, (end - start) * 3
    s = scenario(**{"failures.scripted": [{"store": 1, "at": at, "down_for": down_for}]})
    world = draw_world(s, 0)
    check_outages(world)
    assert world.outages[0] == base.outages[0]
    assert world.outages[2] == base.outages[2]
    assert world.outages[1] == merge([*base.outages[1], (at, at + down_for)])
    assert world.outages[1][0] == (start, max(end, at + down_for))
    assert len(world.outages[1]) <= len(base.outages[1])


SUBPROCESS = textwrap.dedent(
    """
    import json, sys
    from sim.scenario import Scenario
    from sim.world import draw_world
    world = draw_world(Scenario.from_mapping(json.loads(sys.argv[1])), 4)
    json.dump(
        {"arrival": world.arrival.tolist(), "prep": world.prep.tolist(),
         "key_hash": [int(h) for h in world.key_hash], "outages": world.outages},
        sys.stdout,
    )
    """
)


def test_world_is_the_same_in_another_process():
    s = scenario()
    world = draw_world(s, 4)
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    child = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, json.dumps(s.to_mapping())],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    drawn = json.loads(child.stdout)
    assert drawn["arrival"] == world.arrival.tolist()
    assert drawn["prep"] == world.prep.tolist()
    assert drawn["key_hash"] == [int(h) for h in world.key_hash]
    assert [[tuple(o) for o in store] for store in drawn["outages"]] == [
        list(store) for store in world.outages
    ]
