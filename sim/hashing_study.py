"""The hashing study: movement, balance and speed of every strategy, without SimPy.

For `stores` stores and `keys` random keys, each strategy is measured on:
- `moved`: the share of all keys that change store when one store leaves, averaged over
  which store leaves (ideal: the leaving store's share, 1 / stores on average);
- `survivors_moved`: the share of the keys of the stores that stayed up that change store
  anyway (ideal 0: these moves are what cause duplicates in the seed's design; when the
  store comes back, the same keys move again, the other way);
- `max_over_mean`: the busiest store's keys over the mean, with every store up;
- `lookups_per_s`: look-ups per second of this implementation.

Bounded loads place keys one at a time, each store holding at most ceil((1 + epsilon) *
placed / n) keys, as when orders arrive one by one and nobody finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.hashing import build_strategy, key_hash


@dataclass(frozen=True)
class Variant:
    """A strategy and its settings, as studied."""

    label: str
    strategy: str
    vnodes: int = 160
    epsilon: float = 0.25


VARIANTS = (
    Variant("modulo", "modulo"),
    Variant("ring (1 vnode)", "ring", vnodes=1),
    Variant("ring (160 vnodes)", "ring", vnodes=160),
    Variant("rendezvous", "rendezvous"),
    Variant("jump", "jump"),
    Variant("maglev", "maglev"),
    Variant("bounded (eps 0.25)", "bounded", epsilon=0.25),
)
COLUMNS = (
    "strategy",
    "stores",
    "keys",
    "moved",
    "ideal_moved",
    "survivors_moved",
    "max_over_mean",
    "lookups_per_s",
)


def assign(variant: Variant, members: Sequence[int], stores: int, hashes: Sequence[int]):
    """Each key's store, placing keys in order (loads matter to bounded loads only), and
    the seconds the placing took (building the strategy excluded)."""
    loads = [0] * stores
    strategy = build_strategy(
        variant.strategy,
        members,
        variant.vnodes,
        stores=stores,
        epsilon=variant.epsilon,
        load=loads.__getitem__,
    )
    placed = []
    started = time.perf_counter()
    for h in hashes:
        store = strategy.lookup(h)
        loads[store] += 1
        placed.append(store)
    elapsed = time.perf_counter() - started
    return np.array(placed, dtype=np.int64), elapsed


def measure(variant: Variant, stores: int, hashes: Sequence[int]) -> dict[str, float]:
    """One row of the study for one strategy."""
    everyone = list(range(stores))
    full, elapsed = assign(variant, everyone, stores, hashes)
    moved, survivors = [], []
    for leaving in everyone:
        without, _ = assign(variant, [s for s in everyone if s != leaving], stores, hashes)
        stayed = full != leaving
        moved.append(np.mean(full != without))
        survivors.append(np.mean(full[stayed] != without[stayed]))
    counts = np.bincount(full, minlength=stores)
    return {
        "strategy": variant.label,
        "stores": stores,
        "keys": len(hashes),
        "moved": float(np.mean(moved)),
        "ideal_moved": 1 / stores,
        "survivors_moved": float(np.mean(survivors)),
        "max_over_mean": float(counts.max() / counts.mean()),
        "lookups_per_s": len(hashes) / elapsed,
    }


def study(
    stores: int = 10,
    keys: int = 20_000,
    variants: Sequence[Variant] = VARIANTS,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The study's table: one row per strategy."""
    hashes = [key_hash(f"key-{i}") for i in range(keys)]
    rows = []
    for variant in variants:
        if progress:
            progress(variant.label)
        rows.append(measure(variant, stores, hashes))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def format_study(frame: pd.DataFrame) -> str:
    """The table printed by `python -m sim hashing`."""
    stores, keys = int(frame["stores"].iloc[0]), int(frame["keys"].iloc[0])
    lines = [
        f"One store of {stores} leaves ({keys:,} keys; averaged over which store leaves)",
        "",
        f"  {'strategy':<20}{'moved':>8}{'ideal':>8}{'survivors':>11}"
        f"{'max/mean':>10}{'lookups/s':>12}",
    ]
    for row in frame.itertuples(index=False):
        lines.append(
            f"  {row.strategy:<20}{row.moved:>8.3f}{row.ideal_moved:>8.3f}"
            f"{row.survivors_moved:>11.3f}"
            f"{row.max_over_mean:>10.3f}{row.lookups_per_s:>12,.0f}"
        )
    lines += [
        "",
        "moved: share of all keys that change store; ideal: 1/stores. survivors: share of",
        "the keys of stores that stayed up that move anyway (these cause duplicates).",
        "max/mean: the busiest store's keys over the mean, every store up.",
    ]
    return "\n".join(lines)
