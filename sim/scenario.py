"""The scenario: typed, validated, frozen objects built once from a plain mapping.

`Scenario.from_mapping` is the only constructor that validates; every error it finds is
reported at once as a `Problem` naming the key path. Reading YAML, pointing problems at
lines and applying `--set` overrides live in `sim.loading`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim.distributions import Distribution
from sim.hashing.maglev import is_prime

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
DesignName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]

#: Sections a design may override; the world (stores, orders, failures) is shared by all.
DESIGN_SECTIONS = ("database", "orchestrator", "balancer")
#: Guards against runs that could never finish or fit in memory.
MAX_ORDERS_PER_REPLICATION = 50_000_000
MAX_POLLS_PER_REPLICATION = 50_000_000
MAX_CRASHES_PER_STORE = 1_000_000
MAX_RING_POINTS = 2_000_000
DEFAULT_DESIGNS: dict[str, dict[str, Any]] = {"ram_only": {"queue": "ram"}, "mq": {"queue": "db"}}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StoresSpec(_Section):
    """How many stores there are and how many orders each prepares at once."""

    count: int = Field(ge=1, le=10_000)
    workers: int = Field(default=1, ge=1, le=100_000)


class ArrivalSpec(_Section):
    """A Poisson stream of orders; a rate of zero means none."""

    rate: NonNegativeFinite = 0.0


class OrdersSpec(_Section):
    """Online orders (routed chain-wide), offline orders (pinned per store), their work."""

    online: ArrivalSpec = ArrivalSpec()
    offline: ArrivalSpec = ArrivalSpec()
    prep_time: Distribution
    sla: PositiveFinite | None = None


class ScriptedCrash(_Section):
    """A crash of one store at a given time, for a given repair time."""

    store: int = Field(ge=0)
    at: NonNegativeFinite
    down_for: PositiveFinite


class FailuresSpec(_Section):
    """Random crashes (exponential up and repair times) and scripted ones, both if given."""

    mtbf: PositiveFinite | None = None
    mttr: PositiveFinite | None = None
    scripted: Annotated[tuple[ScriptedCrash, ...], Field(strict=False)] = ()


class DatabaseSpec(_Section):
    """The order database: time from a store finishing to the D status landing."""

    ack_delay: NonNegativeFinite = 0.0


class OrchestratorSpec(_Section):
    """Polls every store at k * poll_interval; `misses` silent polls in a row mean down.

    On a detection it routes again every N order (`all`, the seed's design) or only those
    whose store is not up (`owned`: the database records where each order was sent).
    """

    poll_interval: PositiveFinite = 1.0
    misses: int = Field(default=2, ge=1, le=1_000_000)
    redistribute: Literal["all", "owned"] = "all"


class BalancerSpec(_Section):
    """How online orders are mapped to stores (see `sim.hashing`)."""

    strategy: Literal["modulo", "ring", "rendezvous", "jump", "maglev", "bounded"] = "ring"
    vnodes: int = Field(default=160, ge=1, le=10_000)
    weights: dict[int, PositiveFinite] = Field(default_factory=dict)
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
    queue: Literal["ram", "db"]
    database: DatabaseSpec = DatabaseSpec()
    orchestrator: OrchestratorSpec = OrchestratorSpec()
    balancer: BalancerSpec = BalancerSpec()


class _DesignEntry(_Section):
    """A design as written: `queue` plus raw overrides, merged and checked later."""

    queue: Literal["ram", "db"]
    database: dict[str, Any] = Field(default_factory=dict)
    orchestrator: dict[str, Any] = Field(default_factory=dict)
    balancer: dict[str, Any] = Field(default_factory=dict)


class _ScenarioFile(_Section):
    name: Name
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    time_unit: str = Field(default="min", min_length=1, max_length=16)
    duration: PositiveFinite
    drain: NonNegativeFinite | None = None
    warmup: NonNegativeFinite = 0.0
    replications: int = Field(default=10, ge=1, le=100_000)
    stores: StoresSpec
    orders: OrdersSpec
    failures: FailuresSpec = FailuresSpec()
    database: DatabaseSpec = DatabaseSpec()
    orchestrator: OrchestratorSpec = OrchestratorSpec()
    balancer: BalancerSpec = BalancerSpec()
    designs: Annotated[dict[DesignName, _DesignEntry], Field(min_length=1)] | None = None


@dataclass(frozen=True)
class Problem:
    """One mistake in a scenario: the key path (a tuple of keys) and what is wrong."""

    path: tuple[str | int, ...]
    message: str

    @property
    def dotted(self) -> str:
        return ".".join(str(part) for part in self.path) or "(top level)"


class ScenarioError(ValueError):
    """A scenario was refused; `problems` lists every mistake found."""

    def __init__(self, problems: list[Problem], lines: list[str] | None = None):
        self.problems = problems
        self.lines = lines or [f"{p.dotted}: {p.message}" for p in problems]
        super().__init__("\n".join(self.lines))


class Scenario(_Section):
    """A validated scenario: the world, the run settings and the designs to compare."""

    name: Name
    seed: int
    time_unit: str
    duration: float
    drain: float
    warmup: float
    replications: int
    stores: StoresSpec
    orders: OrdersSpec
    failures: FailuresSpec
    designs: tuple[DesignSpec, ...]

    @property
    def horizon(self) -> float:
        """The time at which every run stops: arrivals end at `duration`, then `drain`."""
        return self.duration + self.drain

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Scenario:
        """Validate a plain mapping; raise `ScenarioError` listing every problem."""
        try:
            raw = _ScenarioFile.model_validate(dict(data))
        except ValidationError as error:
            raise ScenarioError(_problems(error) + _override_problems(data)) from None
        designs, problems = _resolve_designs(data, raw)
        problems += list(_world_problems(raw))
        if problems:
            raise ScenarioError(problems)
        return cls(
            name=raw.name,
            seed=raw.seed,
            time_unit=raw.time_unit,
            duration=raw.duration,
            drain=raw.drain if raw.drain is not None else raw.duration / 4,
            warmup=raw.warmup,
            replications=raw.replications,
            stores=raw.stores,
            orders=raw.orders,
            failures=raw.failures,
            designs=designs,
        )

    def to_mapping(self) -> dict[str, Any]:
        """The scenario as run, every default filled in; `from_mapping` reads it back."""
        data = self.model_dump(mode="json", exclude={"designs"})
        data["designs"] = {
            d.name: d.model_dump(mode="json", exclude={"name"}) for d in self.designs
        }
        return data

    def design(self, name: str) -> DesignSpec:
        """The design called `name`."""
        for design in self.designs:
            if design.name == name:
                return design
        raise KeyError(name)


def _problems(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        value = item.get("input")
        if item["type"] not in ("missing", "extra_forbidden") and _is_scalar(value):
            message += f" (got {value!r})"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(Problem(prefix + tuple(item["loc"]), message))
    return problems


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _resolve_designs(
    data: Mapping[str, Any], raw: _ScenarioFile
) -> tuple[tuple[DesignSpec, ...], list[Problem]]:
    entries = (
        raw.designs
        if raw.designs is not None
        else {name: _DesignEntry.model_validate(entry) for name, entry in DEFAULT_DESIGNS.items()}
    )
    designs, problems = [], []
    for name, entry in entries.items():
        merged: dict[str, Any] = {"name": name, "queue": entry.queue}
        for section in DESIGN_SECTIONS:
            base = data.get(section) or {}
            merged[section] = _deep_merge(dict(base), getattr(entry, section))
        try:
            design = DesignSpec.model_validate(merged)
        except ValidationError as error:
            problems += _problems(error, prefix=("designs", name))
            continue
        designs.append(design)
        problems += [p for p in _design_problems(design, entry, raw) if p not in problems]
    return tuple(designs), problems


def _override_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Mistakes in designs' overrides, each section checked on its own: reported beside
    mistakes elsewhere, which keep the designs from being resolved."""
    designs = data.get("designs")
    problems: list[Problem] = []
    if not isinstance(designs, Mapping):
        return problems
    models = {"database": DatabaseSpec, "orchestrator": OrchestratorSpec, "balancer": BalancerSpec}
    for name, entry in designs.items():
        for section, model in models.items():
            override = entry.get(section) if isinstance(entry, Mapping) else None
            if isinstance(override, Mapping):
                try:
                    model.model_validate(dict(override))
                except ValidationError as error:
                    problems += _problems(error, prefix=("designs", name, section))
    return problems


def _design_problems(design: DesignSpec, entry: _DesignEntry, raw: _ScenarioFile) -> list[Problem]:
    """A design's checks that involve the world: polls, ring size, weights."""

    def where(section: str, key: str) -> tuple[str, ...]:
        overridden = key in getattr(entry, section) and raw.designs is not None
        return ("designs", design.name, section, key) if overridden else (section, key)

    count, problems = raw.stores.count, []
    horizon = raw.duration + (raw.drain if raw.drain is not None else raw.duration / 4)
    polls = horizon / design.orchestrator.poll_interval * count
    if design.queue == "db" and polls > MAX_POLLS_PER_REPLICATION:
        problems.append(
            Problem(
                where("orchestrator", "poll_interval"),
                f"({design.orchestrator.poll_interval:g}) means {polls:.3g} polls of "
                f"{count} stores per run; the limit is {MAX_POLLS_PER_REPLICATION:.0e}",
            )
        )
    spec = design.balancer
    for store in spec.weights:
        if not 0 <= store < count:
            problems.append(
                Problem(
                    (*where("balancer", "weights"), store),
                    f"no store {store}: stores are 0 to {count - 1}",
                )
            )
    if spec.weights and spec.strategy not in ("ring", "bounded"):
        problems.append(Problem(where("balancer", "weights"), "apply to ring and bounded only"))
    points = sum(max(1, round(spec.vnodes * spec.weights.get(s, 1.0))) for s in range(count))
    if spec.strategy in ("ring", "bounded") and points > MAX_RING_POINTS:
        problems.append(
            Problem(
                where("balancer", "vnodes"),
                f"the ring would have {points:.3g} points (vnodes x weights x stores); "
                f"the limit is {MAX_RING_POINTS:.0e}",
            )
        )
    if spec.strategy == "maglev" and spec.table_size < count:
        problems.append(Problem(where("balancer", "table_size"), f"must be at least {count}"))
    return problems


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _deep_merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


def _world_problems(raw: _ScenarioFile) -> Iterator[Problem]:
    """Checks that involve several keys at once."""
    drain = raw.drain if raw.drain is not None else raw.duration / 4
    horizon = raw.duration + drain
    if raw.warmup >= raw.duration:
        yield Problem(("warmup",), f"must be less than duration ({raw.duration:g})")
    orders = raw.orders
    if orders.online.rate == 0 and orders.offline.rate == 0:
        yield Problem(("orders",), "no orders would arrive: online.rate and offline.rate are 0")
    if drain < orders.prep_time.mean:
        yield Problem(
            ("drain",),
            f"({drain:g}) is shorter than the mean preparation time "
            f"({orders.prep_time.mean:g}): orders arriving at the end could never finish",
        )
    expected = (orders.online.rate + orders.offline.rate * raw.stores.count) * raw.duration
    if expected > MAX_ORDERS_PER_REPLICATION:
        yield Problem(
            ("duration",),
            f"about {expected:.3g} orders per replication; the limit is "
            f"{MAX_ORDERS_PER_REPLICATION:.0e}",
        )
    yield from _failure_problems(raw.failures, raw.stores.count, horizon)


def _failure_problems(failures: FailuresSpec, count: int, horizon: float) -> Iterator[Problem]:
    if failures.mtbf is not None and failures.mttr is None:
        yield Problem(("failures", "mttr"), "required when failures.mtbf is given")
    if failures.mttr is not None and failures.mtbf is None:
        yield Problem(("failures", "mtbf"), "required when failures.mttr is given")
    if failures.mtbf is not None and horizon / failures.mtbf > MAX_CRASHES_PER_STORE:
        yield Problem(
            ("failures", "mtbf"),
            f"({failures.mtbf:g}) means about {horizon / failures.mtbf:.3g} crashes per store "
            f"per run; the limit is {MAX_CRASHES_PER_STORE:.0e}",
        )
    for index, crash in enumerate(failures.scripted):
        if crash.store >= count:
            yield Problem(
                ("failures", "scripted", index, "store"),
                f"no store {crash.store}: stores are numbered 0 to {count - 1}",
            )
        if crash.at >= horizon:
            yield Problem(
                ("failures", "scripted", index, "at"),
                f"({crash.at:g}) is not before the end of the run ({horizon:g})",
            )
    if not math.isfinite(horizon):
        yield Problem(("duration",), "duration plus drain is not finite")
