"""Preparation-time distributions: validated specs that draw numpy batches.

Each distribution carries its analytical mean and variance, so tests can hold samples
against theory, and draws a whole batch at once from the generator it is handed.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
#: A coefficient of variation: beyond these bounds the draws overflow or divide by zero.
Variation = Annotated[float, Field(ge=1e-6, le=1e3, allow_inf_nan=False)]


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @property
    def variance(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError


class Exponential(_Distribution):
    """Memoryless times with the given mean (cv = 1)."""

    dist: Literal["exponential"]
    mean: PositiveFinite

    @property
    def variance(self) -> float:
        return self.mean**2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)


class Deterministic(_Distribution):
    """Every order takes exactly `mean`."""

    dist: Literal["deterministic"]
    mean: PositiveFinite

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.mean)


class Uniform(_Distribution):
    """Times spread evenly over [low, high]."""

    dist: Literal["uniform"]
    low: NonNegativeFinite
    high: PositiveFinite

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


class Lognormal(_Distribution):
    """Right-skewed times given by their mean and coefficient of variation."""

    dist: Literal["lognormal"]
    mean: PositiveFinite
    cv: Variation

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)


class Gamma(_Distribution):
    """Times given by their mean and coefficient of variation (cv = 1 is exponential)."""

    dist: Literal["gamma"]
    mean: PositiveFinite
    cv: Variation

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = 1 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)


Distribution = Annotated[
    Exponential | Deterministic | Uniform | Lognormal | Gamma,
    Field(discriminator="dist"),
]
