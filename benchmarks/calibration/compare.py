"""What happened to each order, on either side, and the two sides side by side.

Both the real run and `sim` are reduced to the same record (`Outcome`): every attempt's
start and end, per order, with the store that made it; the crashes; and which orders
were dead-lettered or lost. The metrics are then computed by the same code for both, so a
difference is a difference of behaviour, not of bookkeeping.

The observable on both sides is the attempt: a message handed to the application, which
starts preparing it. A message pushed into a consumer's buffer and never started is not
seen by the consumer, so it is not counted on either side.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field

from sim.stats import mean_interval

START, DONE, FAIL = "start", "done", "fail"

#: The compared metrics, in the order they are printed.
METRICS = (
    "arrived",
    "completed",
    "lost",
    "duplicates",
    "redeliveries",
    "dead_lettered",
    "unfinished",
    "redelivery_delay_mean",
    "redelivery_delay_min",
    "redelivery_delay_max",
    "retry_delay_mean",
)


@dataclass
class Outcome:
    """One run of one case: `events` are (time, kind, store, order) with kind start, done
    or fail; `crashes` are (store, time); `dead_lettered` and `lost` are sets of orders."""

    arrived: int
    events: list[tuple[float, str, int, int]]
    crashes: list[tuple[int, float]]
    dead_lettered: set[int] = field(default_factory=set)
    lost: set[int] = field(default_factory=set)


def attempts(outcome: Outcome) -> dict[int, list[tuple[float, int, str, float]]]:
    """Per order, its attempts in time order: (start, store, how it ended, when), how it
    ended being done, fail, crash (its store crashed first) or open (still under way)."""
    crashes: dict[int, list[float]] = defaultdict(list)
    for store, time in outcome.crashes:
        crashes[store].append(time)
    ends: dict[tuple[int, int], list[tuple[float, str]]] = defaultdict(list)
    starts = []
    for time, kind, store, order in sorted(outcome.events):
        if kind == START:
            starts.append((time, store, order))
        else:
            ends[order, store].append((time, kind))
    result: dict[int, list] = defaultdict(list)
    for time, store, order in starts:
        end = next(((t, k) for t, k in ends[order, store] if t >= time), (math.inf, "open"))
        crash = min((c for c in crashes[store] if time <= c < end[0]), default=None)
        if crash is not None:
            end = (crash, "crash")
        elif end[1] != "open":
            ends[order, store].remove(end)  # each end closes one attempt
        result[order].append((time, store, end[1], end[0]))
    return result


def redelivery_delays(per_order: dict[int, list], ended_by: str) -> list[float]:
    """Time from the end of an attempt (`crash` or `fail`) to the next attempt of the
    same order, anywhere. An attempt never followed by another gives no sample, nor one
    whose next attempt had already started before it ended (an SQS lease that ran out
    mid-preparation: that copy was not a redelivery caused by the crash)."""
    delays = []
    for tries in per_order.values():
        for (_, _, how, when), following in itertools.pairwise(tries):
            if how == ended_by and following[0] >= when:
                delays.append(following[0] - when)
    return delays


def metrics(outcome: Outcome) -> dict[str, float]:
    """The compared metrics of one run (see `METRICS`)."""
    per_order = attempts(outcome)
    done = {order: sum(how == DONE for _, _, how, _ in tries) for order, tries in per_order.items()}
    completed = {order for order, count in done.items() if count}
    crash_delays = redelivery_delays(per_order, "crash")
    retry_delays = redelivery_delays(per_order, FAIL)
    ended = len(completed) + len(outcome.lost - completed) + len(outcome.dead_lettered - completed)
    return {
        "arrived": outcome.arrived,
        "completed": len(completed),
        "lost": len(outcome.lost - completed),
        "duplicates": sum(count - 1 for count in done.values() if count > 1),
        "redeliveries": sum(len(tries) - 1 for tries in per_order.values()),
        "dead_lettered": len(outcome.dead_lettered - completed),
        "unfinished": outcome.arrived - ended,
        "redelivery_delay_mean": _mean(crash_delays),
        "redelivery_delay_min": min(crash_delays, default=math.nan),
        "redelivery_delay_max": max(crash_delays, default=math.nan),
        "retry_delay_mean": _mean(retry_delays),
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


@dataclass(frozen=True)
class Row:
    """One metric of one case over the repetitions: each side's mean and range, and the
    paired difference broker − model with its 95% interval (NaN with fewer than two)."""

    metric: str
    broker_mean: float
    broker_min: float
    broker_max: float
    model_mean: float
    model_min: float
    model_max: float
    difference: float
    ci_low: float
    ci_high: float
    n: int


def side_by_side(broker: list[dict], model: list[dict]) -> list[Row]:
    """Pair repetition r of the broker with replication r of the model, metric by metric;
    a repetition where either side has no value (no redelivery seen) is left out of
    that metric's difference."""
    rows = []
    for metric in METRICS:
        real = [run[metric] for run in broker]
        simulated = [run[metric] for run in model]
        pairs = [
            (a, b) for a, b in zip(real, simulated, strict=True) if _known(a) and _known(b)
        ]
        differences = [a - b for a, b in pairs]
        difference, low, high = _interval(differences)
        rows.append(Row(metric, *_spread(real), *_spread(simulated), difference, low, high,
                        len(differences)))
    return rows


def _known(value: float) -> bool:
    return not math.isnan(value)


def _spread(values: list[float]) -> tuple[float, float, float]:
    known = [v for v in values if _known(v)]
    if not known:
        return math.nan, math.nan, math.nan
    return sum(known) / len(known), min(known), max(known)


def _interval(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return math.nan, math.nan, math.nan
    if len(values) == 1:
        return values[0], math.nan, math.nan
    mean, low, high, _ = mean_interval(values)
    return mean, low, high
