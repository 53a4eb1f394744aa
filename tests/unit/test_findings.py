"""Findings never overclaim: one rule, everywhere (tie / named only when the paired
interval excludes 0 / no difference established)."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.findings import Paired, best_of, design_findings, paired, sweep_findings
from sim.metrics import bounded_interval


def frame(values: dict[str, list[float]], metric: str = "lost") -> pd.DataFrame:
    """Replications of designs: {design: [value per replication]}."""
    rows = [
        {"design": design, "replication": r, metric: value}
        for design, series in values.items()
        for r, value in enumerate(series)
    ]
    return pd.DataFrame(rows)


def test_equal_values_are_a_tie_never_a_winner():
    replications = frame({"ram": [3, 5, 4], "ring": [0, 0, 0], "modulo": [0, 0, 0], "x": [0, 0, 0]})
    sentence = best_of(replications, ["ram", "ring", "modulo", "x"], "lost")
    assert sentence.startswith("Fewest orders lost: a tie between ring, modulo, x (0 each)")
    assert "ram +4 [" in sentence
    assert "(higher)" in sentence


def test_all_equal_is_a_tie_of_every_design():
    replications = frame({"a": [0, 0, 0], "b": [0, 0, 0]})
    assert best_of(replications, ["a", "b"], "lost") == "Orders lost: a tie, every design 0."


def test_a_difference_whose_interval_includes_zero_is_not_named():
    # b - a per replication: -0.04, +0.01, -0.02, +0.03: the interval straddles 0
    replications = frame(
        {"a": [0.20, 0.15, 0.22, 0.18], "b": [0.16, 0.16, 0.20, 0.21]}, metric="sla_missed"
    )
    sentence = best_of(replications, ["a", "b"], "sla_missed")
    assert sentence.startswith("Share missing the SLA: no difference established between b, a")
    assert "Smallest" not in sentence


def test_the_lowest_is_not_crowned_while_another_is_not_established_higher():
    # the case: mq_ring lowest on average, ram_only within noise, modulo clearly higher
    replications = frame(
        {
            "ram_only": [0.20, 0.15, 0.22, 0.18],
            "mq_ring": [0.16, 0.16, 0.20, 0.21],
            "mq_modulo": [0.30, 0.28, 0.33, 0.31],
        },
        metric="sla_missed",
    )
    sentence = best_of(replications, ["ram_only", "mq_ring", "mq_modulo"], "sla_missed")
    assert sentence.startswith(
        "Smallest share missing the SLA: no difference established between mq_ring, ram_only"
    )
    assert "ram_only +0.005 [" in sentence
    assert "(no difference established)" in sentence
    assert "(higher)" in sentence


def test_a_difference_whose_interval_excludes_zero_is_named():
    replications = frame({"a": [10, 12, 11, 13], "b": [1, 2, 2, 1]})
    sentence = best_of(replications, ["a", "b"], "lost")
    assert sentence.startswith("Fewest orders lost: b (1.5)")
    assert "a +10 [" in sentence
    assert "(higher)" in sentence


def test_mixed_verdicts_are_each_said():
    replications = frame({"a": [10, 12, 11, 13], "b": [1, 2, 2, 1], "c": [2, 1, 1, 3]})
    sentence = best_of(replications, ["a", "b", "c"], "lost")
    assert sentence.startswith("Fewest orders lost: no difference established between b, c")
    assert "c +0.25 [" in sentence
    assert "a +10 [" in sentence


def test_the_verdict_follows_the_interval():
    assert Paired(1, 1, 0, 0, 0).verdict == "tie"
    assert Paired(2, 1, 1, 0.5, 1.5).verdict == "higher"
    assert Paired(1, 2, -1, -1.5, -0.5).verdict == "lower"
    assert Paired(1, 2, -1, -2, 0.5).verdict == "unclear"
    assert paired(pd.Series([1.0]), pd.Series([2.0])).verdict == "unclear"  # one replication


def test_design_findings_state_the_rule():
    lines = design_findings(frame({"a": [1, 2], "b": [1, 2]}), ["a", "b"], "min")
    assert any("excludes 0" in line for line in lines)


def test_sweep_findings_say_what_the_swept_key_changes():
    rows = []
    for r in range(4):
        for count, lost in ((5, 10 + r % 2), (10, 2 + r % 2)):
            for poll in (1.0, 10.0):
                slower = 1 + 0.1 * r if poll > 1 else 0
                rows.append(
                    {"design": "d", "replication": r, "stores.count": count,
                     "orchestrator.poll_interval": poll, "lost": lost + slower}
                )  # fmt: skip
    replications = pd.DataFrame(rows)
    for metric in ("duplicates", "sla_missed", "latency_p95"):
        replications[metric] = float("nan")
    sweep = {"stores.count": [5, 10], "orchestrator.poll_interval": [1, 10]}
    lines = sweep_findings(replications, sweep, ["d"], "min")
    by_stores = next(line for line in lines if line.startswith("`stores.count` 5 → 10"))
    assert "(averaged over orchestrator.poll_interval)" in by_stores
    assert "falls: -8" in by_stores
    by_poll = next(line for line in lines if line.startswith("`orchestrator.poll_interval`"))
    assert "rises: +1.15 [" in by_poll  # 1 + 0.1 r more, r = 0..3


@pytest.mark.parametrize(
    ("metric", "values", "low", "high"),
    [
        ("unfinished", [0, 0, 0, 3], 0.0, None),
        ("sla_missed", [1.0, 1.0, 1.0, 0.7], None, 1.0),
    ],
)
def test_intervals_respect_the_bounds_of_counts_and_shares(metric, values, low, high):
    _, lo, hi, _ = bounded_interval(metric, values)
    if low is not None:
        assert lo == low
    if high is not None:
        assert hi == high
