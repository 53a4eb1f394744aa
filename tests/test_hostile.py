"""Inputs and faults a hostile or unlucky user brings: each is refused in a line (exit 2),
reported in a line (exit 1), or survived, and never costs unbounded time or a traceback.

Timing never decides a test: processes are stopped on signs that they reached a stage (a
line on stderr, a file), and timeouts are only upper bounds.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sim.cli import main
from sim.lock import lock_path, locked

ROOT = Path(__file__).resolve().parents[1]
ONE_CRASH = ROOT / "scenarios" / "one_crash.yaml"
SHORT = ["--replications", "2", "--set", "duration=60", "--set", "drain=30", "--no-plots"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(autouse=True)
def _keep_signals():
    """`main` installs signal handlers; give the test process its own back."""
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, handlers[0])
    signal.signal(signal.SIGTERM, handlers[1])


def sim(*args, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *map(str, args)],
        stdout=options.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=options.pop("env", ENV),
        **options,
    )


def refused(capsys, *args) -> str:
    """Run in this process; it must be refused (exit 2) without a traceback."""
    status = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    return err


def written(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


# --- results survive the terminal ------------------------------------------------------


def test_a_reader_that_goes_away_keeps_the_results(tmp_path):
    """`sim ... | head -1`, with the reader gone before anything is printed."""
    read, write = os.pipe()
    os.close(read)
    out = tmp_path / "out"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sim", ONE_CRASH, "--out", out, "--quiet", *SHORT],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            cwd=ROOT,
            env=ENV,
        )
    finally:
        os.close(write)
    assert done.returncode in (0, 141), done.stderr
    assert done.stderr == ""
    assert "summary.csv" in written(out)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_under_stdout_keeps_the_results(tmp_path):
    out = tmp_path / "out"
    with open("/dev/full", "w") as full:
        done = sim(ONE_CRASH, "--out", out, "--quiet", *SHORT, stdout=full)
    assert done.returncode == 1
    assert "could not print the results" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert "summary.csv" in written(out)


def test_an_ascii_terminal_gets_ascii(tmp_path):
    done = sim(
        ONE_CRASH, "--out", tmp_path / "out", "--quiet", *SHORT, "--set", "time_unit=µs",
        env={**ENV, "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "latency_mean (us)" in done.stdout  # the unit's micro sign, spelled in ASCII
    done.stdout.encode("ascii")
    done.stderr.encode("ascii")


@pytest.mark.parametrize("target", ["folder", "nowhere"])
def test_an_out_that_is_a_symbolic_link_is_refused_before_any_work(tmp_path, capsys, target):
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / target)
    err = refused(capsys, ONE_CRASH, "--out", tmp_path / "link", *SHORT)
    assert "symbolic link" in err
    assert written(tmp_path) == ["folder", "link"]


def test_an_out_under_a_file_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    err = refused(capsys, ONE_CRASH, "--out", tmp_path / "file" / "deeper" / "out", *SHORT)
    assert "which is not a folder" in err
    assert written(tmp_path) == ["file"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_the_results_folder_honours_the_umask(tmp_path, umask):
    out = tmp_path / "out"
    done = sim(
        ONE_CRASH, "--out", out, "--quiet", *SHORT, preexec_fn=lambda: os.umask(umask)
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "summary.csv").stat().st_mode) == 0o666 & ~umask


# --- bounded work for any input --------------------------------------------------------

BOMB = (
    "["
    + ",".join(
        [f"&a{0} [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
        + [f"&a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    )
    + "]"
)


@pytest.mark.parametrize("option", ["--set", "--sweep"])
def test_an_alias_bomb_in_an_option_is_refused_before_it_expands(tmp_path, capsys, option):
    err = refused(capsys, ONE_CRASH, "--out", tmp_path / "out", option, f"stores.count={BOMB}")
    assert "anchors and aliases are not allowed" in err
    assert len(err.splitlines()) == 1
    assert len(err) < 300


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{count: 3, <<: {count: 9999}}", "merge keys (<<) are not allowed"),
        ("{count: 3, count: 4}", "duplicate key 'count'"),
    ],
)
def test_merge_and_duplicate_keys_in_an_option_are_refused(tmp_path, capsys, value, message):
    err = refused(capsys, ONE_CRASH, "--out", tmp_path / "out", "--set", f"stores={value}")
    assert message in err


@pytest.mark.parametrize("value", ['{0: 5.0, 0x0: 0.5, "00": 2.0, +0: 9.0}', "{true: 2, 1.0: 3}"])
def test_keys_equal_once_read_are_refused(tmp_path, capsys, value):
    err = refused(
        capsys, ONE_CRASH, "--out", tmp_path / "out", "--set", f"balancer.weights={value}"
    )
    assert "the same key as" in err


def test_a_yaml_mistake_in_an_option_is_one_line(tmp_path, capsys):
    err = refused(capsys, ONE_CRASH, "--out", tmp_path / "out", "--set", "stores.count=[1,")
    assert err.count("\n") == 1
    assert "--set stores.count=[1,: the value is not valid YAML" in err


def test_a_key_swept_twice_is_refused(tmp_path, capsys):
    err = refused(
        capsys, ONE_CRASH, "--out", tmp_path / "out",
        "--sweep", "stores.count=4,5", "--sweep", "stores.count=6",
    )  # fmt: skip
    assert "stores.count is swept twice" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "100000"], "--jobs must be 1 to"),
        (["--max-replications", "-1"], "--max-replications must be 1 to 100,000"),
        (["--max-replications", "1000000000"], "--max-replications must be 1 to 100,000"),
        (["--cluster-timeout", "0"], "--cluster-timeout"),
        (["--cluster-timeout", "nan"], "--cluster-timeout"),
    ],
)
def test_absurd_options_are_refused(tmp_path, capsys, args, message):
    assert message in refused(capsys, ONE_CRASH, "--out", tmp_path / "out", *args)
    assert list(tmp_path.iterdir()) == []


def test_many_mistakes_are_located_in_one_pass_and_capped(tmp_path, capsys):
    """60,000 unknown keys (about 600 KB): fifty lines, then how many more."""
    text = ONE_CRASH.read_text() + "".join(f"k{i}: {i}\n" for i in range(60_000))
    path = tmp_path / "many.yaml"
    path.write_text(text)
    lines = refused(capsys, path, "--out", tmp_path / "out").splitlines()
    assert len(lines) == 51
    assert lines[0].endswith("k0: unknown key")
    assert lines[-1].endswith("and 59,950 more mistakes")


def test_a_huge_value_is_cut_short_in_messages(tmp_path, capsys):
    name, key = "x" * 600_000, "y" * 300_000
    path = tmp_path / "huge.yaml"
    path.write_text(f"name: {name}\n? {key}\n: 1\n" + ONE_CRASH.read_text().replace("name:", "#"))
    err = refused(capsys, path, "--out", tmp_path / "out")
    assert len(err.splitlines()) == 2
    assert all(len(line) < 400 for line in err.splitlines())
    assert "600,002 characters" in err  # the name, quoted
    assert "300,000 characters" in err  # the unknown key


# --- concurrent runs -------------------------------------------------------------------


def test_a_second_run_on_the_same_out_is_refused_clearly(tmp_path, capsys):
    out = tmp_path / "out"
    with locked(lock_path(out)):
        status = main([str(ONE_CRASH), "--out", str(out), "--quiet", *SHORT])
    err = capsys.readouterr().err
    assert status == 1
    assert f"another run (process {os.getpid()}) is writing there" in err
    assert not out.exists()


def test_four_runs_on_one_out_at_once_succeed_or_are_refused(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sim", ONE_CRASH, "--out", out, "--quiet", *SHORT]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for status, err in results:
        assert "Traceback" not in err
        assert status == 0 or (status == 1 and "another run" in err), err
    assert any(status == 0 for status, _ in results)
    assert "summary.csv" in written(out)
    assert written(tmp_path) == ["out"]  # no lock, cache or temporary left


# --- Ctrl-C from the first instant -----------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("stage", ["sim.interrupts", "numpy", "pandas", "matplotlib", "sim.cli"])
def test_an_interrupt_while_starting_exits_130_quietly(tmp_path, signum, stage):
    """`-X importtime` prints a line as each import finishes: interrupt right after one."""
    run = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "sim", ONE_CRASH, "--out", tmp_path / "out"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in run.stderr:
        seen.append(line)
        if line.rpartition("|")[2].strip() == stage:  # nested imports are indented
            run.send_signal(signum)
            break
    rest = run.stderr.read()
    assert run.wait(timeout=60) == 130, "".join(seen[-5:]) + rest
    assert "Traceback" not in rest
    assert "KeyboardInterrupt" not in rest
    assert not (tmp_path / "out").exists()


def test_an_interrupt_turned_into_another_error_is_still_an_interrupt(capsys):
    """A Ctrl-C inside an extension module's initialisation (matplotlib's `_image`, seen
    under load) surfaces as "ImportError: initialization failed": exit 130 all the same;
    the same error without a signal is a bug, raised as it is."""
    from sim.cli import _guarded

    def import_interrupted(args):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt as interrupt:
            raise ImportError("initialization failed") from interrupt

    def import_failed(args):
        raise ImportError("initialization failed")

    assert _guarded(import_interrupted, None) == 130
    assert "interrupted: no results written" in capsys.readouterr().err
    with pytest.raises(ImportError):
        _guarded(import_failed, None)


# --- Dask clusters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("foo://127.0.0.1:8786", "unknown protocol 'foo'"),
        ("tcp://127.0.0.1:99999", "the port must be 1 to 65535"),
        ("tcp://127.0.0.1", "not a scheduler address"),
        ("tcp://bad host:8786", "not a host name"),
    ],
)
def test_a_bad_scheduler_address_is_bad_input(tmp_path, capsys, address, message):
    assert message in refused(capsys, ONE_CRASH, "--out", tmp_path / "out", "--scheduler", address)


def cluster_failure(tmp_path, capsys, address: str) -> str:
    pytest.importorskip("dask.distributed")
    out = tmp_path / "out"
    args = [ONE_CRASH, "--out", out, "--quiet", "--scheduler", address, "--cluster-timeout", "1"]
    status = main([str(a) for a in [*args, *SHORT]])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Traceback" not in err
    assert not out.exists()
    return err


def test_tls_without_its_settings_is_a_clear_error(tmp_path, capsys):
    assert "cannot reach a Dask scheduler at tls://127.0.0.1:1" in cluster_failure(
        tmp_path, capsys, "tls://127.0.0.1:1"
    )


def test_a_port_that_is_not_a_scheduler_is_given_up_on(tmp_path, capsys):
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    thread = threading.Thread(
        target=lambda: accepted.extend(server.accept() for _ in range(1)), daemon=True
    )
    thread.start()
    try:
        port = server.getsockname()[1]
        err = cluster_failure(tmp_path, capsys, f"tcp://127.0.0.1:{port}")
    finally:
        server.close()
    assert "no answer within 1 s" in err


def test_a_cluster_without_workers_is_given_up_on(tmp_path, capsys):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=0, processes=False, dashboard_address=None, protocol="tcp"
    ) as cluster:
        err = cluster_failure(tmp_path, capsys, cluster.scheduler_address)
    assert "has had no workers for 1 s" in err


class FakeClient:
    """Stands in for a `dask.distributed.Client`: its workers, or a lost scheduler."""

    def __init__(self, workers: dict | None):
        self.workers = workers
        self.closed = False

    def nthreads(self) -> dict:
        if self.workers is None:
            raise OSError("connection closed")
        return self.workers

    def get_executor(self):
        return None

    def close(self) -> None:
        self.closed = True


def test_workers_leaving_mid_run_are_given_up_on_while_no_task_finishes(monkeypatch):
    from concurrent.futures import Future

    from sim import executors
    from sim.cluster import ClusterError, DaskExecutor

    monkeypatch.setattr(executors, "CHECK_SECONDS", 0.01)
    never = Future()  # a task that no worker will ever run
    with_workers = DaskExecutor(FakeClient({"tcp://w:1": 1}), "tcp://s:8786", timeout=0)
    without = DaskExecutor(FakeClient({}), "tcp://s:8786", timeout=0)
    lost = DaskExecutor(FakeClient(None), "tcp://s:8786", timeout=0)
    with_workers.check()  # workers there: keep waiting
    with pytest.raises(ClusterError, match="has had no workers"):
        next(executors._as_completed({never: 0}, without.check))
    with pytest.raises(ClusterError, match="lost the Dask scheduler"):
        lost.check()


def test_importing_sim_as_a_library_leaves_signals_alone():
    done = subprocess.run(
        [sys.executable, "-c", "import signal, sim; "
         "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
         "signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=ENV,
    )  # fmt: skip
    assert done.stdout.split() == ["True", "True"], done.stderr
