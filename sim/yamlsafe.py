"""Reading YAML text that may be hostile: the file, and every `--set` and `--sweep` value.

Safe loading only (no tags that build Python objects), and before anything is built the
node tree is checked: anchors and aliases are refused (they can expand into something
enormous), so are merge keys (`<<`, which would bypass the next check), and so are keys
that are equal once read (`count` twice, but also `0` and `0x0`, or `true` and `1.0`):
PyYAML would silently keep one of them. Every problem comes out as one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from sim.errors import shorten

MERGE_TAG = "tag:yaml.org,2002:merge"
#: Deeper than any scenario needs; deeper still would exhaust the stack when built.
MAX_DEPTH = 64


#: LibYAML's parser when PyYAML was built with it: ten times faster on a large file.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loading that also reads `1e3` as a number (YAML 1.1 wants `1.0e3`)."""


_Loader.yaml_implicit_resolvers = {
    key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


@dataclass
class YamlProblem(Exception):
    """Why a text was refused: `syntax` (not YAML at all) or not; where (1-based line
    and column, when known); `detail`, one line."""

    detail: str
    line: int | None = None
    column: int | None = None
    syntax: bool = False

    def where(self, label: str) -> str:
        """`label:line:col`, or `label` alone when the place is not known."""
        return f"{label}:{self.line}:{self.column}" if self.line is not None else label


def read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree and the data of one YAML document; `YamlProblem` if refused."""
    loader = None
    try:
        loader = _Loader(text)  # the reader already refuses some characters here
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_nodes(node, loader)
        return node, loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise _at(mark, fold(error.problem or str(error)), syntax=True) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        detail = f"character #x{error.character:04x} is not allowed in YAML"
        raise YamlProblem(detail, line, column, syntax=True) from None
    except yaml.YAMLError as error:
        raise YamlProblem(fold(str(error)), syntax=True) from None
    except RecursionError:
        raise YamlProblem("nested too deeply", syntax=True) from None
    finally:
        if loader is not None:
            loader.dispose()


def fold(text: str) -> str:
    """PyYAML's messages span lines (with a caret under the mistake): one line."""
    return " ".join(text.split())


def shown(text: str) -> str:
    """A piece of the input, quoted, cut short if long."""
    return shorten(repr(text))


def _at(mark: Any, detail: str, syntax: bool = False) -> YamlProblem:
    if mark is None:
        return YamlProblem(detail, syntax=syntax)
    return YamlProblem(detail, mark.line + 1, mark.column + 1, syntax=syntax)


def _check_nodes(root: yaml.Node, loader: _Loader) -> None:
    """Refuse aliases (a node reached twice), merge keys, keys equal once read, and
    nesting deeper than `MAX_DEPTH`."""
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise _at(node.start_mark, "anchors and aliases are not allowed")
        if depth > MAX_DEPTH:
            raise _at(node.start_mark, "nested too deeply", syntax=True)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            _check_keys(node, loader)
            for key, value in node.value:
                stack += [(key, depth + 1), (value, depth + 1)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in node.value]


def _check_keys(node: yaml.MappingNode, loader: _Loader) -> None:
    keys: dict[Any, yaml.Node] = {}
    for key, _ in node.value:
        if key.tag == MERGE_TAG:
            raise _at(key.start_mark, "merge keys (<<) are not allowed: write the keys out")
        if not isinstance(key, yaml.ScalarNode):
            continue  # a mapping or list as a key: the constructor refuses it
        value = loader.construct_object(key)  # a scalar: no alias, no recursion
        try:
            first = keys.setdefault(value, key)
        except TypeError:
            continue
        if first is not key:
            raise _at(key.start_mark, _duplicate(key, first))


def _duplicate(key: yaml.ScalarNode, first: yaml.ScalarNode) -> str:
    if key.value == first.value:
        return f"duplicate key {shown(key.value)}"
    return (
        f"duplicate key {shown(key.value)}: the same key as {shown(first.value)} on line "
        f"{first.start_mark.line + 1} once read"
    )
