"""Strict readers for the referral service's YAML/JSON data files (text in, values out; no I/O).

Every error names the path inside the document (``rules[3].lead``) so an operator can fix the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from typing import Any

import yaml


class DataFileError(ValueError):
    """A data file is malformed; ``where`` is the path inside the document."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def parse_document(text: str, what: str) -> dict[str, Any]:
    """Parse YAML (JSON is a subset) whose top level must be a mapping."""
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for dates like 2027-13-01
        raise DataFileError(what, f"not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DataFileError(what, "expected a mapping at the top level")
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


def expect_str(node: object, where: str) -> str:
    if not isinstance(node, str) or not node.strip():
        raise DataFileError(where, f"expected a non-empty string, got {_kind(node)}")
    return node.strip()


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
    version = expect_int(data.get("version"), f"{what}.version")
    if version != supported:
        raise DataFileError(f"{what}.version", f"unsupported format version {version} (expected {supported})")


def _kind(node: object) -> str:
    return "nothing" if node is None else f"{type(node).__name__} {node!r}"
