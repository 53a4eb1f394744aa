"""The network between the orchestrator and the stores: lost poll answers and partitions.

A poll answer is lost independently with probability `network.poll_loss`; the poll
numbers of the lost answers are drawn in the world (`World.lost_polls`). A partition cuts
a store off the orchestrator only: the store is up, preparing and taking orders, but its
answers do not arrive.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence

import numpy as np
from simpy import Environment

from sim.model.outages import Switch
from sim.records import Recorder

NONE: tuple[int, ...] = ()


class Network:
    """What reaches the orchestrator: `cut[s]` while store `s` is partitioned off, and
    `lost(k)`, the stores whose answer to poll number `k` is lost."""

    def __init__(
        self,
        env: Environment,
        stores: int,
        recorder: Recorder,
        partitions: Sequence[Sequence[tuple[float, float]]] = (),
        lost_polls: Sequence[np.ndarray] = (),
    ):
        self.env = env
        self.recorder = recorder
        self.partitions = partitions
        self.cut = [False] * stores
        # Called when a store is cut off or reconnected: the orchestrator watches it.
        self.on_cut: Callable[[int], None] = lambda store: None
        ticks = np.concatenate([np.asarray(t, dtype=np.int64) for t in lost_polls] or [[]])
        owners = np.concatenate(
            [np.full(len(t), s, dtype=np.int64) for s, t in enumerate(lost_polls)] or [[]]
        )
        order = np.argsort(ticks, kind="stable")  # by poll number, then by store
        self.ticks: list[int] = ticks[order].astype(np.int64).tolist()
        self.owners: list[int] = owners[order].astype(np.int64).tolist()
        self.position = 0

    def start(self) -> None:
        for store, intervals in enumerate(self.partitions):
            Switch(
                self.env,
                intervals,
                lambda store=store: self._partition(store, True),
                lambda store=store: self._partition(store, False),
            ).start()

    def _partition(self, store: int, cut: bool) -> None:
        self.cut[store] = cut
        self.recorder.event(self.env.now, "partition" if cut else "partition_end", store)
        self.on_cut(store)

    def lost(self, tick: int) -> tuple[int, ...] | list[int]:
        """Stores whose answer to poll `tick` is lost (polls are asked in increasing
        order; polls not held, while the orchestrator was down, are skipped)."""
        ticks = self.ticks
        if self.position >= len(ticks) or ticks[self.position] > tick:
            return NONE
        start = bisect_left(ticks, tick, self.position)
        end = bisect_right(ticks, tick, start)
        self.position = end
        return self.owners[start:end]

    def next_loss(self, tick: int) -> int | None:
        """The first poll number after `tick` with a lost answer, if any."""
        index = bisect_right(self.ticks, tick, self.position)
        return self.ticks[index] if index < len(self.ticks) else None
