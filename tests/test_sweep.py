"""Sweeps, executors, resume, precision and plan."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import sim
import sim.experiment
import sim.sweep
from sim.cache import Cache
from sim.executors import Runner, make_runner
from sim.plan import Evaluation, parse_target, plan, search
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]


def small_sweep(**changes) -> Scenario:
    data = {
        "name": "small",
        "seed": 3,
        "duration": 120.0,
        "drain": 60.0,
        "replications": 3,
        "stores": {"count": 3, "workers": 2},
        "orders": {"online": {"rate": 0.6}, "prep_time": {"dist": "exponential", "mean": 5}},
        "failures": {"mtbf": 60.0, "mttr": 10.0},
        "designs": {"ram": {"queue": "ram"}, "ring": {"queue": "db"}},
        "sweep": {"stores.count": [2, 3], "orchestrator.poll_interval": [0.5, 4]},
        **changes,
    }
    return Scenario.from_mapping(data)


def test_a_sweep_has_one_row_per_cell_design_and_replication_carrying_its_values():
    results = sim.run(small_sweep())
    frame = results.replications
    assert len(frame) == 4 * 2 * 3
    assert list(frame.columns[-3:]) == ["cell", "stores.count", "orchestrator.poll_interval"]
    cells = frame.groupby("cell")[["stores.count", "orchestrator.poll_interval"]].first()
    assert cells.values.tolist() == [[2, 0.5], [2, 4.0], [3, 0.5], [3, 4.0]]
    # A sweep over a design section sets it in every design; ram_only does not poll.
    ring = frame[frame["design"] == "ring"].groupby("orchestrator.poll_interval")
    assert ring["detection_delay"].mean()[4.0] > ring["detection_delay"].mean()[0.5]
    summary = results.summary
    assert len(summary) == 4 * 2 * len(sim.metrics.METRICS)
    assert {"cell", "stores.count"} <= set(summary.columns)


def test_a_sweep_over_a_broker_key_sets_it_in_that_brokers_designs_only():
    scenario = small_sweep(
        designs={
            "ring": {"queue": "db"},
            "kafka": {"queue": "kafka"},
            "kafka_pinned": {"queue": "kafka", "kafka": {"assignor": "sticky"}},
        },
        sweep={"kafka.partitions": [2, 6]},
    )
    grid = sim.sweep.cells(scenario)
    for cell, partitions in zip(grid, (2, 6), strict=True):
        assert cell.scenario.design("ring").kafka is None
        assert cell.scenario.design("kafka").kafka.partitions == partitions
        pinned = cell.scenario.design("kafka_pinned").kafka
        assert (pinned.partitions, pinned.assignor) == (partitions, "sticky")
    frame = sim.run(scenario).replications
    lag = frame[frame["design"] == "kafka"].groupby("kafka.partitions")["max_lag"].mean()
    assert lag[2] > lag[6]  # fewer partitions, longer queues in each


def test_serial_process_pool_and_dask_cluster_give_identical_results():
    scenario = small_sweep()
    serial = sim.run(scenario, runner=Runner(None))
    pooled = sim.run(scenario, runner=make_runner(jobs=2))
    pd.testing.assert_frame_equal(serial.replications, pooled.replications)
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = sim.run(scenario, runner=make_runner(scheduler=cluster.scheduler_address))
    pd.testing.assert_frame_equal(serial.replications, on_dask.replications)
    pd.testing.assert_frame_equal(serial.summary, on_dask.summary)


def test_an_interrupted_sweep_resumes_without_redoing_finished_work(tmp_path, monkeypatch):
    scenario = small_sweep()
    cache = Cache(tmp_path / "cache")
    calls: list[tuple[int, ...]] = []
    real = sim.experiment.run_batch

    def interrupted(cell_scenario, replications, keep_orders):
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C after three tasks
        calls.append(tuple(replications))
        return real(cell_scenario, replications, keep_orders)

    monkeypatch.setattr(sim.experiment, "run_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sim.run(scenario, cache=cache)
    kept = sorted(p.name for p in cache.folder.iterdir())
    assert len(kept) == sum(len(c) for c in calls) > 0

    calls.clear()
    counted: list[tuple[int, ...]] = []

    def counting(cell_scenario, replications, keep_orders):
        counted.append(tuple(replications))
        return real(cell_scenario, replications, keep_orders)

    monkeypatch.setattr(sim.experiment, "run_batch", counting)
    resumed = sim.run(scenario, cache=cache)
    assert sum(len(c) for c in counted) == 4 * 3 - len(kept)
    monkeypatch.setattr(sim.experiment, "run_batch", real)
    fresh = sim.run(scenario)
    pd.testing.assert_frame_equal(resumed.replications, fresh.replications)


def test_a_failing_cell_reports_its_error_and_keeps_the_others(monkeypatch):
    real = sim.experiment.run_batch

    def flaky(cell_scenario, replications, keep_orders):
        if (
            cell_scenario.stores.count == 3
            and cell_scenario.designs[1].orchestrator.poll_interval == 4
        ):
            raise RuntimeError("disk on fire")
        return real(cell_scenario, replications, keep_orders)

    monkeypatch.setattr(sim.experiment, "run_batch", flaky)
    results = sim.run(small_sweep())
    assert list(results.errors) == [3]
    assert "disk on fire" in results.errors[3]
    assert sorted(results.replications["cell"].unique()) == [0, 1, 2]


def die_once(marker: str, value: int) -> int:
    """A task whose worker dies the first time it runs (a killed worker)."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return value * 2


