"""What a plan costs: capacity paid by the time unit, and a price per bad outcome.

```yaml
cost:
  per: {stores.count: 35.0}   # per unit of the key per time unit of the run
  lost: 15.0                  # per lost order
  late: 4.0                   # per order missing the SLA (the `late` metric)
  duplicate: 2.0              # per duplicate preparation
  cancelled: 0.0              # per order its customer called off
```

The cost of one replication is Σ price × units of the key × (duration + drain), plus each
outcome's price times its count in that replication; a plan's cost at one value is the
mean of its replications' costs with a 95% interval. `stores.workers` counts every
worker of the chain (a list of workers per store counts its sum; one number counts it
once per store), so its price is a price per worker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sim.errors import Problem
from sim.stats import mean_interval

Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]
CostKey = Annotated[str, Field(pattern=r"^[a-z_]+(\.[A-Za-z0-9_]+)*$")]
#: Outcome prices and the metric each multiplies.
OUTCOMES = {"lost": "lost", "late": "late", "duplicate": "duplicates", "cancelled": "cancelled"}


class CostSpec(BaseModel):
    """Prices: per unit of a key per time unit, and per bad outcome."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    per: dict[CostKey, Price] = Field(default_factory=dict, max_length=20)
    lost: Price = 0.0
    late: Price = 0.0
    duplicate: Price = 0.0
    cancelled: Price = 0.0


def key_units(data: Mapping[str, Any], key: str) -> float:
    """How many units of `key` a scenario (as a mapping) has; ValueError if it has none."""
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ValueError(f"{key}: not a key of the scenario")
        value = value[part]
    if key == "stores.workers":
        return float(
            sum(value) if isinstance(value, list | tuple) else value * data["stores"]["count"]
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: not a number (got {value!r})")
    return float(value)


def capacity_cost(cost: CostSpec, data: Mapping[str, Any], horizon: float) -> float:
    """What the capacity of a scenario costs over one run."""
    return sum(price * key_units(data, key) for key, price in cost.per.items()) * horizon


def replication_costs(cost: CostSpec, rows: pd.DataFrame, capacity: float) -> np.ndarray:
    """Each replication's cost: capacity plus outcome prices times their counts."""
    total = np.full(len(rows), capacity, dtype=float)
    for name, metric in OUTCOMES.items():
        price = getattr(cost, name)
        if price:
            total += price * rows[metric].to_numpy(dtype=float)
    return total


def summarize_cost(costs: np.ndarray, confidence: float) -> dict[str, float]:
    """Mean cost and its interval across replications."""
    mean, low, high, n = mean_interval(costs, confidence)
    return {"cost_mean": mean, "cost_low": low, "cost_high": high, "n": n}


def cost_problems(
    cost: CostSpec | None, data: Mapping[str, Any], sla: float | None
) -> Iterator[Problem]:
    """Prices must name numeric keys of the scenario; a price of lateness needs an SLA."""
    if cost is None:
        return
    for key in cost.per:
        try:
            key_units(data, key)
        except ValueError as error:
            yield Problem(("plan", "cost", "per", key), str(error))
    if cost.late and sla is None:
        yield Problem(("plan", "cost", "late"), "needs orders.sla (late orders missed it)")
