"""Reading a scenario file: safe YAML, `--set` overrides, and problems pointed at lines.

This is the only place that reads YAML. It never constructs Python objects from tags
(safe loading only), refuses anchors and aliases (they can expand into something enormous),
and refuses duplicate keys (PyYAML would silently keep the last one).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sim.errors import shorten
from sim.scenario import DEFAULT_DESIGNS, Problem, Scenario, ScenarioError
from sim.sweep import cells
from sim.yamlsafe import YamlProblem, read_yaml

MAX_FILE_BYTES = 1_000_000
#: Mistakes reported one per line; beyond, only how many more there are.
MAX_REPORTED = 50


def load_scenario(
    path: str | Path,
    sets: Sequence[str] = (),
    sweeps: Sequence[str] = (),
    **python_overrides: Any,
) -> Scenario:
    """Read, override and validate a scenario file; raise `ScenarioError` on any mistake.

    `sets` are `KEY=VALUE` strings as on the command line (`"stores.count=8"`, the value
    read as YAML); `sweeps` are `KEY=V1,V2,...` (or `KEY=[V1, V2]`) strings that add keys
    to the sweep; `python_overrides` are Python values, with `__` for the dots of a key
    path: `load_scenario(path, replications=3, stores__count=8)`. Every cell of a sweep
    is checked too.
    """
    path = Path(path)
    text = _read_text(path)
    node, data = _parse(text, str(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([], [f"{path}:1:1: the file must be a mapping of keys to values"])
    data.setdefault("name", _default_name(path))
    overrides = parse_sets(sets)
    overrides.update({tuple(key.split("__")): value for key, value in python_overrides.items()})
    _apply_sets(data, overrides)
    swept = parse_sweeps(sweeps)
    if swept:
        if not isinstance(data.get("sweep"), dict):
            data["sweep"] = {}
        data["sweep"].update(swept)
        overrides.update({("sweep", key): values for key, values in swept.items()})
    try:
        scenario = Scenario.from_mapping(data)
        cells(scenario)  # every cell must be a valid scenario too
        _check_plan(scenario)
        return scenario
    except ScenarioError as error:
        lines = _describe_all(error.problems, node, str(path), overrides)
        raise ScenarioError(error.problems, lines) from None


def _check_plan(scenario: Scenario) -> None:
    """The plan's key must make a valid scenario at both ends of its range."""
    if scenario.plan is None:
        return
    from sim.plan import plan_cell  # the plan runs scenarios; loading need not at import

    problems = []
    for end in ("low", "high"):
        value = getattr(scenario.plan, end)
        try:
            plan_cell(scenario, value)
        except ScenarioError as error:
            problems += [
                Problem(("plan", end), f"{scenario.plan.key}={value}: {p.dotted}: {p.message}")
                for p in error.problems
            ]
    if problems:
        raise ScenarioError(problems)


def parse_sweeps(sweeps: Iterable[str]) -> dict[str, list[Any]]:
    """`KEY=V1,V2,...` (or `KEY=[V1, V2]`) strings as {key: values}, each read as YAML."""
    result: dict[str, list[Any]] = {}
    for item in sweeps:
        key, sep, text = item.partition("=")
        option = f"--sweep {_cut(item)}"
        if not sep or not key.strip() or not text.strip():
            raise ScenarioError([], [f"{option}: expected KEY=V1,V2,..."])
        if text.strip().startswith("["):
            values = _parse_value(text, option)
        else:
            values = [_parse_value(part, option) for part in text.split(",")]
        if not isinstance(values, list) or not values:
            raise ScenarioError([], [f"{option}: expected a list of values"])
        if key.strip() in result:
            raise ScenarioError(
                [],
                [
                    f"{option}: {_cut(key.strip())} is swept twice: give all its values "
                    f"in one --sweep ({_cut(key.strip())}=V1,V2,...)"
                ],
            )
        result[key.strip()] = values
    return result


def parse_sets(sets: Iterable[str]) -> dict[tuple[str, ...], Any]:
    """`KEY=VALUE` strings as {key path: value}; the value is read as a YAML scalar or list."""
    overrides: dict[tuple[str, ...], Any] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        parts = tuple(key.strip().split("."))
        option = f"--set {_cut(item)}"
        if not sep or not all(parts):
            raise ScenarioError([], [f"{option}: expected KEY=VALUE with a dotted KEY"])
        overrides[parts] = _parse_value(value, option) if value.strip() else None
    return overrides


def _cut(text: str) -> str:
    """A command-line argument as echoed in a message: cut short if long."""
    return shorten(text, 80)


