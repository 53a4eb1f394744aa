"""Closed forms from queueing theory, to hold simulated numbers against.

M/M/c: Poisson arrivals at rate `lam`, `c` servers, exponential service at rate `mu` each.
"""

from __future__ import annotations


def erlang_c(c: int, offered: float) -> float:
    """P(an arrival waits) in M/M/c with offered load `offered` = lam / mu (< c).

    Computed through the Erlang B recursion, which is stable for large `c`.
    """
    if not 0 <= offered < c:
        raise ValueError(f"need 0 <= offered load < c, got {offered} and {c}")
    blocking = 1.0
    for k in range(1, c + 1):
        blocking = offered * blocking / (k + offered * blocking)
    rho = offered / c
    return blocking / (1 - rho + rho * blocking)


def mmc_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue (before service starts), Wq."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_number_in_system(lam: float, mu: float, c: int) -> float:
    """Mean number in system (queued and in service), L = lam * (Wq + 1 / mu)."""
    return lam * (mmc_wait(lam, mu, c) + 1 / mu)


def availability(mtbf: float, mttr: float) -> float:
    """Long-run fraction of time up with alternating up (mean mtbf) and repair times."""
    return mtbf / (mtbf + mttr)


def expected_failures(horizon: float, mtbf: float, mttr: float) -> float:
    """Expected crashes in [0, horizon) of a store that starts up, exponential times.

    Delayed renewal asymptotics: t / E[X] + E[X^2] / (2 E[X]^2) - E[Y] / E[X], with X an
    up-plus-repair cycle and Y the first up time; exact up to a term that vanishes
    exponentially fast in `horizon`.
    """
    cycle = mtbf + mttr
    second_moment = 2 * mtbf**2 + 2 * mttr**2 + 2 * mtbf * mttr
    return horizon / cycle + second_moment / (2 * cycle**2) - mtbf / cycle


def erlang_a_abandonment(lam: float, mu: float, c: int, theta: float) -> float:
    """P(an arrival abandons) in M/M/c+M (Erlang A): Poisson arrivals at `lam`, `c`
    servers at rate `mu`, and each waiting customer leaves at rate `theta` (exponential
    patience of mean 1 / theta) unless its service has started.

    The number in system is a birth-death chain (births `lam`; deaths `min(n, c) mu +
    max(n - c, 0) theta`), stable for any load when theta > 0. Customers abandon at rate
    theta × E[queue length], so P(abandon) = theta E[Q] / lam (Little's law for the
    abandonments); the stationary distribution is summed until its terms vanish.
    """
    if lam <= 0 or mu <= 0 or theta <= 0 or c < 1:
        raise ValueError(f"need lam, mu, theta > 0 and c >= 1, got {lam}, {mu}, {theta}, {c}")
    term, total, queued = 1.0, 1.0, 0.0
    n = 0
    while True:
        n += 1
        term *= lam / (min(n, c) * mu + max(n - c, 0) * theta)
        total += term
        queued += max(n - c, 0) * term
        if n > c and term < 1e-17 * total:
            break
        if total > 1e250:  # rescale: only ratios matter
            term, total, queued = term / total, 1.0, queued / total
    return theta * (queued / total) / lam
