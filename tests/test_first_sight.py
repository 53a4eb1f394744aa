"""What a newcomer meets first: the study and the scenarios keep their own folders, the
progress bar has a total, mistakes get a "did you mean", help says what it means, and
the Python API takes what a newcomer would hand it."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
HASHING = ROOT / "scenarios" / "hashing.yaml"
TINY = """\
name: tiny
seed: 2
duration: 30
drain: 30
replications: 2
stores: {count: 2, workers: 1}
orders:
  online: {rate: 0.3}
  prep_time: {dist: exponential, mean: 2}
designs:
  ram_only: {queue: ram}
  mq: {queue: db}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_the_hashing_study_and_the_hashing_scenario_keep_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    short = ["--replications", "2", "--set", "duration=130", "--set", "drain=30"]
    assert main([str(HASHING), *short, "--quiet", "--no-plots", "--jobs", "1"]) == 0
    assert main(["hashing", "--stores", "3", "--keys", "200"]) == 0
    assert (tmp_path / "results" / "hashing" / "summary.csv").is_file()
    assert (tmp_path / "results" / "hashing_study" / "hashing.csv").is_file()
    assert not (tmp_path / "results" / "hashing" / "hashing.csv").exists()


def test_the_progress_bar_counts_every_design_run_against_a_total(tiny, capsys):
    sim.run(sim.load_scenario(tiny), progress=True)
    bar = capsys.readouterr().err
    assert "4/4" in bar  # 1 cell x 2 designs x 2 replications
    assert "run" in bar


def test_with_a_precision_the_bar_says_more_may_follow(tiny, capsys):
    sim.run(sim.load_scenario(tiny), progress=True, precision=0.5, max_replications=3)
    assert "more replications may follow, at most 6 runs" in capsys.readouterr().err


def test_a_precision_missed_is_a_warning_with_exit_0(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    args = [str(tiny), "--precision", "0.001", "--max-replications", "3", "--no-plots"]
    assert main([*args, "--quiet", "--jobs", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: precision 0.001 not reached" in err
    assert "latency_mean" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"sim {sim.__version__}"


def test_a_mistyped_subcommand_gets_a_did_you_mean(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["hashign"]) == 2
    assert "did you mean `python -m sim hashing`" in capsys.readouterr().err
    assert main(["paln", "x.yaml"]) == 2
    assert "did you mean `python -m sim plan`" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mistake", "suggestion"),
    [
        ("stores: {count: 2, wokers: 1}", "stores.wokers: unknown key (did you mean 'workers'?)"),
        ("balancer: {strategy: rign}", "(did you mean 'ring'?)"),
        ("orders:\n  prep_time: {dist: expnential, mean: 2}", "(did you mean 'exponential'?)"),
        ("replicatons: 3", "(did you mean 'replications'?)"),
    ],
)
def test_mistyped_keys_strategies_and_distributions_get_a_did_you_mean(
    tmp_path, capsys, mistake, suggestion
):
    lines = [line for line in TINY.splitlines() if not line.startswith(mistake.split(":")[0])]
    if mistake.startswith("orders"):
        lines = [line for line in lines if "prep_time" not in line and "online" not in line]
        mistake = "orders:\n  online: {rate: 0.3}\n" + mistake.split("\n", 1)[1]
    path = tmp_path / "typo.yaml"
    path.write_text("\n".join(lines) + "\n" + mistake + "\n", encoding="utf-8")
    assert main([str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert suggestion in err
    assert "typo.yaml:" in err


def test_mistyped_design_and_metric_names_get_a_did_you_mean():
    with pytest.raises(sim.ScenarioError, match=r"did you mean 'mq_ring'\?"):
        sim.load_scenario(ROOT / "scenarios" / "dominoes.yaml", sets=["designs.mq_rign.queue=db"])
    capacity = ROOT / "scenarios" / "capacity.yaml"
    with pytest.raises(sim.ScenarioError, match=r"did you mean 'lost_online'\?"):
        sim.load_scenario(capacity, sets=['plan.targets=["lost_onlin == 0"]'])
    with pytest.raises(sim.ScenarioError, match=r"did you mean 'mq_ring'\?"):
        sim.load_scenario(capacity, sets=["plan.design=mq_rng"])


def test_plan_help_says_95_percent_and_its_real_default_folder(capsys):
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "95% confidence" in text
    assert "95%%" not in text
    assert "results/<name>_plan" in text


def test_run_takes_a_path(tiny):
    results = sim.run(tiny)
    assert set(results.replications["design"]) == {"ram_only", "mq"}
    assert sim.run(str(tiny)).summary.equals(results.summary)


def test_a_string_for_sets_is_refused_clearly(tiny):
    with pytest.raises(TypeError, match=r"sets must be a list of strings.*\['stores.count=3'\]"):
        sim.load_scenario(tiny, sets="stores.count=3")
    with pytest.raises(TypeError, match="sweeps must be a list"):
        sim.load_scenario(tiny, sweeps="stores.count=1,2")


def test_designs_that_differ_only_in_a_setting_are_told_apart(tiny):
    from sim.table import design_labels

    scenario = sim.load_scenario(
        tiny,
        sets=["designs={ring_1: {queue: db, balancer: {vnodes: 1}}, ring_160: {queue: db}}"],
    )
    labels = design_labels(scenario)
    assert labels["ring_1"] == "database; balancer.vnodes 1"
    assert labels["ring_160"] == "database; balancer.vnodes 160"
