"""The scenario: typed, validated, frozen objects built once from a plain mapping.

`Scenario.from_mapping` is the only constructor that validates; every error it finds is
reported at once as a `Problem` naming the key path. Reading YAML, pointing problems at
lines and applying `--set` overrides live in `sim.loading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, ValidationError

from sim.broker_sections import (
    BROKER_SECTIONS,
    ActivemqSpec,
    KafkaSpec,
    RabbitmqSpec,
    SqsSpec,
    defaults_in,
)
from sim.checks import design_problems, plan_problems, sweep_problems, world_problems
from sim.durations import UNITS, NonNegativeDuration, PositiveDuration
from sim.errors import Problem, ScenarioError, shorten
from sim.sections import (
    ArrivalSpec,
    BalancerSpec,
    DatabaseSpec,
    DesignName,
    DesignSpec,
    FailuresSpec,
    OrchestratorSpec,
    OrdersSpec,
    PlanSpec,
    Queue,
    ScriptedCrash,
    StoresSpec,
    _Section,
)
from sim.suggest import did_you_mean, expected_words, keys_at

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
SweepKey = Annotated[str, Field(pattern=r"^[a-z_]+(\.[A-Za-z0-9_-]+)*$")]
SweepValues = Annotated[list[Any], Field(min_length=1, max_length=1000)]

#: Sections a design may override; the world (stores, orders, failures) is shared by all.
DESIGN_SECTIONS = ("database", "orchestrator", "balancer")
DEFAULT_DESIGNS: dict[str, dict[str, Any]] = {"ram_only": {"queue": "ram"}, "mq": {"queue": "db"}}

__all__ = [
    "ArrivalSpec",
    "BalancerSpec",
    "DatabaseSpec",
    "DesignSpec",
    "FailuresSpec",
    "OrchestratorSpec",
    "OrdersSpec",
    "Problem",
    "Scenario",
    "ScenarioError",
    "ScriptedCrash",
    "StoresSpec",
]


class _DesignEntry(_Section):
    """A design as written: `queue` plus raw overrides, merged and checked later."""

    queue: Queue
    database: dict[str, Any] = Field(default_factory=dict)
    orchestrator: dict[str, Any] = Field(default_factory=dict)
    balancer: dict[str, Any] = Field(default_factory=dict)
    sqs: dict[str, Any] = Field(default_factory=dict)
    rabbitmq: dict[str, Any] = Field(default_factory=dict)
    activemq: dict[str, Any] = Field(default_factory=dict)
    kafka: dict[str, Any] = Field(default_factory=dict)


class _ScenarioFile(_Section):
    name: Name
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    time_unit: str = Field(default="min", min_length=1, max_length=16)
    duration: PositiveDuration
    drain: NonNegativeDuration | None = None
    warmup: NonNegativeDuration = 0.0
    replications: int = Field(default=10, ge=1, le=100_000)
    stores: StoresSpec
    orders: OrdersSpec
    failures: FailuresSpec = FailuresSpec()
    database: DatabaseSpec = DatabaseSpec()
    orchestrator: OrchestratorSpec = OrchestratorSpec()
    balancer: BalancerSpec = BalancerSpec()
    # Checked here for mistakes; designs take their settings from the mapping as written.
    sqs: SqsSpec | None = None
    rabbitmq: RabbitmqSpec | None = None
    activemq: ActivemqSpec | None = None
    kafka: KafkaSpec | None = None
    designs: Annotated[dict[DesignName, _DesignEntry], Field(min_length=1)] | None = None
    sweep: dict[SweepKey, SweepValues] = Field(default_factory=dict, strict=False)
    plan: PlanSpec | None = None


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
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    plan: PlanSpec | None = None

    @property
    def horizon(self) -> float:
        """The time at which every run stops: arrivals end at `duration`, then `drain`."""
        return self.duration + self.drain

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Scenario:
        """Validate a plain mapping; raise `ScenarioError` listing every problem."""
        context = _context(data)
        try:
            raw = _ScenarioFile.model_validate(dict(data), context=context)
        except ValidationError as error:
            problems = _problems(error, model=_ScenarioFile) + _override_problems(data)
            raise ScenarioError(problems) from None
        designs, problems = _resolve_designs(data, raw)
        problems += [*world_problems(raw), *sweep_problems(raw), *plan_problems(raw)]
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
            sweep=raw.sweep,
            plan=raw.plan,
        )

    def to_mapping(self) -> dict[str, Any]:
        """The scenario as run, every default filled in; `from_mapping` reads it back."""
        data = self.model_dump(mode="json", exclude={"designs", "sweep", "plan"})
        data["designs"] = {
            d.name: d.model_dump(mode="json", exclude={"name"}, exclude_none=True)
            for d in self.designs
        }
        if self.sweep:
            data["sweep"] = self.model_dump(mode="json")["sweep"]
        if self.plan is not None:
            data["plan"] = self.plan.model_dump(mode="json")
        return data

    def design(self, name: str) -> DesignSpec:
        """The design called `name`."""
        for design in self.designs:
            if design.name == name:
                return design
        raise KeyError(name)


def _problems(
    error: ValidationError, prefix: tuple[str | int, ...] = (), model: type | None = None
) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        value = item.get("input")
        if item["type"] not in ("missing", "extra_forbidden") and _is_scalar(value):
            message += f" (got {shorten(repr(value))})"
        if item["type"] == "extra_forbidden":
            word = item["loc"][-1]
            message = "unknown key" + did_you_mean(word, keys_at(model, item["loc"]))
        elif item["type"] in ("literal_error", "union_tag_invalid"):
            word = value if _is_scalar(value) else (item.get("ctx") or {}).get("tag", "")
            message += did_you_mean(str(word), expected_words(item.get("ctx")))
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
        problems += [
            p for p in _broker_section(merged, data, entry, raw.time_unit) if p not in problems
        ]
        try:
            design = DesignSpec.model_validate(merged, context={"time_unit": raw.time_unit})
        except ValidationError as error:
            problems += _problems(error, prefix=("designs", name), model=DesignSpec)
            continue
        designs.append(design)
        problems += [p for p in design_problems(design, entry, raw) if p not in problems]
    return tuple(designs), problems


def _broker_section(
    merged: dict[str, Any], data: Mapping[str, Any], entry: _DesignEntry, time_unit: str
) -> list[Problem]:
    """Put the design's broker section (the top-level one, its overrides, the documented
    defaults in `time_unit`) into `merged`; a broker section of another broker is a mistake."""
    problems = []
    for section in BROKER_SECTIONS:
        override = getattr(entry, section)
        if section != entry.queue:
            if override:
                problems.append(
                    Problem(
                        ("designs", merged["name"], section), f"applies to queue: {section} only"
                    )
                )
            continue
        base = data.get(section) or {}
        raw = _deep_merge(dict(base) if isinstance(base, Mapping) else {}, override)
        missing = [key for key in BROKER_SECTIONS[section].SECONDS if key not in raw]
        if time_unit not in UNITS and missing:
            problems.append(
                Problem(
                    ("time_unit",),
                    f"({time_unit!r}) must be a real unit ({', '.join(UNITS)}) for queue: "
                    f"{section}, whose defaults ({', '.join(missing)}) are durations in seconds",
                )
            )
        merged[section] = defaults_in(section, raw, time_unit)
    return problems


def _override_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Mistakes in designs' overrides, each section checked on its own: reported beside
    mistakes elsewhere, which keep the designs from being resolved."""
    designs = data.get("designs")
    problems: list[Problem] = []
    if not isinstance(designs, Mapping):
        return problems
    models: dict[str, Any] = {
        "database": DatabaseSpec,
        "orchestrator": OrchestratorSpec,
        "balancer": BalancerSpec,
        **BROKER_SECTIONS,
    }
    context = _context(data)
    for name, entry in designs.items():
        for section, model in models.items():
            override = entry.get(section) if isinstance(entry, Mapping) else None
            if isinstance(override, Mapping):
                try:
                    model.model_validate(dict(override), context=context)
                except ValidationError as error:
                    problems += _problems(error, ("designs", name, section), model)
    return problems


def _context(data: Mapping[str, Any]) -> dict[str, Any]:
    """What duration validators need to know: the scenario's time unit, if it is a string."""
    unit = data.get("time_unit", "min")
    return {"time_unit": unit if isinstance(unit, str) else None}


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _deep_merge(dict(base[key]), value)
        else:
            base[key] = value
    return base
