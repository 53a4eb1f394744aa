"""The command line, end to end: every shipped scenario runs, and the results folder keeps
the README's promises (columns, one row per design x replication, conservation, same seed
same bytes, `--jobs` changes nothing, a results folder is replaced whole).

Runs are short (an hour of arrivals, two replications) and go to `tmp_path`, never results/.
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.broker_sections import BROKER_SECTIONS
from sim.cli import main
from sim.loading import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
ONE_CRASH = ROOT / "scenarios" / "one_crash.yaml"

CONTRACT = [
    "design",
    "replication",
    "arrived",
    "completed",
    "lost",
    "unfinished",
    "duplicates",
    "wasted_work",
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "sla_missed",
]
SUMMARY_COLUMNS = ["design", "metric", "mean", "ci_low", "ci_high", "n"]
TIMELINE_EVENTS = {
    "crash",
    "recover",
    "detected_down",
    "detected_up",
    "redistribute",
    "rebalance",
    "left_group",
}
#: A short run of one_crash: its crash (store 1 at 60) stays inside [0, 90).
SHORT = [
    "--replications",
    "2",
    "--set",
    "duration=60",
    "--set",
    "drain=30",
    "--quiet",
    "--no-plots",
]
FIGURES = ["comparison.png", "latency.png", "load_after_crash.png", "report.md", "timeline.png"]


def listing(folder: Path) -> list[str]:
    """The files of a results folder, less the marker every results folder holds."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".written-by-sim")


def readme_columns(file: str) -> list[str]:
    """The columns README.md names for `file`, from its table of files or its
    "`file` columns:" paragraph."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next((line for line in readme.splitlines() if line.startswith(f"| `{file}` |")), "")
    paragraph = re.search(rf"^`{re.escape(file)}` columns:(.*?)(?:\n\n|\Z)", readme, re.S | re.M)
    text = paragraph.group(1) if paragraph else row.partition(f"`{file}`")[2]
    names = [name.strip() for group in re.findall(r"`([^`]+)`", text) for name in group.split(",")]
    names = [name for name in names if re.fullmatch(r"[a-z][a-z0-9_]*", name)]
    assert names, f"README.md names no columns for {file}"
    return names


def sim(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m sim ARGS` in `cwd`; fails the test unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", "sim", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def sim_in_process(*args: str | Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sim.cli.main(ARGS)` in `cwd`, in this process (no interpreter start-up to pay)."""
    monkeypatch.chdir(cwd)
    assert main([str(arg) for arg in args]) == 0


