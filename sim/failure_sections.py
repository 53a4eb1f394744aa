"""Scenario sections of imperfect failures: lost polls, partitions, slowdowns, correlated
outages, and outages of the database and the orchestrator.

Every key defaults to "does not happen", so a scenario without them runs as before. The
schedules are drawn in the world (`sim.schedules`); the model reacts to them. Times take a
unit like every duration of a scenario (`at: 2h`, `for: 10min`, `sim.durations`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from sim.durations import NonNegativeDuration, PositiveDuration
from sim.fields import _Section

#: Keys of the design sections that belong to the world: the same for every design.
WORLD_KEYS = {"database": ("outages", "when_down"), "orchestrator": ("outages",)}


class ScriptedOutage(_Section):
    """An outage at a given time, for a given repair time (of the database, the
    orchestrator or a group of stores)."""

    at: NonNegativeDuration
    down_for: PositiveDuration


class OutagesSpec(_Section):
    """Random outages (exponential up and repair times) and scripted ones, both if given."""

    mtbf: PositiveDuration | None = None
    mttr: PositiveDuration | None = None
    scripted: Annotated[tuple[ScriptedOutage, ...], Field(strict=False)] = ()

    @property
    def random(self) -> bool:
        return self.mtbf is not None and self.mttr is not None


class GroupSpec(OutagesSpec):
    """Stores that go down together (a region, a rack, a shared power feed)."""

    stores: Annotated[tuple[Annotated[int, Field(ge=0)], ...], Field(strict=False, min_length=1)]


class ScriptedSpell(_Section):
    """One store, from `at` for `for` time units (a partition, or a slowdown)."""

    model_config = ConfigDict(serialize_by_alias=True)

    store: int = Field(ge=0)
    at: NonNegativeDuration
    for_: PositiveDuration = Field(alias="for")


class ScriptedSlowdown(ScriptedSpell):
    """A slowdown of one store; `factor` defaults to the section's."""

    factor: float | None = Field(default=None, ge=1, allow_inf_nan=False)


class PartitionsSpec(_Section):
    """Times a store is up but the orchestrator cannot reach it: random per store, and
    scripted."""

    mtbf: PositiveDuration | None = None
    mttr: PositiveDuration | None = None
    scripted: Annotated[tuple[ScriptedSpell, ...], Field(strict=False)] = ()


class SlowdownsSpec(_Section):
    """Gray failures: a store up, answering polls, preparing `factor` times slower."""

    mtbf: PositiveDuration | None = None
    mttr: PositiveDuration | None = None
    factor: float = Field(default=3.0, ge=1, allow_inf_nan=False)
    scripted: Annotated[tuple[ScriptedSlowdown, ...], Field(strict=False)] = ()


class NetworkSpec(_Section):
    """Between the orchestrator and the stores: each poll answer is lost with probability
    `poll_loss` (independently), and partitions cut a store off the orchestrator."""

    poll_loss: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    partitions: PartitionsSpec = PartitionsSpec()
