"""Findings in words, by one rule used everywhere (report.md, the notebooks):

- two designs (or two values of a swept key) **tie** when their means are equal;
- a difference is **named** only when the 95% interval of the paired difference
  (replication by replication: both saw the same random world) excludes 0;
- otherwise **no difference is established** (more replications may settle it).

Every metric worded here is better when lower (lost, duplicates, SLA missed, latency).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.stats import mean_interval
from sim.table import format_number

#: Metrics put into findings, with how they read: (noun, fewer-word, unit key).
WORDED = {
    "lost": ("orders lost", "fewest", ""),
    "duplicates": ("duplicates", "fewest", ""),
    "sla_missed": ("share missing the SLA", "smallest", ""),
    "latency_p95": ("95th percentile latency", "lowest", "time"),
}


@dataclass(frozen=True)
class Paired:
    """`a` against `b`: their means and the mean and 95% interval of `a − b`, paired."""

    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        """`tie`, `lower` or `higher` (a's difference established), or `unclear`."""
        if self.mean_a == self.mean_b:
            return "tie"
        if self.low > 0:
            return "higher"
        if self.high < 0:
            return "lower"
        return "unclear"  # includes an interval that is NaN (a single replication)

    def interval(self) -> str:
        """`difference [low, high]`, signed."""
        sign = "+" if self.difference > 0 else ""
        text = f"{sign}{format_number(self.difference)}"
        if math.isnan(self.low):
            return text + " (one replication: no interval)"
        return f"{text} [{format_number(self.low)}, {format_number(self.high)}]"


def paired(a: pd.Series, b: pd.Series) -> Paired:
    """Compare two series of per-replication values indexed by replication."""
    a, b = a.astype(float), b.astype(float)
    diff = (a - b).dropna()
    mean, low, high, _ = mean_interval(diff.to_numpy())
    return Paired(float(a.mean()), float(b.mean()), mean, low, high)


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _by_replication(replications: pd.DataFrame, design: str, metric: str) -> pd.Series:
    rows = replications[replications["design"] == design]
    return rows.groupby("replication")[metric].mean()


def best_of(replications: pd.DataFrame, designs: Sequence[str], metric: str) -> str | None:
    """One sentence: which design is lowest on `metric`, by the rule; None if unmeasured."""
    if metric not in replications:
        return None
    series = {d: _by_replication(replications, d, metric) for d in designs}
    means = {d: float(s.mean()) for d, s in series.items() if not math.isnan(s.mean())}
    if len(means) < 2:
        return None
    noun, most, unit = WORDED[metric]
    ranked = sorted(means, key=means.__getitem__)
    best = ranked[0]
    against = {d: paired(series[d], series[best]) for d in ranked[1:]}
    value = format_number(means[best]) + (f" {unit}" if unit else "")
    leaders = [best, *(d for d in ranked[1:] if against[d].verdict != "higher")]
    if len(leaders) == len(ranked) and all(against[d].verdict == "tie" for d in ranked[1:]):
        return f"{_upper(noun)}: a tie, every design {value}."
    if len(leaders) == 1:
        head = f"{_upper(most)} {noun}: {best} ({value})"
    elif all(against[d].verdict == "tie" for d in leaders[1:]):
        head = f"{_upper(most)} {noun}: a tie between {', '.join(leaders)} ({value} each)"
    else:  # someone is as low as the lowest mean, for all these replications can tell
        lead = f"{_upper(most)} {noun}" if len(leaders) < len(ranked) else _upper(noun)
        head = (
            f"{lead}: no difference established between {', '.join(leaders)} "
            f"(lowest mean {best}, {value})"
        )
    words = {"higher": "higher", "unclear": "no difference established"}
    others = [
        f"{d} {against[d].interval()} ({words[against[d].verdict]})"
        for d in ranked[1:]
        if against[d].verdict != "tie"
    ]
    return f"{head}. Paired differences from {best}: " + "; ".join(others) + "."


def design_findings(replications: pd.DataFrame, designs: Sequence[str], unit: str) -> list[str]:
    """A sentence per worded metric, comparing every design with the lowest, by the rule."""
    lines = []
    for metric in WORDED:
        sentence = best_of(replications, designs, metric)
        if sentence is not None:
            lines.append(sentence.replace(" time", f" {unit}"))
    if lines:
        lines.append(
            "Rule: a difference is named only when its paired 95% interval (design minus "
            "design, replication by replication) excludes 0; equal means are a tie. "
            "Latency counts completed orders only: a design that loses its slowest orders "
            "looks fast; `sla_missed` counts lost orders as missed."
        )
    return lines


def sweep_findings(
    replications: pd.DataFrame, sweep: dict[str, list], designs: Sequence[str], unit: str
) -> list[str]:
    """Per swept key: what going from its first to its last value changes, per design and
    metric (averaged over the other swept keys' values, paired by replication)."""
    lines = []
    for key, values in sweep.items():
        if len(values) >= 2:
            rest = [k for k in sweep if k != key]
            lines += _key_findings(replications, key, values, rest, designs, unit)
    if lines:
        lines.append(
            "Each change is the paired difference (last value minus first, replication by "
            "replication) with its 95% interval; it is called a rise or a fall only when "
            "the interval excludes 0."
        )
    return lines


def _key_findings(replications, key, values, rest, designs, unit) -> list[str]:
    first, last = values[0], values[-1]
    at_first = np.array([v == first for v in replications[key]], dtype=bool)
    at_last = np.array([v == last for v in replications[key]], dtype=bool)
    others = f" (averaged over {', '.join(rest)})" if rest else ""
    lines = []
    for metric, (noun, _, timed) in WORDED.items():
        if metric not in replications:
            continue
        cells = []
        for design in designs:
            mine = (replications["design"] == design).to_numpy()
            low = replications[mine & at_first].groupby("replication")[metric].mean()
            high = replications[mine & at_last].groupby("replication")[metric].mean()
            if not (np.isnan(low.mean()) or np.isnan(high.mean())):
                cells.append(f"{design} {_change(paired(high, low))}")
        if cells:
            label = f"{noun} ({unit})" if timed else noun
            lines.append(f"`{key}` {first} → {last}{others}, {label}: " + "; ".join(cells))
    return lines


def change(replications: pd.DataFrame, design: str, baseline: str, metric: str) -> str:
    """`baseline`'s mean → `design`'s on `metric`, and whether the paired difference is
    established (by the rule)."""
    after = _by_replication(replications, design, metric)
    return _change(paired(after, _by_replication(replications, baseline, metric)))


def _change(pair: Paired) -> str:
    before, after = format_number(pair.mean_b), format_number(pair.mean_a)
    verdict = pair.verdict
    if verdict == "tie":
        return f"{before} → {after} (no change)"
    word = {"higher": "rises", "lower": "falls", "unclear": "no difference established"}[verdict]
    return f"{before} → {after} ({word}: {pair.interval()})"
