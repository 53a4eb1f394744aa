"""Hash strategies: which keys move when a store leaves, how evenly keys spread, determinism.

All hashes are xxh3-64 of fixed bytes, so every number here is the same on every run: the
tolerances below are stated against the sampling error one would expect from random keys,
not tuned to pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.hashing import Modulo, Rendezvous, Ring, build_strategy, key_hash
from sim.model.balancer import Balancer
from sim.scenario import BalancerSpec

KEYS = [key_hash(f"k{i}") for i in range(20_000)]
MANY_KEYS = [key_hash(f"k{i}") for i in range(200_000)]

CONSISTENT = [
    pytest.param(lambda members: Ring(members, vnodes=1), id="ring-1"),
    pytest.param(lambda members: Ring(members, vnodes=16), id="ring-16"),
    pytest.param(lambda members: Ring(members, vnodes=160), id="ring-160"),
    pytest.param(lambda members: Ring(members, vnodes=1000), id="ring-1000"),
    pytest.param(Rendezvous, id="rendezvous"),
]


def lookups(strategy, keys=KEYS) -> np.ndarray:
    return np.array([strategy.lookup(k) for k in keys])


def test_key_hash_is_xxh3_64():
    """Regression test: xxh3-64 of the empty string and of a fixed key (published values)."""
    assert key_hash("") == 0x2D06800538D394C2
    assert key_hash("k0") == key_hash("k0")
    assert 0 <= key_hash("order-0000000000000001") < 2**64


@pytest.mark.parametrize("make", CONSISTENT)
@pytest.mark.parametrize("n", range(3, 11))
def test_removing_a_store_moves_only_its_keys_and_adding_it_back_restores_all(make, n):
    members = list(range(n))
    before = lookups(make(members))
    assert set(before.tolist()) <= set(members)
    for leaving in sorted({0, n // 2, n - 1}):
        after = lookups(make([m for m in members if m != leaving]))
        owned = before == leaving
        # Every key of the leaving store moves (it is no longer a member) ...
        assert not np.any(after[owned] == leaving)
        # ... and every other key keeps its store.
        np.testing.assert_array_equal(after[~owned], before[~owned])
    # Building the full membership again gives back the original mapping, key for key.
    np.testing.assert_array_equal(lookups(make(members)), before)


@pytest.mark.parametrize("n", range(4, 11))
def test_modulo_moves_most_keys_when_a_store_leaves(n):
    """hash mod n → hash mod (n − 1): about 1 − 1/n of the keys move, over half for n ≥ 4."""
    members = list(range(n))
    before = lookups(Modulo(members))
    for leaving in sorted({0, n // 2, n - 1}):
        after = lookups(Modulo([m for m in members if m != leaving]))
        moved = np.mean(after != before)
        assert moved > 0.5, (n, leaving, moved)


def test_modulo_with_three_stores_still_moves_more_than_the_leaving_share():
    before = lookups(Modulo([0, 1, 2]))
    after = lookups(Modulo([0, 2]))
    assert np.mean(after != before) > np.mean(before == 1) + 0.2


@settings(max_examples=60, deadline=None)
@given(
    members=st.sets(st.integers(0, 200), min_size=2, max_size=12),
    data=st.data(),
    vnodes=st.integers(1, 200),
    strategy=st.sampled_from(["ring", "rendezvous"]),
)
def test_movement_property_for_any_membership(members, data, vnodes, strategy):
    leaving = data.draw(st.sampled_from(sorted(members)), label="leaving")
    keys = KEYS[:1500]
    before = lookups(build_strategy(strategy, members, vnodes), keys)
    rest = members - {leaving}
    after = lookups(build_strategy(strategy, rest, vnodes), keys)
    owned = before == leaving
    assert set(after.tolist()) <= rest
    np.testing.assert_array_equal(after[~owned], before[~owned])
    np.testing.assert_array_equal(lookups(build_strategy(strategy, members, vnodes), keys), before)


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(2, 8),
    data=st.data(),
    strategy=st.sampled_from(["modulo", "ring", "rendezvous"]),
)
def test_balancer_remove_then_add_restores_routing(count, data, strategy):
    balancer = Balancer(BalancerSpec(strategy=strategy, vnodes=40), count, load=lambda store: 0)
    keys = KEYS[:500]
    before = [balancer.route(k) for k in keys]
    leaving = data.draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count))
    for store in leaving:
        balancer.remove(store)
    rest = set(range(count)) - set(leaving)
    routed = [balancer.route(k) for k in keys]
    if rest:
        assert set(routed) <= rest
    else:
        assert routed == [None] * len(keys)
    for store in leaving:
        balancer.add(store)
    assert [balancer.route(k) for k in keys] == before


def coefficient_of_variation(loads: np.ndarray) -> float:
    return float(loads.std() / loads.mean())


def test_ring_balance_improves_with_vnodes():
    """Ten stores, 200,000 keys.

    With v points per store, a store's share of the ring has a coefficient of variation of
    about 1/sqrt(v) (0.1 at 100, 0.032 at 1000); the keys add sampling noise of about
    sqrt(10 / 200,000) = 0.007. Tolerances are twice the theory: CV < 0.2 at 100 vnodes and
    < 0.07 at 1000. One point per store is badly skewed (CV near 1): more than 0.3.
    """
    cv = {
        v: coefficient_of_variation(
            np.bincount(lookups(Ring(range(10), v), MANY_KEYS), minlength=10)
        )
        for v in (1, 100, 1000)
    }
    assert cv[1] > 0.3
    assert cv[100] < 0.2
    assert cv[1000] < 0.07
    assert cv[1] > cv[100] > cv[1000]


@pytest.mark.parametrize("n", [3, 7, 10])
def test_rendezvous_shares_are_even(n):
    """100,000 keys: each share has sd sqrt(p(1−p)/N) ≤ 0.0016; 5% of 1/n is ≥ 3 such sd."""
    keys = MANY_KEYS[:100_000]
    shares = np.bincount(lookups(Rendezvous(range(n)), keys), minlength=n) / len(keys)
    np.testing.assert_allclose(shares, 1 / n, rtol=0.05)


SUBPROCESS = textwrap.dedent(
    """
    import json, sys
    from sim.hashing import build_strategy, key_hash
    keys = [key_hash(f"k{i}") for i in range(3000)]
    out = {"hashes": keys}
    for name in ("modulo", "ring", "rendezvous"):
        for members in ([0, 1, 2, 3, 4], [1, 3, 4, 7]):
            strategy = build_strategy(name, members, 50)
            out[f"{name}-{members}"] = [strategy.lookup(k) for k in keys]
    json.dump(out, sys.stdout)
    """
)


def test_lookups_are_the_same_in_another_process():
    """Python's salted `hash` must play no part: the child runs with other PYTHONHASHSEEDs."""
    keys = [key_hash(f"k{i}") for i in range(3000)]
    expected = {"hashes": keys}
    for name in ("modulo", "ring", "rendezvous"):
        for members in ([0, 1, 2, 3, 4], [1, 3, 4, 7]):
            strategy = build_strategy(name, members, 50)
            expected[f"{name}-{members}"] = [strategy.lookup(k) for k in keys]
    for hash_seed in ("1", "987654"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        child = subprocess.run(
            [sys.executable, "-c", SUBPROCESS], env=env, capture_output=True, text=True, check=True
        )
        assert json.loads(child.stdout) == expected


def test_build_strategy_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="unknown strategy"):
        build_strategy("random", [0, 1])


@pytest.mark.parametrize("name", ["modulo", "ring", "rendezvous"])
def test_a_strategy_needs_members(name):
    with pytest.raises(ValueError, match="at least one member"):
        build_strategy(name, [])


@pytest.mark.parametrize("name", ["modulo", "ring", "rendezvous"])
def test_member_order_does_not_matter(name):
    a = lookups(build_strategy(name, [4, 1, 3], 20), KEYS[:2000])
    b = lookups(build_strategy(name, (m for m in [1, 3, 4]), 20), KEYS[:2000])
    np.testing.assert_array_equal(a, b)
