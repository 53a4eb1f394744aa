"""The pure parts of the calibration study (`benchmarks/calibration/`): the scenario turned
into a schedule, the per-order bookkeeping both sides share, the paired comparison, and
the refusal to run without the broker's package. Nothing here starts a broker."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.calibration import compare, report, run, servers
from benchmarks.calibration.cases import CASES, Case
from benchmarks.calibration.compare import Outcome, attempts, metrics, side_by_side
from benchmarks.calibration.model import model_outcome
from benchmarks.calibration.schedule import schedule_of
from sim.stats import mean_interval
from sim.world import draw_world

ALL_CASES = [case for cases in CASES.values() for case in cases]


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.name)
def test_every_case_is_a_valid_scenario_of_one_design(case: Case):
    scenario = case.scenario(2)
    assert [design.queue for design in scenario.designs] == [case.broker]
    assert scenario.time_unit == "s"
    quick = case.scenario(2, quick=True)
    assert quick.duration == scenario.duration / 2
    assert len(quick.failures.scripted) == 1


def test_the_schedule_replays_the_world_sim_draws():
    case = next(c for c in ALL_CASES if c.name == "rabbitmq_poison_quorum")
    scenario = case.scenario(3)
    world = draw_world(scenario, 1)
    schedule = schedule_of(scenario, 1)
    assert [o.arrival for o in schedule.orders] == world.arrival.tolist()
    assert [o.prep for o in schedule.orders] == world.prep.tolist()
    assert [o.poison for o in schedule.orders] == world.poison.tolist()
    assert any(o.poison for o in schedule.orders)
    outages = sorted(((s, a, b) for s, out in enumerate(world.outages) for a, b in out),
                     key=lambda outage: outage[1])
    assert [(c.store, c.at, c.until) for c in schedule.crashes] == outages
    assert schedule.horizon == scenario.duration + scenario.drain
    # Another replication is another world.
    assert schedule_of(scenario, 2).orders != schedule.orders


def test_actions_are_in_time_order_crashes_before_publishes_at_the_same_instant():
    case = next(c for c in ALL_CASES if c.name == "rabbitmq_kill")
    schedule = schedule_of(case.scenario(1), 0)
    actions = schedule.actions()
    times = [at for at, _, _ in actions]
    assert times == sorted(times)
    kinds = [what for _, what, _ in actions]
    assert kinds.count("publish") == len(schedule.orders)
    assert kinds.count("crash") == kinds.count("restart") == 3
    # A crash and a publish at the same instant: the crash first, as in `sim`.
    crash = schedule.crashes[0]
    tied = type(schedule)((*schedule.orders, type(schedule.orders[0])(999, crash.at, 0.1, False)),
                          schedule.crashes, schedule.horizon)
    same = [what for at, what, _ in tied.actions() if at == crash.at]
    assert same == ["crash", "publish"]


def test_the_message_body_is_the_json_the_consumers_read():
    order = schedule_of(ALL_CASES[0].scenario(1), 0).orders[3]
    assert json.loads(order.body()) == {
        "order": 3, "prep": pytest.approx(order.prep, abs=1e-6), "poison": order.poison
    }


def outcome_by_hand() -> Outcome:
    """Store 0 crashes at 5.0 while preparing order 1, which store 1 starts at 5.4; order 2
    fails at 2.0 and is tried again at 2.5, then dead-lettered; order 3 is completed twice;
    order 4 was lost (auto ack); order 5 is still in the queue."""
    events = [
        (1.0, "start", 0, 0), (1.3, "done", 0, 0),
        (4.0, "start", 0, 1), (5.4, "start", 1, 1), (5.8, "done", 1, 1),
        (1.5, "start", 1, 2), (2.0, "fail", 1, 2), (2.5, "start", 0, 2), (3.0, "fail", 0, 2),
        (6.0, "start", 0, 3), (6.2, "start", 1, 3), (6.5, "done", 0, 3), (6.9, "done", 1, 3),
    ]
    return Outcome(6, events, [(0, 5.0)], dead_lettered={2}, lost={4})


def test_attempts_end_by_done_fail_or_the_crash_of_their_store():
    tries = attempts(outcome_by_hand())
    assert tries[1] == [(4.0, 0, "crash", 5.0), (5.4, 1, "done", 5.8)]
    assert tries[2] == [(1.5, 1, "fail", 2.0), (2.5, 0, "fail", 3.0)]
    assert tries[3] == [(6.0, 0, "done", 6.5), (6.2, 1, "done", 6.9)]


def test_metrics_counted_by_hand():
    got = metrics(outcome_by_hand())
    assert got["arrived"] == 6
    assert got["completed"] == 3  # orders 0, 1, 3
    assert got["duplicates"] == 1  # order 3
    assert got["redeliveries"] == 3  # one more attempt each of orders 1, 2, 3
    assert got["dead_lettered"] == 1
    assert got["lost"] == 1
    assert got["unfinished"] == 1  # order 5
    assert got["redelivery_delay_mean"] == pytest.approx(0.4)  # crash 5.0 -> 5.4
    assert got["retry_delay_mean"] == pytest.approx(0.5)  # fail 2.0 -> 2.5


def test_a_copy_started_before_the_crash_is_not_a_redelivery_caused_by_it():
    # An SQS lease ran out: store 1 started the order at 4.5, store 0 crashed at 5.0.
    events = [(4.0, "start", 0, 0), (4.5, "start", 1, 0), (6.0, "done", 1, 0)]
    got = metrics(Outcome(1, events, [(0, 5.0)]))
    assert math.isnan(got["redelivery_delay_mean"])
    assert got["redeliveries"] == 1
    assert got["duplicates"] == 0


def test_side_by_side_pairs_repetitions_and_leaves_out_missing_values():
    broker = [{**dict.fromkeys(compare.METRICS, 0.0), "lost": v} for v in (3.0, 5.0, 4.0)]
    model = [{**dict.fromkeys(compare.METRICS, 0.0), "lost": v} for v in (1.0, 2.0, 4.0)]
    broker[2]["redelivery_delay_mean"] = math.nan
    rows = {row.metric: row for row in side_by_side(broker, model)}
    lost = rows["lost"]
    assert (lost.broker_mean, lost.broker_min, lost.broker_max) == (4.0, 3.0, 5.0)
    assert (lost.model_mean, lost.model_min, lost.model_max) == (pytest.approx(7 / 3), 1.0, 4.0)
    mean, low, high, n = mean_interval([2.0, 3.0, 0.0])
    assert (lost.difference, lost.ci_low, lost.ci_high, lost.n) == (mean, low, high, n)
    assert rows["redelivery_delay_mean"].n == 2


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.name)
def test_the_model_side_conserves_orders(case: Case):
    scenario = case.scenario(1)
    got = metrics(model_outcome(scenario, 0))
    assert got["arrived"] == got["completed"] + got["lost"] + got["dead_lettered"] + got[
        "unfinished"]


def test_a_missing_package_names_the_command_that_installs_it(monkeypatch, capsys):
    monkeypatch.setattr(servers.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(servers, "RABBITMQ_SERVER", servers.ACTIVEMQ_JAR.with_name("none"))
    with pytest.raises(servers.Missing, match="apt-get install rabbitmq-server"):
        servers.check_installed("rabbitmq")
    with pytest.raises(servers.Missing, match=r"pip install 'moto\[server\]' boto3"):
        servers.check_installed("sqs")
    assert run.main(["rabbitmq", "--quick"]) == 2
    assert "apt-get install rabbitmq-server" in capsys.readouterr().err


def test_the_summary_table_has_one_row_per_case_broker_before_model():
    broker = [metrics(outcome_by_hand())] * 2
    model = [{**metrics(outcome_by_hand()), "lost": 3.0}] * 2
    text = report.summary({"hand": side_by_side(broker, model)})
    header, rule, row = text.splitlines()
    assert header.count("|") == rule.count("|")
    assert row.startswith("| hand | 3 / 3 | 1 / 3 | 1 / 1 | 3 / 3 | 1 / 1 | 0.4 [0.4, 0.4] |")
