"""Strict reading of the hub's YAML data and rule files: text in, values out (no file I/O here).

Every error names the path inside the document (``rules[3].lead``) so an operator can fix the file;
`DataFileError.position` turns that path (or the parser's own mark) into a line and column. Unknown
keys are refused so a typo cannot hide. Domains may import this module: it only parses text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from typing import Any

import yaml


class DataFileError(ValueError):
    """A data file is malformed: ``where`` is the path inside the document, ``problem`` what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem

    def position(self, text: str) -> tuple[int | None, int | None]:
        """Line and column (1-based) in `text`: the parser's for a syntax error, else the entry's."""
        mark = getattr(self.__cause__, "problem_mark", None) or getattr(self.__cause__, "context_mark", None)
        if mark is not None:
            return mark.line + 1, mark.column + 1
        return locate(text, self.where)


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader refusing anchors' aliases: a few kilobytes of nested aliases expand to millions of
    nodes (the "billion laughs"), and files people upload never need them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed here", event.start_mark
            )
        return super().compose_node(parent, index)


def parse_mapping(text: str, what: str, *, aliases: bool = True) -> dict[str, Any]:
    """Parse YAML (JSON is a subset) whose top level must be a mapping. `aliases=False` for text from
    outside (an upload): a document using aliases is refused before it can expand."""
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader if aliases else _NoAliasLoader)  # noqa: S506 (safe loaders)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for dates like 2027-13-01
        raise DataFileError(what, f"not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise DataFileError(what, "the top level must be a mapping")
    return data


def expect_mapping(
    node: object,
    where: str,
    *,
    required: AbstractSet[str] = frozenset(),
    optional: AbstractSet[str] = frozenset(),
) -> dict[str, Any]:
    """A mapping with exactly the allowed keys: unknown keys are refused so typos cannot hide."""
    if not isinstance(node, Mapping):
        raise DataFileError(where, f"expected a mapping, got {_kind(node)}")
    keys = {str(k) for k in node}
    problems = []
    missing = required - keys
    if missing:
        problems.append(f"missing key(s): {', '.join(sorted(missing))}")
    unknown = keys - required - optional
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        problems.append(f"unknown key(s): {', '.join(sorted(unknown))} (allowed: {allowed})")
    if problems:
        raise DataFileError(where, "; ".join(problems))  # both at once: a misspelt key shows as a pair
    return {str(k): v for k, v in node.items()}


def expect_table(node: object, where: str) -> dict[str, Any]:
    """A mapping keyed by free codes (e.g. department types); the values are checked by the caller."""
    if not isinstance(node, Mapping) or not node:
        raise DataFileError(where, f"expected a non-empty mapping, got {_kind(node)}")
    return {str(k): v for k, v in node.items()}


def expect_list(node: object, where: str) -> list[Any]:
    if not isinstance(node, list):
        raise DataFileError(where, f"expected a list, got {_kind(node)}")
    return node


def expect_str(node: object, where: str, *, strip: bool = True) -> str:
    """A non-empty string, stripped unless its spaces are content (marks that include a newline)."""
    if not isinstance(node, str) or not node.strip():
        raise DataFileError(where, f"expected a non-empty string, got {_kind(node)}")
    return node.strip() if strip else node


def expect_code(node: object, where: str) -> str:
    """An identifier-like code; an unquoted number (an area code) is accepted as its digits."""
    if isinstance(node, int) and not isinstance(node, bool):
        return str(node)
    return expect_str(node, where)


def expect_int(node: object, where: str, *, minimum: int | None = None) -> int:
    if not isinstance(node, int) or isinstance(node, bool):
        raise DataFileError(where, f"expected an integer, got {_kind(node)}")
    if minimum is not None and node < minimum:
        raise DataFileError(where, f"must be at least {minimum}, got {node}")
    return node


def expect_bool(node: object, where: str) -> bool:
    if not isinstance(node, bool):
        raise DataFileError(where, f"expected true or false, got {_kind(node)}")
    return node


def expect_date(node: object, where: str) -> date:
    """A calendar date: YAML's unquoted 2027-01-01, or the same as a quoted ISO string."""
    if isinstance(node, datetime):
        raise DataFileError(where, f"expected a date without a time, got {node.isoformat()}")
    if isinstance(node, date):
        return node
    if isinstance(node, str):
        try:
            return date.fromisoformat(node.strip())
        except ValueError:
            pass
    raise DataFileError(where, f"expected a date like 2027-01-01, got {node!r}")


def expect_version(data: Mapping[str, Any], what: str, supported: int = 1) -> None:
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != supported:
        raise DataFileError(
            f"{what}.version", f"unsupported format version: must be {supported}, got {_kind(version)}"
        )


def _kind(node: object) -> str:
    return "nothing" if node is None else f"{type(node).__name__} {node!r}"


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def locate(text: str, where: str) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the YAML node a path like `rules[3].when.field` names.

    Walks as deep as the path exists (a missing key points at its parent mapping).
    """
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None, None
    if node is None:
        return None, None
    segments: list[str | int] = [int(index) if index else key for key, index in _SEGMENT.findall(where)]
    # Paths may start with the file's own label ("grading.version"): skip it when it is not a key.
    if segments and isinstance(segments[0], str) and _child(node, segments[0]) is None:
        segments = segments[1:]
    for segment in segments:
        child = _child(node, segment)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: yaml.Node, segment: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(segment, str):
        for key, value in node.value:
            if str(key.value) == segment:
                found: yaml.Node = value
                return found
    if isinstance(node, yaml.SequenceNode) and isinstance(segment, int) and segment < len(node.value):
        item: yaml.Node = node.value[segment]
        return item
    return None
