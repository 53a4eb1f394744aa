"""The record of one run: flat per-order columns and a timeline, turned into DataFrames once.

Components write here where each event happens. Columns are preallocated `array.array`s
(8 or 4 bytes an order, fast item access), never a Python object per order. "Has not
happened" is NaN.
"""

from __future__ import annotations

import math
from array import array

import numpy as np
import pandas as pd

from sim.world import ONLINE, World

#: Why an order was lost; 0 means it was not.
LOST_REASONS = {1: "crash", 2: "store_down", 3: "broker_down", 4: "failed"}
#: failed: an attempt failed with no copy left to try again (a broker's auto-ack).
CRASH, STORE_DOWN, BROKER_DOWN, FAILED = 1, 2, 3, 4
KINDS = ["online", "offline"]
STATUSES = ["completed", "lost", "unfinished", "dead_lettered"]
TIMELINE_COLUMNS = ("time", "event", "store", "orders", "moved", "lost", "detection_delay")


class Recorder:
    """Per-order columns and timeline events of one design in one replication."""

    def __init__(self, orders: int, trace: bool = False):
        #: With `trace`, every step of every order as (time, what, store, order), where
        #: `what` is sent, ignored, refused, start, finish, fail (an attempt that failed),
        #: abandon, drop, discard (a delivery of a channel the broker closed), lost, done
        #: or dead_letter (store -1: a broker's DLQ).
        self.trace: list[tuple[float, str, int, int]] | None = [] if trace else None
        nan = array("d", [math.nan])
        self.first_completion = nan * orders
        self.done_at = nan * orders  # when the D status landed (database designs)
        self.lost_at = nan * orders
        self.dead_lettered_at = nan * orders  # moved to a dead-letter queue (brokers)
        self.deliveries = array("i", bytes(4 * orders))  # times a broker delivered it
        self.work = array("d", bytes(8 * orders))  # preparation time spent, all attempts
        self.completions = array("i", bytes(4 * orders))
        self.attempts = array("i", bytes(4 * orders))
        self.moves = array("i", bytes(4 * orders))
        self.sent_to = array("i", [-1]) * orders
        self.lost_reason = array("b", bytes(orders))
        self.timeline: list[tuple] = []
        self.peak_held: list[int] = []  # per store, the most orders it held at once
        #: Totals a design reports itself at the end of the run (Kafka: paused_time,
        #: max_lag), read by `sim.metrics.replication_metrics`.
        self.counters: dict[str, float] = {}

    def complete(self, order: int, now: float, prep: float) -> None:
        """A preparation of `order` finished at `now`."""
        count = self.completions[order]
        self.completions[order] = count + 1
        self.work[order] += prep
        if count == 0:
            self.first_completion[order] = now

    def lose(self, order: int, now: float, reason: int) -> None:
        """`order` can never be finished: its only copy is gone."""
        self.lost_reason[order] = reason
        self.lost_at[order] = now
        if self.trace is not None:
            self.trace.append((now, "lost", -1, order))

    def dead_letter(self, order: int, now: float) -> None:
        """`order` was moved to a dead-letter queue: a person must look at it."""
        if self.dead_lettered_at[order] != self.dead_lettered_at[order]:  # NaN: the first
            self.dead_lettered_at[order] = now
        if self.trace is not None:
            self.trace.append((now, "dead_letter", -1, order))

    def event(
        self,
        time: float,
        event: str,
        store: int = -1,
        orders: int = 0,
        moved: int = 0,
        lost: int = 0,
        detection_delay: float = math.nan,
    ) -> None:
        """A timeline event: crash, recover, detected_down, detected_up, redistribute."""
        self.timeline.append((time, event, store, orders, moved, lost, detection_delay))

    def orders_frame(self, world: World) -> pd.DataFrame:
        """One row per order, with its outcome."""
        completions = np.frombuffer(self.completions, dtype=np.int32)
        reason = np.frombuffer(self.lost_reason, dtype=np.int8)
        dead = ~np.isnan(np.frombuffer(self.dead_lettered_at, dtype=np.float64))
        status = np.where(completions > 0, 0, np.where(reason > 0, 1, np.where(dead, 3, 2))).astype(
            np.int8
        )
        sent_to = np.frombuffer(self.sent_to, dtype=np.int32).copy()
        online = world.pinned == ONLINE
        return pd.DataFrame(
            {
                "order_id": np.arange(world.size, dtype=np.int64),
                "order_key": np.where(online, world.key_id, 0),
                "kind": pd.Categorical.from_codes(online.astype(np.int8) ^ 1, KINDS),
                "pinned_store": pd.arrays.IntegerArray(world.pinned.astype(np.int32), online),
                "arrival": world.arrival,
                "prep_time": world.prep,
                "first_completion": np.frombuffer(self.first_completion, dtype=np.float64),
                "done_at": np.frombuffer(self.done_at, dtype=np.float64),
                "completions": completions,
                "attempts": np.frombuffer(self.attempts, dtype=np.int32),
                "work": np.frombuffer(self.work, dtype=np.float64),
                "status": pd.Categorical.from_codes(status, STATUSES),
                "lost_reason": pd.Categorical.from_codes(reason - 1, list(LOST_REASONS.values())),
                "lost_at": np.frombuffer(self.lost_at, dtype=np.float64),
                "last_store": pd.arrays.IntegerArray(sent_to, sent_to < 0),
                "moves": np.frombuffer(self.moves, dtype=np.int32),
                "deliveries": np.frombuffer(self.deliveries, dtype=np.int32),
                "dead_lettered_at": np.frombuffer(self.dead_lettered_at, dtype=np.float64),
            }
        )

    def timeline_frame(self) -> pd.DataFrame:
        """One row per crash, recovery, detection and redistribution, in time order."""
        frame = pd.DataFrame(self.timeline, columns=list(TIMELINE_COLUMNS))
        frame = frame.astype(
            {
                "time": "float64",
                "event": "string",
                "orders": "int64",
                "moved": "int64",
                "lost": "int64",
                "detection_delay": "float64",
            }
        )
        frame["store"] = pd.array(frame["store"].to_numpy(dtype=np.int64), dtype="Int64")
        frame["store"] = frame["store"].mask(frame["store"] < 0)
        return frame
