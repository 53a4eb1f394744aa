"""The layout: data flows one way, scenario -> model -> records -> metrics -> outputs.

An import graph of `sim`, read from the source with `ast` (imports inside functions
count too: a late import is still a dependency; imports under `if TYPE_CHECKING:` do
not, they name types for annotations and never run), must have no cycle through the
scenario layer, and the scenario layer must not reach the experiment layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sim"
SCENARIO_LAYER = {
    "sim.scenario",
    "sim.sections",
    "sim.checks",
    "sim.errors",
    "sim.distributions",
    "sim.loading",
    "sim.sweep",
    "sim.targets",
}
EXPERIMENT_LAYER = {"sim.experiment", "sim.plan", "sim.executors", "sim.cache", "sim.model"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the `sim` modules it imports (a package import counts as its __init__)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{alias.name}"
                    if f"{node.module}.{alias.name}" in modules
                    else node.module
                    for alias in node.names
                ]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            typing_only = isinstance(child, ast.If) and ast.unparse(child.test).endswith(
                "TYPE_CHECKING"
            )
            if not typing_only:
                stack.append(child)


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in graph[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "sim.scenario" in graph["sim.loading"]
    assert "sim.experiment" in graph["sim.plan"]
    assert "sim.targets" in graph["sim.checks"]


def test_no_cycle_goes_through_the_scenario_layer():
    graph = import_graph()
    for module in sorted(SCENARIO_LAYER):
        assert module not in reachable(graph, module), f"{module} imports itself, round about"


def test_the_scenario_layer_never_reaches_the_experiment_layer():
    graph = import_graph()
    for module in sorted(SCENARIO_LAYER):
        wrong = reachable(graph, module) & EXPERIMENT_LAYER
        assert not wrong, f"{module} depends on {sorted(wrong)}"
