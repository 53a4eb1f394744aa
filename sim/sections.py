"""The sections of a scenario: small frozen models, one per concept.

Each component of the model receives only its own section (`StoresSpec`,
`OrchestratorSpec`, ...). Defaults live on the fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sim.broker_sections import ActivemqSpec, KafkaSpec, RabbitmqSpec, SqsSpec
from sim.distributions import Distribution
from sim.durations import NonNegativeDuration, PositiveDuration
from sim.hashing.maglev import is_prime

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Queue = Literal["ram", "db", "sqs", "rabbitmq", "activemq", "kafka"]
DesignName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StoresSpec(_Section):
    """How many stores there are and how many orders each prepares at once."""

    count: int = Field(ge=1, le=1_000_000)
    workers: int = Field(default=1, ge=1, le=100_000)


class ArrivalSpec(_Section):
    """A Poisson stream of orders; a rate of zero means none."""

    rate: NonNegativeFinite = 0.0


class OrdersSpec(_Section):
    """Online orders (routed chain-wide), offline orders (pinned per store), their work."""

    online: ArrivalSpec = ArrivalSpec()
    offline: ArrivalSpec = ArrivalSpec()
    prep_time: Distribution
    sla: PositiveDuration | None = None
    poison: Probability = 0.0  # share of orders whose every preparation fails (bad data)
    attempt_failure: Probability = 0.0  # each attempt fails with this probability


class ScriptedCrash(_Section):
    """A crash of one store at a given time, for a given repair time."""

    store: int = Field(ge=0)
    at: NonNegativeDuration
    down_for: PositiveDuration


class FailuresSpec(_Section):
    """Random crashes (exponential up and repair times) and scripted ones, both if given."""

    mtbf: PositiveDuration | None = None
    mttr: PositiveDuration | None = None
    scripted: Annotated[tuple[ScriptedCrash, ...], Field(strict=False)] = ()


class DatabaseSpec(_Section):
    """The order database: time from a store finishing to the D status landing."""

    ack_delay: NonNegativeDuration = 0.0


class OrchestratorSpec(_Section):
    """Polls every store at k * poll_interval; `misses` silent polls in a row mean down.

    On a detection it routes again every N order (`all`, the seed's design) or only those
    whose store is not up (`owned`: the database records where each order was sent).
    """

    poll_interval: PositiveDuration = 1.0
    misses: int = Field(default=2, ge=1, le=1_000_000)
    redistribute: Literal["all", "owned"] = "all"


class BalancerSpec(_Section):
    """How online orders are mapped to stores (see `sim.hashing`)."""

    strategy: Literal["modulo", "ring", "rendezvous", "jump", "maglev", "bounded"] = "ring"
    vnodes: int = Field(default=160, ge=1, le=10_000)
    # Keys are store numbers; lax, so that the mapping written to scenario.yaml (JSON keys
    # are strings) reads back.
    weights: dict[Annotated[int, Field(strict=False)], PositiveFinite] = Field(default_factory=dict)
    table_size: int = Field(default=65537, ge=2, le=1_000_003)
    epsilon: PositiveFinite = 0.25

    @field_validator("table_size")
    @classmethod
    def _prime(cls, size: int) -> int:
        if not is_prime(size):
            raise ValueError(f"must be a prime number (Maglev), got {size}")
        return size


class DesignSpec(_Section):
    """One way of handling orders, with every section resolved."""

    name: DesignName
    queue: Queue
    database: DatabaseSpec = DatabaseSpec()
    orchestrator: OrchestratorSpec = OrchestratorSpec()
    balancer: BalancerSpec = BalancerSpec()
    # A broker design's settings, only in the design of that broker (`queue`).
    sqs: SqsSpec | None = None
    rabbitmq: RabbitmqSpec | None = None
    activemq: ActivemqSpec | None = None
    kafka: KafkaSpec | None = None


class PlanSpec(_Section):
    """A capacity plan: the smallest value of an integer `key` in [low, high] for which
    every target holds with the given confidence, for one design."""

    key: str = Field(pattern=r"^[a-z_]+(\.[A-Za-z0-9_]+)*$")
    low: int = Field(ge=0, le=1_000_000)  # a bisection of at most 20 steps
    high: int = Field(ge=0, le=1_000_000)
    targets: list[str] = Field(min_length=1, max_length=20)
    design: str | None = None  # default: the first design
    confidence: float = Field(default=0.95, ge=0.5, le=0.999)