def test_a_dead_worker_is_replaced_and_its_task_runs_again(tmp_path):
    marker = str(tmp_path / "died")
    runner = Runner(lambda: ProcessPoolExecutor(max_workers=2))
    results = {
        key: (value, error)
        for key, value, error in runner.run(die_once, [(i, (marker, i)) for i in range(4)])
    }
    assert {key: value for key, (value, _) in results.items()} == {0: 0, 1: 2, 2: 4, 3: 6}
    assert all(error is None for _, error in results.values())


def test_precision_adds_replications_until_intervals_are_narrow():
    scenario = small_sweep(sweep={}, replications=2, failures={})
    results = sim.run(scenario, precision=0.2, max_replications=60)
    n = results.replications["replication"].nunique()
    assert 2 < n <= 60
    watched = results.summary[results.summary["metric"].isin(sim.experiment.PRECISION_METRICS)]
    watched = watched.dropna(subset=["mean"])
    half = (watched["ci_high"] - watched["ci_low"]) / 2
    assert n == 60 or (half <= 0.2 * watched["mean"].abs() + 1e-12).all()


def test_the_sweep_figure_has_a_colour_per_series_and_units(tmp_path):
    results = sim.run(small_sweep())
    fig, ax = plt.subplots(figsize=(14, 8))
    assert sim.plots.sweep(results, ax=ax) is fig
    panels = [a for a in fig.axes if a.get_visible()]
    assert len(panels) == 4
    colours = {tuple(bars.lines[0].get_color()) for bars in panels[0].containers}
    assert len(colours) == 4  # 2 designs x 2 polling intervals, each its own colour
    assert panels[2].get_ylabel() == "95th percentile latency (min)"
    assert panels[0].get_xlabel() == "stores.count (stores)"
    assert not list(tmp_path.iterdir())
    plt.close(fig)


def test_precision_not_reached_is_a_warning_naming_what_missed():
    scenario = small_sweep(sweep={}, replications=2)
    results = sim.run(scenario, precision=0.001, max_replications=4)
    assert results.replications["replication"].nunique() == 4
    assert len(results.warnings) == 1
    warning = results.warnings[0]
    assert "precision 0.001 not reached" in warning
    assert "at 4 replications" in warning
    assert "ring latency_mean" in warning or "ram latency_mean" in warning


def test_paired_differences_are_design_minus_baseline_per_replication():
    results = sim.run(small_sweep(sweep={}))
    frame = results.replications.set_index(["design", "replication"])["lost"]
    expected = (frame["ring"] - frame["ram"]).mean()
    row = results.comparisons.query("metric == 'lost'").iloc[0]
    assert (row["design"], row["baseline"]) == ("ring", "ram")
    assert row["mean_difference"] == pytest.approx(expected)


# --- plan ------------------------------------------------------------------------------------


