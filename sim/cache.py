"""Finished replications kept on disk while a run is under way, so an interrupted run
resumes where it stopped.

Each replication of each cell is one file, named by a hash of what determines its result:
the cell's resolved scenario (less the number of replications, which does not change any
one replication), the replication number, whether per-order tables are kept, and the
version of `sim`. A run that completes removes its cache.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

from sim import __version__
from sim.scenario import Scenario
from sim.trace import read_trace

VERSION = "1"  # bump when a change to the model changes results


def cell_key(scenario: Scenario, keep_orders: bool) -> str:
    """What identifies a cell's results, as 16 hex digits."""
    data = scenario.to_mapping()
    data.pop("replications")
    if scenario.orders.trace is not None:  # the log's bytes, not only its name
        data["trace_digest"] = read_trace(scenario.orders.trace).digest
    order = list(data["designs"])  # sort_keys below would hide the designs' order
    text = json.dumps([data, order, keep_orders, VERSION, __version__], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Cache:
    """A folder of finished replications, each file a SHA-256 checksum then the pickled
    result; a missing or damaged file is simply run again."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, key: str, replication: int) -> Path:
        return self.folder / f"{key}-{replication}.pickle"

    def load(self, key: str, replication: int) -> Any | None:
        """The stored result, or None (missing, damaged or unreadable: run it again)."""
        try:
            content = self.path(key, replication).read_bytes()
        except OSError:
            return None
        digest, payload = content[:32], content[32:]
        if hashlib.sha256(payload).digest() != digest:
            return None  # damaged: the checksum written with it does not match
        try:
            return pickle.loads(payload)  # our own file, written by `store`, checksum intact
        except Exception:  # written by another version of sim, say: run it again
            return None

    def store(self, key: str, replication: int, result: Any) -> None:
        """Write atomically: a temporary file renamed into place."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(key, replication)
        partial = target.with_suffix(".partial")
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        partial.write_bytes(hashlib.sha256(payload).digest() + payload)
        partial.replace(target)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
