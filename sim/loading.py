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

from sim.scenario import DEFAULT_DESIGNS, Problem, Scenario, ScenarioError
from sim.sweep import cells

MAX_FILE_BYTES = 1_000_000


class _Loader(yaml.SafeLoader):
    """Safe loading that also reads `1e3` as a number (YAML 1.1 wants `1.0e3`)."""


_Loader.yaml_implicit_resolvers = {
    key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


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
    _anchor_trace(data, path.parent)
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
        lines = [_describe(problem, node, str(path), overrides) for problem in error.problems]
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


def _anchor_trace(data: dict[str, Any], folder: Path) -> None:
    """A relative `orders.trace` is relative to the scenario file's folder."""
    orders = data.get("orders")
    trace = orders.get("trace") if isinstance(orders, dict) else None
    if isinstance(trace, str) and trace and not Path(trace).is_absolute():
        orders["trace"] = str((folder / trace).absolute())


def parse_sweeps(sweeps: Iterable[str]) -> dict[str, list[Any]]:
    """`KEY=V1,V2,...` (or `KEY=[V1, V2]`) strings as {key: values}, each read as YAML."""
    result: dict[str, list[Any]] = {}
    for item in sweeps:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise ScenarioError([], [f"--sweep {item}: expected KEY=V1,V2,..."])
        try:
            if text.strip().startswith("["):
                values = yaml.load(text, Loader=_Loader)
            else:
                values = [yaml.load(part, Loader=_Loader) for part in text.split(",")]
        except RecursionError:
            raise ScenarioError([], [f"--sweep {key}: the values are nested too deeply"]) from None
        except yaml.YAMLError as error:
            message = " ".join(str(error).split())
            raise ScenarioError([], [f"--sweep {item}: not valid YAML ({message})"]) from None
        if not isinstance(values, list) or not values:
            raise ScenarioError([], [f"--sweep {item}: expected a list of values"])
        result[key.strip()] = values
    return result


def parse_sets(sets: Iterable[str]) -> dict[tuple[str, ...], Any]:
    """`KEY=VALUE` strings as {key path: value}; the value is read as a YAML scalar or list."""
    overrides: dict[tuple[str, ...], Any] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        parts = tuple(key.strip().split("."))
        if not sep or not all(parts):
            raise ScenarioError([], [f"--set {item}: expected KEY=VALUE with a dotted KEY"])
        try:
            overrides[parts] = yaml.load(value, Loader=_Loader) if value.strip() else None
        except RecursionError:
            raise ScenarioError([], [f"--set {key}: the value is nested too deeply"]) from None
        except yaml.YAMLError as error:
            raise ScenarioError(
                [], [f"--set {item}: the value is not valid YAML ({error})"]
            ) from None
    return overrides


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
    loader = None
    try:
        loader = _Loader(text)  # the reader already refuses some characters here
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_nodes(node, filename)
        return node, loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        raise ScenarioError([], [f"{where}: not a valid scenario file: {error.problem}"]) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        raise ScenarioError(
            [],
            [
                f"{filename}:{line}:{column}: not a valid scenario file: "
                f"character #x{error.character:04x} is not allowed in YAML"
            ],
        ) from None
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())
        raise ScenarioError([], [f"{filename}: not a valid scenario file: {message}"]) from None
    except RecursionError:
        raise ScenarioError(
            [], [f"{filename}: not a valid scenario file: nested too deeply"]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_nodes(root: yaml.Node, filename: str) -> None:
    """Refuse aliases (a node reached twice) and duplicate keys, with their line."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise ScenarioError(
                [], [f"{_mark(node, filename)}: anchors and aliases are not allowed"]
            )
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[Any] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in keys:
                        raise ScenarioError(
                            [], [f"{_mark(key, filename)}: duplicate key {key.value!r}"]
                        )
                    keys.add(key.value)
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _mark(node: yaml.Node, filename: str) -> str:
    return f"{filename}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


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


def _describe(
    problem: Problem,
    root: yaml.Node | None,
    filename: str,
    overrides: Mapping[tuple[str, ...], Any],
) -> str:
    """One line for a problem: where it is (file:line:col or the --set), the key, the mistake."""
    path = tuple(str(part) for part in problem.path)
    for parts, value in overrides.items():
        if path[: len(parts)] == parts or (parts[: len(path)] == path and path):
            if parts[0] == "sweep" and len(parts) == 2:
                shown = ",".join(map(str, value))
                return f"--sweep {parts[1]}={shown}: {problem.dotted}: {problem.message}"
            return f"--set {'.'.join(parts)}={value}: {problem.dotted}: {problem.message}"
    node = _locate(root, problem.path)
    where = _mark(node, filename) if node is not None else filename
    return f"{where}: {problem.dotted}: {problem.message}"


def _locate(node: yaml.Node | None, path: Sequence[str | int]) -> yaml.Node | None:
    """The deepest node along `path`; parts that name a union's tag are skipped."""
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if str(k.value) == str(part)), None)
            if found is None:
                tags = {str(v.value) for k, v in node.value if isinstance(v, yaml.ScalarNode)}
                if str(part) in tags:
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
