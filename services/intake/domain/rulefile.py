"""Shared helpers for parsing rule files: one error type that names where the file is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml


class RuleFileError(ValueError):
    """A rule file is malformed; the message names the file section at fault."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def parse_yaml_mapping(text: str, what: str) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleFileError(what, f"not valid YAML ({exc})") from exc
    if not isinstance(data, Mapping):
        raise RuleFileError(what, "the top level must be a mapping")
    return data


def expect_keys(
    node: object, where: str, *, required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> Mapping[str, Any]:
    """Check ``node`` is a mapping with exactly the allowed keys (typos must not pass silently)."""
    if not isinstance(node, Mapping):
        raise RuleFileError(where, f"expected a mapping, got {type(node).__name__}")
    missing = required - node.keys()
    if missing:
        raise RuleFileError(where, f"missing key(s): {', '.join(sorted(missing))}")
    unknown = set(node.keys()) - required - set(optional)
    if unknown:
        raise RuleFileError(where, f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    return node


def expect_version(data: Mapping[str, Any], what: str, supported: int = 1) -> None:
    if data.get("version") != supported:
        raise RuleFileError(f"{what}.version", f"must be {supported}, got {data.get('version')!r}")


def expect_str(node: object, where: str) -> str:
    if not isinstance(node, str) or not node.strip():
        raise RuleFileError(where, "expected a non-empty string")
    return node
