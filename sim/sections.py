"""The sections of a scenario: small frozen models, one per concept.

Each component of the model receives only its own section (`StoresSpec`,
`OrchestratorSpec`, ...). Defaults live on the fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from sim.broker_sections import ActivemqSpec, KafkaSpec, RabbitmqSpec, SqsSpec
from sim.cost import CostSpec
from sim.distributions import Distribution
from sim.durations import NonNegativeDuration, PositiveDuration
from sim.failure_sections import GroupSpec, OutagesSpec, SlowdownsSpec
from sim.fields import NonNegativeFinite, PositiveFinite, _Section
from sim.hashing.maglev import is_prime

Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Queue = Literal["ram", "db", "sqs", "rabbitmq", "activemq", "kafka"]
DesignName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]


#: Labels of the forms a key may take; left out of the key paths in messages.
# Each has a space, so no key of a scenario is taken for one.
FORM_TAGS = frozenset({"a number", "per store", "a profile", "a name", "one value", "a list"})


def _workers_form(value: object) -> str:
    return "per store" if isinstance(value, list | tuple) else "a number"


def _profile_form(value: object) -> str:
    return "a name" if isinstance(value, str) else "a profile"


Workers = Annotated[int, Field(ge=1, le=100_000)]


class StoresSpec(_Section):
    """How many stores there are and how many orders each prepares at once: one number
    for every store, or a list with one number per store."""

    count: int = Field(ge=1, le=1_000_000)
    # A callable discriminator, so a mistake is reported against one form, not both.
    workers: Annotated[
        Annotated[Workers, Tag("a number")]
        | Annotated[tuple[Workers, ...], Field(strict=False, min_length=1), Tag("per store")],
        Discriminator(_workers_form),
    ] = 1

    def workers_at(self, store: int) -> int:
        """How many orders store `store` prepares at once."""
        workers = self.workers
        return workers if isinstance(workers, int) else workers[store]

    @property
    def total_workers(self) -> int:
        """Every worker of the chain."""
        workers = self.workers
        return workers * self.count if isinstance(workers, int) else sum(workers)

    def describe_workers(self) -> str:
        """`4 workers each` or `4, 4, 2 workers`, for texts."""
        workers = self.workers
        if isinstance(workers, int):
            return f"{workers} workers each"
        return f"{', '.join(map(str, workers))} workers"


ProfileTime = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=False)]


class ArrivalSpec(_Section):
    """A Poisson stream of orders; a rate of zero means none. With a `profile` (time ->
    multiplier of `rate`, see `sim.demand`) the rate changes over the day."""

    rate: NonNegativeFinite = 0.0
    # Times are lax, so that the mapping written to scenario.yaml (string keys) reads back.
    profile: (
        Annotated[
            Annotated[dict[ProfileTime, NonNegativeFinite], Tag("a profile")]
            | Annotated[Literal["same"], Tag("a name")],
            Discriminator(_profile_form),
        ]
        | None
    ) = None
    profile_shape: Literal["step", "linear"] = "step"


class OrdersSpec(_Section):
    """Online orders (routed chain-wide), offline orders (pinned per store), their work."""

    online: ArrivalSpec = ArrivalSpec()
    offline: ArrivalSpec = ArrivalSpec()
    prep_time: Distribution
    sla: PositiveDuration | None = None
    poison: Probability = 0.0  # share of orders whose every preparation fails (bad data)
    attempt_failure: Probability = 0.0  # each attempt fails with this probability
    # A recorded log replayed instead of the rates (`sim.trace`); a relative path is
    # relative to the scenario file's folder.
    trace: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    # How long an online customer waits for the preparation to start before cancelling.
    patience: Distribution | None = None


class ScriptedCrash(_Section):
    """A crash of one store at a given time, for a given repair time."""

    store: int = Field(ge=0)
    at: NonNegativeDuration
    down_for: PositiveDuration


class FailuresSpec(_Section):
    """Random crashes (exponential up and repair times) and scripted ones, both if given.

    `crash` says what a crash is, for the brokers that hold connections to the stores
    (RabbitMQ, ActiveMQ): `host`, the server stops (power, kernel panic, a partition) and
    its connections fall silent, noticed by heartbeats; `process`, the store's process
    dies on a host that stays up, whose kernel closes its connections at once."""

    crash: Literal["host", "process"] = "host"
    mtbf: PositiveDuration | None = None
    mttr: PositiveDuration | None = None
    scripted: Annotated[tuple[ScriptedCrash, ...], Field(strict=False)] = ()
    groups: Annotated[tuple[GroupSpec, ...], Field(strict=False)] = ()
    slowdowns: SlowdownsSpec = SlowdownsSpec()


class DatabaseSpec(_Section):
    """The order database: time from a store finishing to the D status landing; its
    outages, and what new orders do while it is down (`reject`: lost at the door;
    `retry`: written when it is back). `outages` and `when_down` belong to the world."""

    ack_delay: NonNegativeDuration = 0.0
    outages: OutagesSpec = OutagesSpec()
    when_down: Literal["reject", "retry"] = "reject"


class OrchestratorSpec(_Section):
    """Polls every store at k * poll_interval; `misses` silent polls in a row mean down.

    On a detection it routes again every N order (`all`, the seed's design) or only those
    whose store is not up (`owned`: the database records where each order was sent).
    """

    poll_interval: PositiveDuration = 1.0
    misses: int = Field(default=2, ge=1, le=1_000_000)
    redistribute: Literal["all", "owned"] = "all"
    # The orchestrator's outages (no polls while down) belong to the world; the rest is
    # the design's: see the README's "Failures as they really happen".
    outages: OutagesSpec = OutagesSpec()
    fencing: bool = False
    incarnations: bool = False
    max_age: PositiveDuration | None = None


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


PlanKey = Annotated[str, Field(pattern=r"^[a-z_]+(\.[A-Za-z0-9_]+)*$")]
PlanBound = Annotated[int, Field(ge=0, le=1_000_000)]


def _one_or_two(item: object) -> object:
    """A key (or bound) alone, or a list of two for a grid plan."""
    return Annotated[
        Annotated[item, Tag("one value")]
        | Annotated[list[item], Field(min_length=1, max_length=2), Tag("a list")],
        Discriminator(lambda value: "a list" if isinstance(value, list | tuple) else "one value"),
    ]


class PlanSpec(_Section):
    """A capacity plan: the smallest value of an integer `key` in [low, high] for which
    every target holds with the given confidence, for one design; with a `cost`, the
    cheapest such value; with two keys (and a cost), the cheapest point of the grid."""

    key: _one_or_two(PlanKey)
    # A bisection of at most 20 steps; a grid or a cost plan is bounded in `sim.targets`.
    low: _one_or_two(PlanBound)
    high: _one_or_two(PlanBound)
    targets: list[str] = Field(min_length=1, max_length=20)
    design: str | None = None  # default: the first design
    confidence: float = Field(default=0.95, ge=0.5, le=0.999)
    cost: CostSpec | None = None

    @property
    def keys(self) -> list[str]:
        return list(self.key) if isinstance(self.key, list) else [self.key]

    @property
    def ranges(self) -> list[tuple[int, int]]:
        """(low, high) per key (bounds given once apply to every key)."""
        lows = self.low if isinstance(self.low, list) else [self.low] * len(self.keys)
        highs = self.high if isinstance(self.high, list) else [self.high] * len(self.keys)
        return list(zip(lows, highs, strict=False))