def test_search_finds_the_smallest_feasible_value_with_few_runs():
    runs = []

    def run(value):
        runs.append(value)
        return Evaluation(value, [{"met": value >= 11}])

    answer, _evaluations = search(1, 40, run)
    assert answer == 11
    assert len(runs) <= 9  # bisection: about log2(40) + 3 runs, not 40
    assert 10 in runs
    assert 12 in runs
    assert search(1, 40, lambda v: Evaluation(v, [{"met": False}]))[0] is None
    assert search(5, 40, lambda v: Evaluation(v, [{"met": True}]))[0] == 5


def test_targets_are_read_and_refused_clearly():
    target = parse_target("latency_p99 <= 30")
    assert (target.metric, target.op, target.bound) == ("latency_p99", "<=", 30.0)
    assert target.judge([10.0, 12.0, 11.0], 0.95)[0]
    assert not target.judge([29.0, 35.0, 31.0], 0.95)[0]  # the interval reaches past 30
    assert parse_target("lost == 0").judge([0, 0, 0], 0.95)[0]
    assert not parse_target("lost == 0").judge([0, 1, 0], 0.95)[0]
    with pytest.raises(ValueError, match="unknown metric"):
        parse_target("latency <= 3")
    with pytest.raises(ValueError, match="expected"):
        parse_target("lost is small")


def test_plan_finds_the_known_answer():
    """One worker per store, deterministic 1-minute preparations, 2.5 online orders a
    minute, no crashes: with 2 stores the queues grow without end (load 1.25 each), with
    3 stores (about 0.83 each) they stay short. The answer to "p95 latency at most 30" is
    3 stores."""
    scenario = Scenario.from_mapping(
        {
            "name": "known",
            "seed": 1,
            "duration": 400.0,
            "drain": 600.0,
            "replications": 5,
            "stores": {"count": 1, "workers": 1},
            "orders": {"online": {"rate": 2.5}, "prep_time": {"dist": "deterministic", "mean": 1}},
            "designs": {"ram": {"queue": "ram"}},
            "plan": {"key": "stores.count", "low": 1, "high": 12, "targets": ["latency_p95 <= 30"]},
        }
    )
    found = plan(scenario)
    answer, evaluations = found.answer, found.evaluations
    assert answer == 3
    assert set(found.evidence["value"]) == {e.value for e in evaluations}
    fig, ax = plt.subplots()
    assert sim.plots.plan(found, ax=ax) is fig
    points = fig.axes[0].collections[-1]  # the scatter: a colour per value tried
    assert len(points.get_facecolors()) == len(evaluations)
    plt.close(fig)
    by_value = {e.value: e.feasible for e in evaluations}
    assert by_value[2] is False
    assert by_value[3] is True
    assert by_value[4] is True


def test_plan_and_sweep_from_the_command_line(tmp_path):
    short = ["--replications", "2", "--set", "duration=120", "--quiet", "--jobs", "1"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            str(ROOT / "scenarios" / "capacity.yaml"),
            *short,
            "--out",
            str(tmp_path / "sweep"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    sweep = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert {"stores.count", "orchestrator.poll_interval", "cell"} <= set(sweep.columns)
    assert not (tmp_path / "sweep" / "sweep.csv").exists()  # one file per content
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "## Findings" in report
    assert "`stores.count` 5 → 10" in report
    assert "5, 6, 8 or 10 (swept) stores" in report
    assert (tmp_path / "sweep" / "sweep.png").stat().st_size > 10_000
    assert "stores.count" in done.stdout
    planned = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "plan",
            str(ROOT / "scenarios" / "capacity.yaml"),
            *short,
            "--set",
            "plan.high=6",
            "--out",
            str(tmp_path / "plan"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert planned.returncode == 0, planned.stderr
    assert "stores.count" in planned.stdout
    plan_csv = pd.read_csv(tmp_path / "plan" / "plan.csv")
    assert set(plan_csv["value"]) <= set(range(4, 7))
    assert (tmp_path / "plan" / "plan.png").is_file()


def test_a_bad_sweep_value_is_refused_before_anything_runs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            str(ROOT / "scenarios" / "one_crash.yaml"),
            "--sweep",
            "stores.count=0,3",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--sweep stores.count=0,3" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
