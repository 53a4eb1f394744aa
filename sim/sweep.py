"""Sweeps and plans as cells: a grid over dotted keys, each point a scenario of its own.

Part of the scenario layer: expanding a sweep (or setting a plan's key) only builds and
checks scenarios; running them is `sim.experiment`'s and `sim.plan`'s.

A sweep over a key of a section that designs may override (`database`, `orchestrator`,
`balancer`) sets it in every design, over a broker's key (`kafka.partitions`) in every
design of that broker; `designs.NAME.section.key` sets it in one design.
Cells are numbered in grid order, the last key varying fastest.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from sim.broker_sections import BROKER_SECTIONS
from sim.errors import Problem, ScenarioError
from sim.scenario import DESIGN_SECTIONS, Scenario


@dataclass(frozen=True)
class Cell:
    """One point of a sweep: its number, the swept values, and its scenario."""

    index: int
    values: dict[str, Any]
    scenario: Scenario


def cells(scenario: Scenario) -> list[Cell]:
    """Every cell of the scenario's sweep (one cell, with no values, when it has none)."""
    keys = list(scenario.sweep)
    grid = itertools.product(*(scenario.sweep[key] for key in keys))
    base = plain_mapping(scenario)
    result, problems = [], []
    for index, combination in enumerate(grid):
        values = dict(zip(keys, combination, strict=True))
        data = copy.deepcopy(base)
        for key, value in values.items():
            apply_key(data, key, value)
        try:
            result.append(Cell(index, values, Scenario.from_mapping(data)))
        except ScenarioError as error:
            where = ", ".join(f"{k}={v!r}" for k, v in values.items())
            problems += [
                Problem(_sweep_path(p.path, keys), f"{p.dotted}: {p.message} (cell {where})")
                for p in error.problems
            ]
    if problems:
        raise ScenarioError(_first_per_path(problems))
    return result


def plain_mapping(scenario: Scenario) -> dict[str, Any]:
    """The scenario as a mapping without its sweep and plan: the base a cell is made from."""
    data = scenario.to_mapping()
    data.pop("sweep", None)
    data.pop("plan", None)
    return data


def apply_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted `key` in a scenario mapping; a design section key goes to every design,
    a broker section key to every design of that broker."""
    parts = key.split(".")
    if parts[0] in DESIGN_SECTIONS:
        for design in data.get("designs", {}).values():
            _set(design, parts, value)
    elif parts[0] in BROKER_SECTIONS:
        for design in data.get("designs", {}).values():
            if design.get("queue") == parts[0]:
                _set(design, parts, value)
    else:
        _set(data, parts, value)


def _set(data: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = data.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError([Problem(tuple(parts), f"{part} is not a section")])
        data = child
    data[parts[-1]] = copy.deepcopy(value)


def _sweep_path(path: tuple, keys: list[str]) -> tuple:
    """Where in the file a cell's problem comes from: the swept key it is under, if any."""
    dotted = ".".join(str(part) for part in path)
    for key in keys:
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return ("sweep", key)
    return ("sweep",)


def _first_per_path(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple] = set()
    kept = []
    for problem in problems:
        if problem.path not in seen:
            seen.add(problem.path)
            kept.append(problem)
    return kept


def plan_cell(scenario: Scenario, value: int) -> Scenario:
    """The scenario with the plan's key set to `value`, keeping only the plan's design."""
    spec = scenario.plan
    data = plain_mapping(scenario)
    design = spec.design or scenario.designs[0].name
    data["designs"] = {design: data["designs"][design]}
    apply_key(data, spec.key, value)
    return Scenario.from_mapping(data)
