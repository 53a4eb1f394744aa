"""Preparation-time distributions: samples held against their analytical mean and variance.

Tolerances are five standard errors of 200,000 draws:

- the sample mean has standard error sigma / sqrt(n);
- the sample variance has standard error about sigma² · sqrt((kurtosis − 1) / n), with the
  kurtosis (fourth standardized moment) of each distribution given below;
- the sample cv = s / m has relative error about ½·(relative error of s²) + (relative error
  of m), so its tolerance is the sum of those two at five standard errors.

Seeds are fixed, so the tests are deterministic; the tolerances are what make them honest.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from sim.distributions import Deterministic, Distribution, Exponential, Gamma, Lognormal, Uniform

N = 200_000
Z = 5.0


def lognormal_kurtosis(cv: float) -> float:
    w = 1 + cv**2  # exp(sigma²) of the underlying normal
    return w**4 + 2 * w**3 + 3 * w**2 - 3


CASES = [
    pytest.param(Exponential(dist="exponential", mean=3.0), 9.0, id="exponential"),
    pytest.param(Exponential(dist="exponential", mean=0.2), 9.0, id="exponential-small"),
    pytest.param(Uniform(dist="uniform", low=2.0, high=8.0), 1.8, id="uniform"),
    pytest.param(Uniform(dist="uniform", low=0.0, high=1.0), 1.8, id="uniform-from-0"),
    pytest.param(
        Lognormal(dist="lognormal", mean=12.0, cv=0.3), lognormal_kurtosis(0.3), id="ln-.3"
    ),
    pytest.param(Lognormal(dist="lognormal", mean=5.0, cv=1.0), lognormal_kurtosis(1.0), id="ln-1"),
    pytest.param(Gamma(dist="gamma", mean=12.0, cv=0.3), 3 + 6 * 0.3**2, id="gamma-.3"),
    pytest.param(Gamma(dist="gamma", mean=4.0, cv=1.0), 3 + 6 * 1.0, id="gamma-1"),
    pytest.param(Gamma(dist="gamma", mean=4.0, cv=2.0), 3 + 6 * 2.0**2, id="gamma-2"),
]


@pytest.mark.parametrize(("distribution", "kurtosis"), CASES)
def test_sample_mean_and_variance_match_theory(distribution, kurtosis):
    x = distribution.sample(np.random.default_rng(12345), N)
    assert x.shape == (N,)
    sigma2 = distribution.variance
    assert abs(x.mean() - distribution.mean) <= Z * math.sqrt(sigma2 / N)
    assert abs(x.var(ddof=1) - sigma2) <= Z * sigma2 * math.sqrt((kurtosis - 1) / N)


@pytest.mark.parametrize(("distribution", "kurtosis"), CASES)
def test_samples_are_positive(distribution, kurtosis):
    x = distribution.sample(np.random.default_rng(7), N)
    if isinstance(distribution, Uniform) and distribution.low == 0:
        assert np.all(x >= 0)  # uniform on [0, high] may give exactly 0
    else:
        assert np.all(x > 0)
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize(
    ("distribution", "kurtosis"),
    [case for case in CASES if case.id.startswith(("ln", "gamma"))],
)
def test_cv_is_as_asked(distribution, kurtosis):
    cv = distribution.cv
    assert math.sqrt(distribution.variance) / distribution.mean == pytest.approx(cv)
    x = distribution.sample(np.random.default_rng(99), N)
    sample_cv = x.std(ddof=1) / x.mean()
    tolerance = Z * (0.5 * math.sqrt((kurtosis - 1) / N) + cv / math.sqrt(N))
    assert sample_cv == pytest.approx(cv, rel=tolerance)


def test_deterministic_is_exactly_its_mean():
    distribution = Deterministic(dist="deterministic", mean=2.5)
    x = distribution.sample(np.random.default_rng(0), 1000)
    assert np.all(x == 2.5)
    assert distribution.variance == 0.0


def test_exponential_has_cv_one():
    assert Exponential(dist="exponential", mean=7.0).variance == 49.0


def test_uniform_moments():
    distribution = Uniform(dist="uniform", low=1.0, high=4.0)
    assert distribution.mean == 2.5
    assert distribution.variance == pytest.approx(9 / 12)


def test_same_generator_state_gives_same_samples():
    distribution = Gamma(dist="gamma", mean=3.0, cv=0.5)
    a = distribution.sample(np.random.default_rng(5), 100)
    b = distribution.sample(np.random.default_rng(5), 100)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "uniform", "low": 5.0, "high": 5.0},
        {"dist": "uniform", "low": 6.0, "high": 5.0},
        {"dist": "uniform", "low": -1.0, "high": 5.0},
        {"dist": "exponential", "mean": 0.0},
        {"dist": "exponential", "mean": -1.0},
        {"dist": "exponential", "mean": math.inf},
        {"dist": "lognormal", "mean": 1.0, "cv": math.nan},
        {"dist": "gamma", "mean": 1.0, "cv": 0.0},
        {"dist": "gamma", "mean": 1.0},
        {"dist": "weibull", "mean": 1.0},
        {"dist": "exponential", "mean": "5"},
        {"dist": "exponential", "mean": 1.0, "cv": 0.5},
    ],
)
def test_bad_specs_are_refused(spec):
    with pytest.raises(ValidationError):
        TypeAdapter(Distribution).validate_python(spec)


def test_distribution_is_chosen_by_name():
    parsed = TypeAdapter(Distribution).validate_python({"dist": "gamma", "mean": 2.0, "cv": 0.5})
    assert isinstance(parsed, Gamma)
    assert parsed.variance == pytest.approx(1.0)
