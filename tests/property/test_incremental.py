"""Incremental membership gives exactly the answers of a strategy built from scratch.

Random walks of removals and additions (including stores the strategy never saw, and
walks down to a single member), compared after every step with a fresh build over the
same members: same store for every key, one by one and, where a strategy has it, with
`lookup_many`. Also through the `Balancer`, down to no members and back.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.hashing import STRATEGIES, build_strategy, key_hash
from sim.model.balancer import Balancer
from sim.scenario import BalancerSpec

KEYS = [key_hash(f"walk-{i}") for i in range(400)]
STORES = 14  # configured stores; walks start from a subset of them
LOADS = [(7 * s) % 5 for s in range(STORES)]  # fixed loads for bounded


def build(name: str, members, weights) -> object:
    return build_strategy(
        name,
        members,
        8,
        stores=STORES,
        weights=weights if name in ("ring", "bounded") else None,
        table_size=251,
        epsilon=0.5,
        load=LOADS.__getitem__,
    )


def answers(strategy) -> list[int]:
    return [strategy.lookup(k) for k in KEYS]


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(STRATEGIES),
    initial=st.sets(st.integers(0, STORES - 1), min_size=1, max_size=STORES),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, STORES - 1)), max_size=25),
    weighted=st.booleans(),
)
def test_incremental_membership_answers_as_a_fresh_build(name, initial, steps, weighted):
    weights = {1: 2.0, 4: 0.5} if weighted else None
    strategy = build(name, initial, weights)
    members = set(initial)
    hashes = np.array(KEYS, dtype=np.uint64)
    for adding, store in steps:
        if adding:
            strategy.add(store)
            members.add(store)
        elif members - {store}:
            strategy.remove(store)
            members.discard(store)
        fresh = build(name, members, weights)
        assert strategy.members == fresh.members == tuple(sorted(members))
        expected = answers(fresh)
        assert answers(strategy) == expected
        if hasattr(strategy, "lookup_many"):
            assert strategy.lookup_many(hashes).tolist() == expected


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(STRATEGIES),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, STORES - 1)), max_size=40),
)
def test_the_balancer_routes_as_a_fresh_build_even_through_no_members(name, steps):
    balancer = Balancer(
        BalancerSpec(strategy=name, vnodes=8, table_size=251, epsilon=0.5),
        STORES,
        LOADS.__getitem__,
    )
    hashes = np.array(KEYS, dtype=np.uint64)
    for adding, store in steps:
        (balancer.add if adding else balancer.remove)(store)
        assert balancer.outside == set(range(STORES)) - balancer.members
        routed = [balancer.route(k) for k in KEYS]
        many = balancer.route_many(hashes)
        if not balancer.members:
            assert routed == [None] * len(KEYS)
            assert many is None
            continue
        assert routed == answers(build(name, balancer.members, None))
        if name in ("ring", "modulo", "maglev"):
            assert many.tolist() == routed
        else:
            assert many is None
