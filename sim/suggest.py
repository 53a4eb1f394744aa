""" "Did you mean ...?" for a mistyped key, strategy, distribution or subcommand."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice nearest to `word`, if one is near enough to be a typo of it."""
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`" (did you mean 'x'?)"`, or nothing when no choice is near."""
    match = closest(word, choices)
    return f" (did you mean {match!r}?)" if match else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation may hold (through unions, optionals, lists and dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def keys_at(model: type[BaseModel], path: Sequence[str | int]) -> set[str]:
    """The keys allowed beside the last part of `path` (a validation error's location) in
    `model`; a part that is no field (a design's name, a union's tag) is stepped over."""
    candidates = [model]
    for part in path[:-1]:
        inner = [
            found
            for m in candidates
            if isinstance(part, str) and part in m.model_fields
            for found in _models_in(m.model_fields[part].annotation)
        ]
        candidates = inner or candidates
    return {name for m in candidates for name in m.model_fields}


def expected_words(context: dict | None) -> list[str]:
    """The quoted choices of a literal or tag error's context: `'a', 'b' or 'c'`."""
    text = (context or {}).get("expected") or (context or {}).get("expected_tags") or ""
    return re.findall(r"'([^']*)'", str(text))