def _read_text(path: Path) -> str:
    def refuse(why: str) -> ScenarioError:
        return ScenarioError([], [f"{path}: {why}"])

    if not path.exists():
        raise refuse("no such file")
    if not path.is_file():
        raise refuse("not a file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise refuse(f"larger than {MAX_FILE_BYTES} bytes; a scenario is a short YAML file")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse(f"not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise refuse(f"cannot be read ({error.strerror})") from None


def _parse(text: str, filename: str) -> tuple[yaml.Node | None, Any]:
    try:
        return read_yaml(text)
    except YamlProblem as problem:
        detail = (
            f"not a valid scenario file: {problem.detail}" if problem.syntax else problem.detail
        )
        raise ScenarioError([], [f"{problem.where(filename)}: {detail}"]) from None


def _parse_value(text: str, option: str) -> Any:
    """A `--set` or `--sweep` value, read as YAML with the file's rules; `option` (say
    `--set stores.count=[1,`) starts the one line that refuses it."""
    try:
        return read_yaml(text)[1]
    except YamlProblem as problem:
        detail = problem.detail
        if problem.syntax:
            column = f", at column {problem.column}" if problem.line == 1 else ""
            detail = f"the value is not valid YAML ({detail}{column})"
        raise ScenarioError([], [f"{option}: {detail}"]) from None


def _default_name(path: Path) -> str:
    """The file's name as a results folder name (at most 64 characters)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip("._-")[:64] or "scenario"


def _apply_sets(data: dict[str, Any], overrides: Mapping[tuple[str, ...], Any]) -> None:
    for parts, value in overrides.items():
        if parts[0] == "designs" and len(parts) > 2 and data.get("designs") is None:
            data["designs"] = copy.deepcopy(DEFAULT_DESIGNS)  # so defaults can be overridden
        target = data
        for depth, part in enumerate(parts[:-1]):
            if parts[0] == "designs" and depth == 1 and part not in (data.get("designs") or {}):
                names = ", ".join(data.get("designs") or {}) or "none"
                raise ScenarioError(
                    [], [f"--set {'.'.join(parts)}: no design named {part!r} (designs: {names})"]
                )
            child = target.setdefault(part, {})
            if child is None:
                child = target[part] = {}
            if not isinstance(child, dict):
                raise ScenarioError(
                    [],
                    [f"--set {'.'.join(parts)}: {'.'.join(parts[: depth + 1])} is not a section"],
                )
            target = child
        target[parts[-1]] = value


def _describe_all(
    problems: Sequence[Problem],
    root: yaml.Node | None,
    filename: str,
    overrides: Mapping[tuple[str, ...], Any],
) -> list[str]:
    """A line per problem (the first `MAX_REPORTED`, then how many more), each found in
    the file in one pass: a mapping's keys are indexed once, not searched per problem."""
    locator = _Locator(root)
    lines = [_describe(p, locator, filename, overrides) for p in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        lines.append(f"{filename}: and {len(problems) - MAX_REPORTED:,} more mistakes")
    return lines


def _describe(
    problem: Problem,
    locator: _Locator,
    filename: str,
    overrides: Mapping[tuple[str, ...], Any],
) -> str:
    """One line for a problem: where it is (file:line:col or the --set), the key, the mistake."""
    path = tuple(str(part) for part in problem.path)
    for parts, value in overrides.items():
        if path[: len(parts)] == parts or (parts[: len(path)] == path and path):
            if parts[0] == "sweep" and len(parts) == 2:
                option = f"--sweep {_cut(parts[1] + '=' + ','.join(map(str, value)))}"
            else:
                option = f"--set {_cut('.'.join(parts) + '=' + str(value))}"
            return f"{option}: {problem.dotted}: {problem.message}"
    node = locator.locate(problem.path)
    where = _mark(node, filename) if node is not None else filename
    return f"{where}: {problem.dotted}: {problem.message}"


def _mark(node: yaml.Node, filename: str) -> str:
    return f"{filename}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


class _Locator:
    """Finds the node of a key path in a file's node tree."""

    def __init__(self, root: yaml.Node | None):
        self.root = root
        self._keys: dict[int, dict[str, yaml.Node]] = {}  # mapping node -> key -> value
        self._tags: dict[int, set[str]] = {}  # mapping node -> its scalar values

    def locate(self, path: Sequence[str | int]) -> yaml.Node | None:
        """The deepest node along `path`; parts that name a union's tag are skipped."""
        node = self.root
        for part in path:
            if isinstance(node, yaml.MappingNode):
                found = self._index(node).get(str(part))
                if found is None:
                    if str(part) in self._tags[id(node)]:
                        continue
                    return node
                node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return node
                node = node.value[part]
            else:
                return node
        return node

    def _index(self, node: yaml.MappingNode) -> dict[str, yaml.Node]:
        if id(node) not in self._keys:
            keys: dict[str, yaml.Node] = {}
            for key, value in node.value:
                keys.setdefault(str(key.value), value)  # the first, as a search would
            self._keys[id(node)] = keys
            self._tags[id(node)] = {
                str(v.value) for _, v in node.value if isinstance(v, yaml.ScalarNode)
            }
        return self._keys[id(node)]
