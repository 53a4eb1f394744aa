"""Recorded logs: read, checked row by row (mistakes at file:line), replayed exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.errors import ScenarioError
from sim.world import ONLINE, draw_world

SCENARIO = """\
name: replay
duration: 100
drain: 50
replications: 3
stores: {count: 2, workers: 1}
orders:
  trace: log.csv
  prep_time: {dist: exponential, mean: 5}
"""
LOG = """\
time,kind,store,prep_time,key
3.5,online,,2.0,17
1.25,offline,1,,
7,online,,,
7,offline,0,4.5,
"""


def write(folder: Path, log: str = LOG, scenario: str = SCENARIO) -> Path:
    (folder / "log.csv").write_text(log)
    path = folder / "replay.yaml"
    path.write_text(scenario)
    return path


def test_every_replication_replays_the_log_exactly(tmp_path):
    scenario = sim.load_scenario(write(tmp_path))
    results = sim.run(scenario, keep_orders=True)
    for _, orders in results.orders.groupby(["design", "replication"], observed=True):
        assert orders["arrival"].tolist() == [1.25, 3.5, 7.0, 7.0]
        assert orders["kind"].tolist() == ["offline", "online", "online", "offline"]
        assert orders["pinned_store"].tolist()[::3] == [1, 0]
        assert orders["prep_time"].tolist()[1] == 2.0
        assert orders["prep_time"].tolist()[3] == 4.5
        assert orders["order_key"].tolist()[1] == 17
    worlds = [draw_world(scenario, r) for r in range(2)]
    assert worlds[0].prep[0] != worlds[1].prep[0]  # a blank prep_time is drawn anew


def test_parquet_logs_are_read_too(tmp_path):
    frame = pd.DataFrame(
        {"time": [2.0, 1.0], "kind": ["online", "offline"], "store": [None, 1], "key": [5, None]}
    )
    frame.to_parquet(tmp_path / "log.parquet")
    path = write(tmp_path, scenario=SCENARIO.replace("log.csv", "log.parquet"))
    world = draw_world(sim.load_scenario(path), 0)
    assert world.arrival.tolist() == [1.0, 2.0]
    assert world.pinned.tolist() == [1, ONLINE]
    assert world.key_id.tolist() == [0, 5]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("abc,online,,,", ":3: time: not a finite number >= 0 (got 'abc')"),
        ("-1,online,,,", ":3: time: not a finite number >= 0"),
        ("5,takeaway,,,", ":3: kind: not online or offline (got 'takeaway')"),
        ("5,offline,,,", ":3: store: a walk-in needs a store number >= 0"),
        ("5,offline,1.5,,", ":3: store: a walk-in needs a store number >= 0 (got '1.5')"),
        ("5,online,,0,", ":3: prep_time: not a number > 0 (got '0')"),
        ("5,online,,,x1", ":3: key: not an integer in [1, 2^63) (got 'x1')"),
        ("5,offline,2,,", ":3: store: no such store (stores are 0 to 1)"),
        ("", ":3: time: not a finite number >= 0 (got '')"),
    ],
)
def test_a_bad_row_is_reported_at_its_line(tmp_path, row, message):
    path = write(tmp_path, log=f"time,kind,store,prep_time,key\n1,online,,,\n{row}\n")
    with pytest.raises(ScenarioError) as caught:
        sim.load_scenario(path)
    log = tmp_path / "log.csv"
    assert any(f"{log}{message}" in line for line in caught.value.lines), caught.value.lines
    assert caught.value.lines[0].startswith(f"{path}:7:")  # the scenario's `trace:` line


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ("time,when\n1,2\n", "unknown columns when"),
        ("kind\nonline\n", "no column `time`"),
        ("time\n", "no orders"),
        ("time\n\x00\n", "NUL"),
    ],
)
def test_a_bad_file_is_refused(tmp_path, log, message):
    with pytest.raises(ScenarioError) as caught:
        sim.load_scenario(write(tmp_path, log=log))
    assert message in "\n".join(caught.value.lines)


def test_orders_logged_after_the_arrivals_end_are_left_out(tmp_path):
    scenario = sim.load_scenario(write(tmp_path), duration=7)
    assert draw_world(scenario, 0).arrival.tolist() == [1.25, 3.5]
    notes = sim.run(scenario).notes
    assert notes == [
        "orders.trace: 2 of 4 orders arrive at or after duration (7) and were left out"
    ]
    with pytest.raises(ScenarioError, match="no order before duration"):
        sim.load_scenario(write(tmp_path), duration=1)


def test_rates_and_a_trace_do_not_mix(tmp_path):
    path = write(tmp_path, scenario=SCENARIO + "  online: {rate: 1}\n")
    with pytest.raises(ScenarioError, match=r"orders\.online\.rate: leave it out"):
        sim.load_scenario(path)


def test_the_command_line_exits_2_and_writes_nothing(tmp_path):
    path = write(tmp_path, log="time\n1\nlater\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sim", str(path), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "log.csv:3: time: not a finite number" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_the_shipped_log_replays(tmp_path):
    scenario = sim.load_scenario("scenarios/friday_log.yaml", replications=2)
    log = pd.read_csv("scenarios/data/friday.csv")
    world = draw_world(scenario, 1)
    assert np.array_equal(world.arrival, np.sort(log["time"].to_numpy(), kind="stable"))
