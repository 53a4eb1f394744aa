"""Durations with a unit, converted to the scenario's time unit; mistakes refused clearly."""

from __future__ import annotations

import pytest

from sim.durations import to_time_unit
from sim.loading import load_scenario
from sim.scenario import ScenarioError


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("100ms", "s", 0.1),
        ("30s", "min", 0.5),
        ("5min", "s", 300.0),
        ("2h", "min", 120.0),
        ("1d", "h", 24.0),
        ("1.5 min", "s", 90.0),
        ("30s", "ms", 30000.0),
    ],
)
def test_a_duration_is_converted_to_the_time_unit(text, unit, value):
    assert to_time_unit(text, unit) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "unit", "message"),
    [
        ("30 parsecs", "s", "unknown unit"),
        ("soon", "s", "is not a duration"),
        ("-5s", "s", "is not a duration"),
        ("30s", "pizza", "time_unit must be a real unit"),
    ],
)
def test_a_bad_duration_says_what_is_wrong(text, unit, message):
    with pytest.raises(ValueError, match=message):
        to_time_unit(text, unit)


BASE = """\
name: units
time_unit: {unit}
duration: {duration}
stores: {{count: 1}}
orders:
  online: {{rate: 1.0}}
  prep_time: {{dist: exponential, mean: 1}}
designs:
  sqs_default: {{queue: sqs}}
  sqs_extended: {{queue: sqs, sqs: {{extend_visibility: 10s}}}}
"""


def test_units_in_a_scenario_file_and_the_broker_defaults_follow_time_unit(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text(BASE.format(unit="min", duration="2h"), encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.duration == 120.0
    default, extended = scenario.designs
    assert default.sqs.visibility_timeout == 0.5  # 30 s, in minutes
    assert extended.sqs.extend_visibility == pytest.approx(10 / 60)
    assert load_scenario(path, time_unit="s").designs[0].sqs.visibility_timeout == 30.0


def test_a_unit_with_a_time_unit_that_is_not_one_is_refused_at_its_line(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text(BASE.format(unit="pizza", duration="2h"), encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    lines = "\n".join(refused.value.lines)
    assert f"{path}:3:11: duration:" in lines
    assert "time_unit must be a real unit" in lines
    assert f"{path}:10:55: designs.sqs_extended.sqs.extend_visibility:" in lines


def test_broker_defaults_need_a_real_time_unit(tmp_path):
    """The brokers' documented defaults are durations in seconds: with a time_unit that
    is not a unit they cannot be converted, so the scenario must give them or fix it."""
    path = tmp_path / "units.yaml"
    text = BASE.format(unit="pizza", duration="60").replace("extend_visibility: 10s", "batch: 2")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert refused.value.lines == [
        f"{path}:2:12: time_unit: ('pizza') must be a real unit (ms, s, min, h, d) for "
        "queue: sqs, whose defaults (visibility_timeout) are durations in seconds"
    ]
    given = text.replace("{queue: sqs}", "{queue: sqs, sqs: {visibility_timeout: 3}}")
    path.write_text(given.replace("batch: 2", "batch: 2, visibility_timeout: 3"), encoding="utf-8")
    assert load_scenario(path).designs[0].sqs.visibility_timeout == 3.0


def test_a_broker_section_on_another_design_is_refused(tmp_path):
    path = tmp_path / "units.yaml"
    text = BASE.format(unit="s", duration="60") + "  ram_only: {queue: ram, sqs: {batch: 2}}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"designs\.ram_only\.sqs: applies to queue: sqs only"):
        load_scenario(path)


FAILURE_MODES = """\
name: units
time_unit: min
duration: 2h
stores: {count: 3}
orders:
  online: {rate: 1.0}
  prep_time: {dist: exponential, mean: 1}
failures:
  groups: [{stores: [0, 1], scripted: [{at: 1h, down_for: 90s}]}]
  slowdowns: {mtbf: 1h, mttr: 5min, scripted: [{store: 1, at: 30min, for: 600s}]}
network:
  partitions: {mtbf: 2h, mttr: 1min, scripted: [{store: 2, at: 45min, for: 5min}]}
database:
  outages: {scripted: [{at: 1.5h, down_for: 2min}]}
orchestrator:
  outages: {mtbf: 3h, mttr: 30s}
  max_age: 3min
designs:
  mq: {queue: db}
"""


def test_the_failure_modes_times_take_units_too(tmp_path):
    path = tmp_path / "modes.yaml"
    path.write_text(FAILURE_MODES, encoding="utf-8")
    scenario = load_scenario(path)
    failures = scenario.failures
    assert failures.groups[0].scripted[0].at == 60.0
    assert failures.groups[0].scripted[0].down_for == 1.5
    assert (failures.slowdowns.mtbf, failures.slowdowns.mttr) == (60.0, 5.0)
    assert failures.slowdowns.scripted[0].for_ == 10.0
    partitions = scenario.network.partitions
    assert (partitions.mtbf, partitions.mttr, partitions.scripted[0].at) == (120.0, 1.0, 45.0)
    design = scenario.designs[0]
    assert design.database.outages.scripted[0].at == 90.0
    assert design.orchestrator.outages.mttr == 0.5
    assert design.orchestrator.max_age == 3.0
