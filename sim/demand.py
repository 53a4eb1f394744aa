"""Demand over the day: a rate multiplied by a profile, and Poisson arrivals under it.

A profile maps times to multipliers of a stream's `rate`: `{0: 0.3, 60: 1.0, 150: 2.5}`
means 0.3 × rate from 0 to 60, 1.0 × rate from 60 to 150, 2.5 × rate from 150 on (`step`),
or a rate that moves in straight lines between those points and stays at the last
multiplier after it (`linear`). Times at or after `duration` are never reached.
Arrivals are a non-homogeneous Poisson process drawn by inversion of the integrated
rate: a Poisson count with mean Λ(duration), then that many uniform points on
[0, Λ(duration)) mapped through Λ⁻¹, all in numpy batches. Without a profile the draw is
exactly the homogeneous one (same numbers from the same stream).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import Problem
from sim.trace import TraceError, read_trace, trace_problems

if TYPE_CHECKING:
    from sim.sections import ArrivalSpec, OrdersSpec

MAX_BREAKPOINTS = 10_000


@dataclass(frozen=True)
class Profile:
    """A piecewise multiplier of a rate on [0, duration): segment `k` runs from `knots[k]`
    to `knots[k + 1]`, starts at multiplier `start[k]` and changes by `slope[k]` per time
    unit (0 for `step`); `mass[k]` is the integral of the multiplier up to `knots[k]`."""

    knots: np.ndarray
    start: np.ndarray
    slope: np.ndarray
    mass: np.ndarray

    @classmethod
    def build(cls, points: dict[float, float], shape: str, duration: float) -> Profile:
        # Times at or after the end of arrivals are never reached (a shorter run sees the
        # start of the day's profile).
        kept = sorted(t for t in points if t < duration)
        times = np.array(kept, dtype=float)
        levels = np.array([points[t] for t in kept], dtype=float)
        knots = np.append(times, duration)
        ends = np.append(levels[1:], levels[-1]) if shape == "linear" else levels
        widths = np.diff(knots)
        slope = (ends - levels) / widths
        mass = np.concatenate([[0.0], np.cumsum((levels + ends) / 2 * widths)])
        return cls(knots=knots, start=levels, slope=slope, mass=mass)

    @property
    def total(self) -> float:
        """The integral of the multiplier over [0, duration)."""
        return float(self.mass[-1])

    def multiplier(self, t: np.ndarray) -> np.ndarray:
        """The multiplier at times `t`."""
        k, x = self._segment(np.asarray(t, dtype=float))
        return self.start[k] + self.slope[k] * x

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        """The integral of the multiplier from 0 to each of `t` (within [0, duration])."""
        k, x = self._segment(np.asarray(t, dtype=float))
        return self.mass[k] + self.start[k] * x + self.slope[k] * x * x / 2

    def invert(self, u: np.ndarray) -> np.ndarray:
        """The times at which the integral reaches `u` (each in [0, total))."""
        last = len(self.start) - 1
        k = np.clip(np.searchsorted(self.mass, u, side="right") - 1, 0, last)
        d = u - self.mass[k]
        a, b = self.start[k], self.slope[k]
        # x solves a x + b x² / 2 = d; this form is stable for b = 0 and for a = 0.
        root = np.sqrt(np.maximum(a * a + 2 * b * d, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(a + root > 0, 2 * d / (a + root), 0.0)
        return np.minimum(self.knots[k] + x, np.nextafter(self.knots[k + 1], -math.inf))

    def _segment(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.clip(np.searchsorted(self.knots, t, side="right") - 1, 0, len(self.start) - 1)
        return k, t - self.knots[k]


def profile_of(spec: ArrivalSpec, online: ArrivalSpec, duration: float) -> Profile | None:
    """The profile of a stream (`same`: the online stream's), or None for a flat rate."""
    if spec.profile == "same":
        spec = online
    if spec.profile is None or spec.profile == "same":
        return None
    return Profile.build(spec.profile, spec.profile_shape, duration)


def poisson_times(
    rng: np.random.Generator, rate: float, duration: float, profile: Profile | None = None
) -> np.ndarray:
    """A Poisson process on [0, duration) at `rate` × the profile, sorted."""
    if rate == 0:
        return np.empty(0)
    if profile is None:  # the homogeneous draw, unchanged
        count = rng.poisson(rate * duration)
        return np.sort(rng.uniform(0.0, duration, count))
    total = rate * profile.total
    count = rng.poisson(total)
    return np.sort(profile.invert(rng.uniform(0.0, profile.total, count)))


def describe_demand(
    orders: OrdersSpec, duration: float, unit: str, value=None, swept=()
) -> str:
    """How orders arrive, in words (for reports); `value(key, number)` says a setting
    (every value of a swept one), `swept` the keys swept."""
    value = value or (lambda key, number: f"{number:g}")
    if orders.trace is not None:
        text = f"orders replay the log {Path(orders.trace).name}"
    else:
        rate = value("orders.online.rate", orders.online.rate)
        text = f"online orders arrive at {rate} per {unit}"
        if orders.offline.rate or "orders.offline.rate" in swept:
            text += (
                f", walk-ins at {value('orders.offline.rate', orders.offline.rate)} per "
                f"{unit} per store"
            )
        profile = profile_of(orders.online, orders.online, duration)
        if profile is not None and orders.online.rate:
            mean = profile.total / duration
            text += (
                f", times a profile ({orders.online.profile_shape}) from "
                f"{profile.start.min():g} to {profile.start.max():g} (mean {mean:.2g})"
            )
    if orders.patience is not None:
        text += (
            f"; online customers cancel after {orders.patience.mean:g} {unit} on average "
            "if preparation has not started"
        )
    return text


def expected_orders(orders: OrdersSpec, stores: int, duration: float) -> float:
    """Orders expected in one replication from the rates and profiles (and the trace)."""
    expected = 0.0
    if orders.trace is not None:
        with suppress(TraceError):  # reported by `demand_problems`
            expected += len(read_trace(orders.trace).time)
    for spec, copies in ((orders.online, 1), (orders.offline, stores)):
        profile = profile_of(spec, orders.online, duration) if _valid(orders, duration) else None
        factor = profile.total if profile is not None else duration
        expected += spec.rate * copies * factor
    return expected


def _valid(orders: OrdersSpec, duration: float) -> bool:
    return not any(True for _ in _profile_problems(orders, duration))


def demand_problems(orders: OrdersSpec, duration: float, stores: int) -> Iterator[Problem]:
    """Profiles must start at 0 and not be all zero before the end of arrivals;
    `same` refers to the online profile; a trace replaces the rates and must fit."""
    yield from _profile_problems(orders, duration)
    if orders.trace is None:
        return
    for kind in ("online", "offline"):
        if getattr(orders, kind).rate:
            yield Problem(("orders", kind, "rate"), "leave it out: orders.trace replaces the rates")
    yield from trace_problems(orders.trace, stores, duration)


def _profile_problems(orders: OrdersSpec, duration: float) -> Iterator[Problem]:
    if orders.online.profile == "same":
        yield Problem(("orders", "online", "profile"), "`same` is for offline: the online profile")
    for kind in ("online", "offline"):
        profile = getattr(orders, kind).profile
        if not isinstance(profile, dict):
            continue
        path = ("orders", kind, "profile")
        if len(profile) > MAX_BREAKPOINTS:
            yield Problem(path, f"{len(profile)} points; the limit is {MAX_BREAKPOINTS}")
        if 0 not in profile:
            yield Problem(path, "must have a multiplier at time 0 (the start of arrivals)")
        if all(level == 0 for t, level in profile.items() if t < duration):
            yield Problem(path, "every multiplier before duration is 0: no orders would arrive")
    if orders.offline.profile == "same" and not isinstance(orders.online.profile, dict):
        yield Problem(("orders", "offline", "profile"), "`same` needs orders.online.profile")
