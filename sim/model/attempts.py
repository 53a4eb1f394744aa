"""Which attempts at preparing an order fail: poison orders, and failures at random.

The outcome of the k-th attempt at order i (attempts numbered across every store, in the
order they start) is a function of the world alone: poison orders fail every time; any
other order's attempt k fails when the xxh3 hash of k, seeded with the order's
`attempt_seed`, falls below `attempt_failure` of the hash range. Every design thus sees the
same outcome for the same attempt of the same order (common random numbers), however many
attempts its semantics lead to, and no random stream is consumed while a design runs.
"""

from __future__ import annotations

from collections.abc import Callable

import xxhash

from sim.world import World

#: The most attempts at one order that are simulated. An order that fails this often (a
#: poison order retried in place, by `ram_only`, a walk-in's store or a Kafka consumer, or
#: redelivered without a dead-letter queue) keeps its worker busy from its next attempt
#: on, until a crash frees it, as endless retries would, without an event per retry: with
#: a preparation time near 0 those would be unbounded work. It never completes either way.
MAX_ATTEMPTS = 10_000
#: `fails(order, attempt)`: whether that attempt fails; None when no attempt ever fails.
Fails = Callable[[int, int], bool] | None


def attempt_outcomes(world: World) -> Fails:
    """The failure rule of `world`, or None when nothing ever fails (the fast path)."""
    poison = None if world.poison is None else world.poison.tolist()
    seeds = None if world.attempt_seed is None else world.attempt_seed.tolist()
    if poison is None and seeds is None:
        return None
    threshold = int(world.attempt_failure * 2**64)
    digest = xxhash.xxh3_64_intdigest

    def fails(order: int, attempt: int) -> bool:
        if poison is not None and poison[order]:
            return True
        if seeds is None:
            return False
        return digest(attempt.to_bytes(8, "little"), seed=seeds[order]) < threshold

    return fails
