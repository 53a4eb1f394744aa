"""A run that is killed part-way leaves the previous results whole and nothing half-written."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "dominoes.yaml"


def sim(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sim", str(SCENARIO), "--quiet", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_a_finished_replication(cache: Path, run: subprocess.Popen) -> None:
    """Until a replication is kept in the cache: the run is then well into the simulation,
    long before the writing, however slowly it started."""
    while not (cache.exists() and any(cache.glob("*.simrep"))):
        assert run.poll() is None, "the run ended before any replication was kept"
        time.sleep(0.05)  # polling for the file; the wait is as long as it takes


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_killed_run_leaves_previous_results_intact(tmp_path, signum):
    out = tmp_path / "dominoes"
    first = sim("--out", str(out), "--replications", "2", "--orders")
    assert first.wait(timeout=120) == 0, first.stderr.read()
    before = snapshot(out)

    # 4,000 replications take minutes even on an idle machine, so the run cannot end on
    # its own before the signal reaches it (with 400, half a minute here, a run on a busy
    # machine once exited 0 after the signal: it had presumably finished meanwhile).
    long = sim("--out", str(out), "--replications", "4000", "--orders", "--seed", "99")
    wait_for_a_finished_replication(tmp_path / ".dominoes.partial", long)
    signalled = time.perf_counter()
    long.send_signal(signum)
    status = long.wait(timeout=120)
    # It stops now, not after the queued replications (the default is a process pool):
    # a generous bound for a loaded machine.
    assert time.perf_counter() - signalled < 30

    assert status != 0
    assert snapshot(out) == before
    left = {p.name for p in tmp_path.iterdir()}
    # Finished replications are kept for the next run; a lock file survives only kill -9
    # (and then locks nothing); no temporary folder is ever left.
    assert left - {".dominoes.partial", ".dominoes.lock"} == {"dominoes"}
    if signum != signal.SIGKILL:
        assert ".dominoes.lock" not in left
        stderr = long.stderr.read()
        assert status == 130
        assert "interrupted" in stderr
        assert "Traceback" not in stderr


def test_interrupt_while_writing_leaves_old_or_new_results_never_a_mix(tmp_path):
    """Kill a run at many instants around its end: every time, the folder holds one
    complete set of results (the old one or the new one), never a mix."""
    out = tmp_path / "one_crash"
    scenario = ROOT / "scenarios" / "one_crash.yaml"
    command = [sys.executable, "-m", "sim", str(scenario), "--quiet", "--orders"]
    subprocess.run(
        [*command, "--out", str(out), "--seed", "1"], check=True, cwd=ROOT, capture_output=True
    )
    old = snapshot(out)
    started = time.perf_counter()
    subprocess.run(
        [*command, "--out", str(tmp_path / "timing"), "--seed", "2"],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    full = time.perf_counter() - started
    news = []
    for fraction in (0.6, 0.8, 0.9, 1.0):
        run = subprocess.Popen(
            [*command, "--out", str(out), "--seed", "2"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(full * fraction)
        run.kill()
        run.wait()
        now = snapshot(out)
        assert now == old or set(now) == set(old), "a partial set of result files"
        if now != old:
            news.append(now)
    for new in news:
        assert new == snapshot(tmp_path / "timing")
