"""How a refused scenario reports its mistakes."""

from __future__ import annotations

from dataclasses import dataclass


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
