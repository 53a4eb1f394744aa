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
        return ".".join(shorten(str(part)) for part in self.path) or "(top level)"


def shorten(text: str, limit: int = 60) -> str:
    """A piece of the input as shown in a message: cut short if long, saying how long it
    was, so that one mistake stays one short line however large the input."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text):,} characters)"


class ScenarioError(ValueError):
    """A scenario was refused; `problems` lists every mistake found."""

    def __init__(self, problems: list[Problem], lines: list[str] | None = None):
        self.problems = problems
        self.lines = lines or [f"{p.dotted}: {p.message}" for p in problems]
        super().__init__("\n".join(self.lines))
