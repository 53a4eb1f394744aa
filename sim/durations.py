"""Durations with a unit (`100ms`, `30s`, `5min`, `2h`, `1d`), converted to `time_unit`.

`Duration` is the type any key of a scenario that holds a length of time uses: a plain
number is already in the scenario's `time_unit`; a string with a unit is converted to it,
which needs `time_unit` to be one of `UNITS`. The time unit reaches the validator through
pydantic's validation context (`{"time_unit": ...}`), set by `Scenario.from_mapping`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo

#: Seconds in each unit a duration or `time_unit` may name.
UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*([a-z]+)\s*$")


def to_time_unit(text: str, time_unit: str | None) -> float:
    """`text` (a number and a unit) in `time_unit`; ValueError says what is wrong."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: a number, or a number and a unit "
            f"({', '.join(UNITS)}), such as 30s or 5min"
        )
    number, unit = float(match.group(1)), match.group(2)
    if unit not in UNITS:
        raise ValueError(f"{text!r}: unknown unit {unit!r} (units: {', '.join(UNITS)})")
    if time_unit not in UNITS:
        raise ValueError(
            f"{text!r} has a unit, so time_unit must be a real unit ({', '.join(UNITS)}), "
            f"not {time_unit!r}"
        )
    value = number * UNITS[unit] / UNITS[time_unit]
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite duration")
    return value


def _convert(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        context = info.context or {}
        return to_time_unit(value, context.get("time_unit"))
    return value


#: A length of time: a number in `time_unit`, or a string with a unit.
Duration = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_convert)]
PositiveDuration = Annotated[float, Field(gt=0, allow_inf_nan=False), BeforeValidator(_convert)]
NonNegativeDuration = Annotated[float, Field(ge=0, allow_inf_nan=False), BeforeValidator(_convert)]