@pytest.fixture(autouse=True)
def _keep_sigterm():
    """`main` installs a SIGTERM handler; give the test process its own back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def short_horizon(path: Path) -> list[str]:
    """`--set`s for an hour of arrivals, drained long enough to finish a preparation and to
    keep every scripted crash and outage inside the run (one after the end is refused)."""
    scenario = load_scenario(path)
    failures, network = scenario.failures, scenario.network
    scripted = [
        *failures.scripted,
        *failures.slowdowns.scripted,
        *network.partitions.scripted,
        *(outage for group in failures.groups for outage in group.scripted),
        *scenario.database_outages.scripted,
        *scenario.orchestrator_outages.scripted,
    ]
    last = max((event.at for event in scripted), default=0)
    drain = max(30, math.ceil(2 * scenario.orders.prep_time.mean), math.ceil(last) - 60 + 10)
    # A sweep's runs are tested in test_sweep.py; here every file runs as a plain scenario.
    flat = ["--set", "sweep={}"] if scenario.sweep else []
    return ["--set", "duration=60", "--set", f"drain={drain}", "--set", "warmup=0", *flat]


def assert_no_leftovers(out: Path) -> None:
    """Nothing hidden (a staging or retired folder) beside the results folder."""
    hidden = [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    assert hidden == []


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda path: path.name)
def shipped(request, tmp_path_factory):
    """Each shipped scenario, run briefly: (scenario file, results folder, stdout)."""
    path = request.param
    work = tmp_path_factory.mktemp(path.stem)
    out = work / "out"
    done = sim(path, "--out", out, "--replications", "2", "--quiet", *short_horizon(path), cwd=work)
    return path, out, done.stdout


def test_plots_and_report_are_written_by_default(tmp_path, monkeypatch):
    out = tmp_path / "default"
    args = [a for a in SHORT if a != "--no-plots"]
    sim_in_process(ONE_CRASH, "--out", out, *args, cwd=tmp_path, monkeypatch=monkeypatch)
    assert listing(out) == sorted(
        ["comparisons.csv", "replications.csv", "scenario.yaml", "summary.csv", *FIGURES]
    )


@pytest.fixture(scope="module")
def with_orders(tmp_path_factory):
    """one_crash, short, seed 11, with --orders, into a nested --out."""
    work = tmp_path_factory.mktemp("orders")
    out = work / "custom" / "place"
    sim(ONE_CRASH, "--out", out, "--seed", "11", "--orders", *SHORT, cwd=work)
    return work, out


# --- every shipped scenario ---------------------------------------------------------------


def test_shipped_scenario_writes_the_results_folder(shipped):
    path, out, _ = shipped
    several = len(load_scenario(path).designs) > 1  # comparisons need a second design
    assert listing(out) == sorted(
        ["replications.csv", "scenario.yaml", "summary.csv", *FIGURES]
        + (["comparisons.csv"] if several else [])
    )
    assert_no_leftovers(out)


def test_shipped_scenario_replications_columns(shipped):
    _, out, _ = shipped
    columns = list(pd.read_csv(out / "replications.csv", nrows=0).columns)
    assert columns[: len(CONTRACT)] == CONTRACT
    assert columns == readme_columns("replications.csv")


def test_shipped_scenario_replications_rows(shipped):
    path, out, _ = shipped
    written = yaml.safe_load((out / "scenario.yaml").read_text(encoding="utf-8"))
    designs = list(written["designs"])
    assert designs == [design.name for design in load_scenario(path).designs]
    frame = pd.read_csv(out / "replications.csv")
    assert len(frame) == len(designs) * 2
    assert sorted(zip(frame["design"], frame["replication"], strict=True)) == sorted(
        (design, r) for design in designs for r in range(2)
    )
    parts = ("completed", "lost", "unfinished", "dead_lettered", "cancelled")
    assert (frame["arrived"] == sum(frame[part] for part in parts)).all()
    assert (frame["arrived"] > 0).all()


def test_shipped_scenario_summary_csv(shipped):
    _, out, _ = shipped
    replications = pd.read_csv(out / "replications.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS == readme_columns("summary.csv")
    metrics = list(replications.columns[2:])
    expected = {(d, m) for d in replications["design"].unique() for m in metrics}
    assert set(zip(summary["design"], summary["metric"], strict=True)) == expected
    assert len(summary) == len(expected)
    arrived = summary[summary["metric"] == "arrived"].set_index("design")["mean"]
    means = replications.groupby("design")["arrived"].mean()
    pd.testing.assert_series_equal(arrived.sort_index(), means.sort_index(), check_names=False)


def test_shipped_scenario_table_names_every_design(shipped):
    _, out, stdout = shipped
    designs = pd.read_csv(out / "replications.csv")["design"].unique()
    starts = {line.split()[0] for line in stdout.splitlines() if line and not line[0].isspace()}
    for design in designs:
        assert design in starts


def test_shipped_scenario_yaml_is_the_scenario_as_run(shipped):
    _, out, _ = shipped
    written = yaml.safe_load((out / "scenario.yaml").read_text(encoding="utf-8"))
    assert written["duration"] == 60
    assert written["warmup"] == 0
    assert written["replications"] == 2
    for design in written["designs"].values():
        # A broker design carries its broker's section too, every default filled in.
        broker = {design["queue"]} & set(BROKER_SECTIONS)
        assert set(design) == {"queue", "database", "orchestrator", "balancer", *broker}


# --- --orders, --out ----------------------------------------------------------------------


def test_orders_writes_orders_parquet(with_orders):
    _, out = with_orders
    orders = pd.read_parquet(out / "orders.parquet")
    replications = pd.read_csv(out / "replications.csv")
    # Every column the README lists, in its order (extra columns, such as order_key, allowed).
    listed = readme_columns("orders.parquet")
    assert [c for c in orders.columns if c in listed] == listed
    assert len(orders) == replications["arrived"].sum()
    statuses = ["completed", "lost", "unfinished", "dead_lettered", "cancelled"]
    assert set(orders["status"]) <= set(statuses)
    counted = orders.groupby(["design", "replication"])["status"].value_counts().unstack()
    counted = counted.reindex(columns=statuses, fill_value=0)
    by_run = replications.set_index(["design", "replication"])
    for status in statuses:
        pairs = counted[status].fillna(0).astype(int)
        assert (pairs == by_run.loc[pairs.index, status]).all()


def test_orders_writes_timeline_csv(with_orders):
    _, out = with_orders
    timeline = pd.read_csv(out / "timeline.csv")
    listed = readme_columns("timeline.csv")
    assert [c for c in timeline.columns if c in listed] == listed
    assert set(timeline["event"]) <= TIMELINE_EVENTS
    crashes = timeline[timeline["event"] == "crash"]
    assert len(crashes) > 0  # one_crash's scripted crash, in every design and replication
    assert set(crashes["store"]) == {1}
    assert (crashes["time"] == 60).all()


def test_out_is_honoured(with_orders):
    work, out = with_orders
    assert listing(out) == [
        "comparisons.csv",
        "orders.parquet",
        "replications.csv",
        "scenario.yaml",
        "summary.csv",
        "timeline.csv",
    ]
    assert [p.name for p in work.iterdir()] == ["custom"]  # no results/ in the working dir
    assert [p.name for p in out.parent.iterdir()] == ["place"]


def test_without_out_results_go_to_results_name(tmp_path, monkeypatch):
    sim_in_process(ONE_CRASH, *SHORT, cwd=tmp_path, monkeypatch=monkeypatch)
    assert [p.name for p in tmp_path.iterdir()] == ["results"]
    assert (tmp_path / "results" / "one_crash" / "summary.csv").is_file()
    assert_no_leftovers(tmp_path / "results" / "one_crash")


# --- seeds, re-runs, jobs -----------------------------------------------------------------


def same_files(first: Path, second: Path) -> None:
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(first / name), pd.read_parquet(second / name)
            )
        else:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_same_seed_gives_the_same_bytes(with_orders, tmp_path, monkeypatch):
    """Across processes, too: the first run was a subprocess, this one is not."""
    _, first = with_orders
    second = tmp_path / "again"
    args = ("--out", second, "--seed", "11", "--orders", *SHORT)
    sim_in_process(ONE_CRASH, *args, cwd=tmp_path, monkeypatch=monkeypatch)
    same_files(first, second)


def test_seed_changes_the_numbers(with_orders, tmp_path, monkeypatch):
    _, first = with_orders
    other = tmp_path / "other"
    args = ("--out", other, "--seed", "12", *SHORT)
    sim_in_process(ONE_CRASH, *args, cwd=tmp_path, monkeypatch=monkeypatch)
    a = pd.read_csv(first / "replications.csv")
    b = pd.read_csv(other / "replications.csv")
    assert list(a["design"]) == list(b["design"])
    assert not a.equals(b)
    assert (first / "summary.csv").read_bytes() != (other / "summary.csv").read_bytes()
    assert yaml.safe_load((other / "scenario.yaml").read_text(encoding="utf-8"))["seed"] == 12


def test_written_scenario_runs_again_to_the_same_numbers(with_orders, tmp_path, monkeypatch):
    _, first = with_orders
    again = tmp_path / "again"
    args = (first / "scenario.yaml", "--out", again, "--quiet")
    sim_in_process(*args, cwd=tmp_path, monkeypatch=monkeypatch)
    for name in ("replications.csv", "summary.csv", "scenario.yaml"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name


def test_jobs_give_the_same_bytes(with_orders, tmp_path):
    _, serial = with_orders
    parallel = tmp_path / "parallel"
    sim(
        ONE_CRASH,
        "--out",
        parallel,
        "--seed",
        "11",
        "--orders",
        "--jobs",
        "2",
        *SHORT,
        cwd=tmp_path,
    )
    same_files(serial, parallel)


def test_a_folder_sim_did_not_write_is_never_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "sim", str(ONE_CRASH), "--out", str(out), *SHORT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "did not write" in done.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    here = subprocess.run(
        [sys.executable, "-m", "sim", str(ONE_CRASH), "--out", ".", *SHORT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=out,
    )
    assert here.returncode == 2
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_an_existing_results_folder_is_replaced_whole(tmp_path, monkeypatch):
    out = tmp_path / "results" / "here"
    (out / "old").mkdir(parents=True)
    (out / ".written-by-sim").write_text("an earlier run", encoding="utf-8")
    (out / "stray.txt").write_text("from an earlier run", encoding="utf-8")
    (out / "old" / "plot.png").write_bytes(b"\x89PNG")
    (out / "summary.csv").write_text("stale", encoding="utf-8")
    sim_in_process(ONE_CRASH, "--out", out, *SHORT, cwd=tmp_path, monkeypatch=monkeypatch)
    assert listing(out) == [
        "comparisons.csv",
        "replications.csv",
        "scenario.yaml",
        "summary.csv",
    ]
    assert (out / "summary.csv").read_text(encoding="utf-8").startswith("design,metric,")
    assert [p.name for p in out.parent.iterdir()] == ["here"]  # no hidden temp folder


def test_an_outage_of_the_kafka_cluster_turns_away_what_the_database_turns_away(
    tmp_path, monkeypatch
):
    """kafka.yaml with the outage its header shows, shortened: every design with a
    database or a broker rejects the same online orders (those arriving in the outage);
    ram_only none; every order is accounted for."""
    out = tmp_path / "outage"
    outage = "database.outages={scripted: [{at: 30, down_for: 10}]}"
    path = ROOT / "scenarios" / "kafka.yaml"
    args = ["--replications", "2", "--no-plots", "--quiet", *short_horizon(path)]
    sim_in_process(
        path, "--out", out, *args, "--set", outage, cwd=tmp_path, monkeypatch=monkeypatch
    )
    runs = pd.read_csv(out / "replications.csv")
    assert (runs["arrived"] == runs["completed"] + runs["lost"] + runs["unfinished"]).all()
    rejected = runs.pivot(index="replication", columns="design", values="rejected")
    assert (rejected["ram_only"] == 0).all()
    others = rejected.drop(columns="ram_only")
    assert (others.min(axis=1) == others.max(axis=1)).all()
    assert (others["kafka_default"] > 0).all()
