"""Student-t quantiles against published tables, and the intervals built from them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.stats import mean_interval, t_cdf, t_quantile

# Two-sided 95% and 99% critical values (NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
TABLE = [
    (0.975, 1, 12.706205),
    (0.975, 2, 4.302653),
    (0.975, 5, 2.570582),
    (0.975, 10, 2.228139),
    (0.975, 30, 2.042272),
    (0.975, 120, 1.979930),
    (0.995, 1, 63.656741),
    (0.995, 5, 4.032143),
    (0.995, 10, 3.169273),
    (0.995, 30, 2.749996),
]


@pytest.mark.parametrize(("p", "df", "expected"), TABLE)
def test_t_quantile_matches_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("df", [1, 3, 7.5, 40, 1000])
@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.999])
def test_t_quantile_inverts_the_cdf(p, df):
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


def test_t_quantile_tends_to_the_normal():
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959964, rel=1e-5)


def test_t_cdf_is_symmetric():
    for t in (0.3, 1.0, 2.5):
        assert t_cdf(t, 4) + t_cdf(-t, 4) == pytest.approx(1.0, abs=1e-12)
    assert t_cdf(0.0, 4) == pytest.approx(0.5)


@pytest.mark.parametrize(("p", "df"), [(0.5, 3), (1.0, 3), (0.2, 3), (0.975, 0), (0.975, -1)])
def test_t_quantile_refuses_bad_arguments(p, df):
    with pytest.raises(ValueError, match="need"):
        t_quantile(p, df)


def test_mean_interval_of_nothing():
    mean, low, high, n = mean_interval([])
    assert n == 0
    assert math.isnan(mean)
    assert math.isnan(low)
    assert math.isnan(high)


def test_mean_interval_of_one_value_has_no_interval():
    mean, low, high, n = mean_interval([4.5])
    assert (mean, n) == (4.5, 1)
    assert math.isnan(low)
    assert math.isnan(high)


def test_mean_interval_of_constant_values_collapses():
    assert mean_interval([2.0] * 7) == (2.0, 2.0, 2.0, 7)


def test_mean_interval_by_hand():
    """1..5: mean 3, s = sqrt(2.5), half-width t(0.975, 4) · s / sqrt(5) = 2.776445 · 0.707107."""
    mean, low, high, n = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776445 * math.sqrt(2.5 / 5)
    assert (mean, n) == (3.0, 5)
    assert low == pytest.approx(3.0 - half, rel=1e-6)
    assert high == pytest.approx(3.0 + half, rel=1e-6)


def test_mean_interval_level():
    values = [1.0, 2.0, 4.0, 8.0]
    _, low95, high95, _ = mean_interval(values)
    _, low99, high99, _ = mean_interval(values, level=0.99)
    assert low99 < low95 < high95 < high99


def test_mean_interval_ignores_nans():
    assert mean_interval([1.0, math.nan, 2.0, 6.0, math.nan]) == mean_interval([1.0, 2.0, 6.0])
    mean, low, high, n = mean_interval([math.nan, 3.0])
    assert (mean, n) == (3.0, 1)
    assert math.isnan(low)
    assert math.isnan(high)
    assert mean_interval([math.nan])[3] == 0


def test_mean_interval_accepts_numpy_arrays():
    assert mean_interval(np.array([1.0, 2.0, np.nan, 3.0]))[:1] == (2.0,)


def test_ninety_five_percent_intervals_cover_the_mean_ninety_five_percent_of_the_time():
    """2,000 samples of 10 normal draws: coverage is Binomial(2000, 0.95)/2000, whose sd is
    sqrt(0.95 · 0.05 / 2000) ≈ 0.49%; 93.5%..96.5% is about ±3 sd around 95%.
    """
    rng = np.random.default_rng(20240611)
    true_mean = 5.0
    samples = rng.normal(true_mean, 2.0, size=(2000, 10))
    covered = 0
    for sample in samples:
        _, low, high, n = mean_interval(sample.tolist())
        assert n == 10
        covered += low <= true_mean <= high
    assert 0.935 <= covered / 2000 <= 0.965
