"""One repetition on the real broker: consumers as processes, the producer and the
controller in this process, the schedule replayed in real time.

The run starts when every consumer has said it is ready (t0). The controller then walks
the schedule: publishes each order at its arrival time, and on each scripted crash
SIGKILLs the store's consumer (or SIGSTOPs it, for a `freeze`), restarting a fresh
process at the end of the outage. At the horizon every consumer is killed; the dead-letter
queue is read (those are the dead-lettered orders), then the queue (unfinished), then the
dead-letter queue again (a message moved there by that last read was still in the queue at
the horizon). Lost orders are those neither completed, nor dead-lettered, nor left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.calibration.brokers import ADMINS
from benchmarks.calibration.cases import Case
from benchmarks.calibration.compare import Outcome
from benchmarks.calibration.schedule import Schedule

CONSUMER = Path(__file__).with_name("consumer.py")
READY_TIMEOUT = 60.0


@dataclass
class Diagnostics:
    """What the real side saw beyond the outcome: how late the controller acted, how long
    a restarted consumer took to be ready, and the load average during the run."""

    late: list[float] = field(default_factory=list)
    restart_ready: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)


class Fleet:
    """The consumer processes, one per store, restarted as the controller says."""

    def __init__(self, folder: Path, base: dict):
        self.folder = folder
        self.base = base
        self.processes: dict[int, subprocess.Popen] = {}
        self.incarnations: dict[int, int] = {}

    def start(self, store: int) -> Path:
        incarnation = self.incarnations.get(store, -1) + 1
        self.incarnations[store] = incarnation
        events = self.folder / f"events-{store}-{incarnation}.log"
        settings = {**self.base, "store": store, "events": str(events)}
        self.processes[store] = subprocess.Popen(
            [sys.executable, str(CONSUMER), json.dumps(settings)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=(self.folder / f"stderr-{store}-{incarnation}.log").open("wb"),
        )
        return events

    def signal(self, store: int, sig: int) -> None:
        process = self.processes[store]
        if process.poll() is None:
            process.send_signal(sig)
        if sig == signal.SIGKILL:
            process.wait()

    def kill_all(self) -> None:
        for store in self.processes:
            self.signal(store, signal.SIGKILL)

    def events(self) -> list[tuple[float, str, int, int]]:
        found = []
        for path in sorted(self.folder.glob("events-*.log")):
            for line in path.read_text().splitlines():
                stamp, kind, store, order = line.split()
                found.append((float(stamp), kind, int(store), int(order)))
        return found


def wait_ready(path: Path, process: subprocess.Popen) -> float:
    """Wait for a consumer's `ready` line; its time (epoch seconds)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                if " ready " in line:
                    return float(line.split()[0])
        if process.poll() is not None:
            raise RuntimeError(f"a consumer exited with status {process.returncode}: "
                               f"see {path.parent}")
        time.sleep(0.02)
    raise RuntimeError(f"a consumer was not ready in {READY_TIMEOUT:.0f} s: see {path.parent}")


def run_repetition(server: dict, case: Case, schedule: Schedule, folder: Path, run: str):
    """Replay `schedule` on the real broker; the `Outcome` and the `Diagnostics`."""
    shutil.rmtree(folder, ignore_errors=True)  # the events files are appended to
    folder.mkdir(parents=True)
    admin = ADMINS[case.broker](server, case, run)
    diagnostics = Diagnostics()
    try:
        base = {"broker": case.broker, "host": server["host"], "port": server["port"],
                **admin.consumer_settings()}
        fleet = Fleet(folder, base)
        stores = case.scenario(1).stores.count
        files = [fleet.start(store) for store in range(stores)]
        t0 = max(wait_ready(path, fleet.processes[s]) for s, path in enumerate(files))
        crashes = _replay(admin, fleet, schedule, t0, diagnostics, case.crash)
        _sleep_until(t0 + schedule.horizon)
        fleet.kill_all()
        dead = admin.dead_lettered()
        left = admin.remaining() | (admin.dead_lettered() - dead)
    finally:
        if "fleet" in locals():
            fleet.kill_all()
        admin.close()
    events = [(t - t0, kind, store, order) for t, kind, store, order in fleet.events()
              if kind != "ready" and t - t0 < schedule.horizon]
    arrived = len(schedule.orders)
    completed = {order for _, kind, _, order in events if kind == "done"}
    lost = set(range(arrived)) - completed - dead - left
    return Outcome(arrived, events, crashes, dead, lost), diagnostics


def _replay(admin, fleet: Fleet, schedule: Schedule, t0: float, diagnostics, crash: str):
    """Walk the schedule in real time; the crashes as they happened (store, time)."""
    crashes = []
    restarting: list[tuple[int, Path, float]] = []
    for at, what, item in schedule.actions():
        _sleep_until(t0 + at)
        diagnostics.late.append(time.time() - t0 - at)
        if what == "publish":
            admin.publish(item)
        elif what == "crash":
            fleet.signal(item.store, signal.SIGSTOP if crash == "freeze" else signal.SIGKILL)
            crashes.append((item.store, time.time() - t0))
            diagnostics.load.append(os.getloadavg()[0])
        else:
            fleet.signal(item.store, signal.SIGKILL)
            restarting.append((item.store, fleet.start(item.store), time.time()))
    for store, path, started in restarting:
        diagnostics.restart_ready.append(wait_ready(path, fleet.processes[store]) - started)
    return crashes


def _sleep_until(moment: float) -> None:
    left = moment - time.time()
    if left > 0:
        time.sleep(left)
