"""A tiny condition language for rule files, parsed into typed, explainable objects.

Forms (YAML mappings):
  {field: people_involved, op: ">=", value: 30}       ops: >= > <= < == != between in
  {field: people_involved, op: between, value: [10, 29]}   (inclusive)
  {field: category, op: in, value: [labour, construction_payment]}
  {field: urgent, op: "==", value: true}               ops for a yes/no field: == !=
  {flag: violence_threat}                              true if the flag is set
  {all: [cond, ...]}  {any: [cond, ...]}  {not: cond}
A missing value (e.g. no amount given) satisfies no comparison.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Protocol

from hub.datafile import DataFileError, expect_mapping


class FieldKind(Enum):
    number = "number"
    code = "code"  # an enum code name, compared as text
    boolean = "boolean"  # yes/no, compared with true or false


FLAGS_FIELD = "flags"
Facts = Mapping[str, Any]  # field name -> value; FLAGS_FIELD -> a set of flag names

_NUMBER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_CODE_OPS = {"==", "!=", "in"}


class Condition(Protocol):
    def evaluate(self, facts: Facts) -> bool: ...

    def referenced(self) -> frozenset[str]:
        """Field names (and FLAGS_FIELD) this condition reads, to explain a decision."""
        ...


@dataclass(frozen=True, slots=True)
class FieldCondition:
    field: str
    op: str
    value: Decimal | str | tuple[Decimal, Decimal] | frozenset[str] | bool

    def evaluate(self, facts: Facts) -> bool:
        actual = facts.get(self.field)
        if actual is None:
            return False
        if isinstance(self.value, bool):
            return (bool(actual) == self.value) == (self.op == "==")
        if isinstance(self.value, Decimal):
            return _NUMBER_OPS[self.op](Decimal(actual), self.value)
        if isinstance(self.value, tuple):
            low, high = self.value
            return low <= Decimal(actual) <= high
        text = str(actual)
        if isinstance(self.value, frozenset):
            return text in self.value
        return (text == self.value) == (self.op == "==")

    def referenced(self) -> frozenset[str]:
        return frozenset({self.field})


@dataclass(frozen=True, slots=True)
class FlagCondition:
    flag: str

    def evaluate(self, facts: Facts) -> bool:
        return self.flag in facts.get(FLAGS_FIELD, ())

    def referenced(self) -> frozenset[str]:
        return frozenset({FLAGS_FIELD})


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> bool:
        return all(item.evaluate(facts) for item in self.items)

    def referenced(self) -> frozenset[str]:
        return frozenset().union(*(item.referenced() for item in self.items))


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> bool:
        return any(item.evaluate(facts) for item in self.items)

    def referenced(self) -> frozenset[str]:
        return frozenset().union(*(item.referenced() for item in self.items))


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition

    def evaluate(self, facts: Facts) -> bool:
        return not self.item.evaluate(facts)

    def referenced(self) -> frozenset[str]:
        return self.item.referenced()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What a rule file may mention: its fields (with kinds and allowed codes) and flag names."""

    fields: Mapping[str, FieldKind]
    codes: Mapping[str, frozenset[str]]
    flags: frozenset[str]


def parse_condition(node: object, where: str, vocab: Vocabulary) -> Condition:
    if not isinstance(node, Mapping):
        raise DataFileError(where, f"a condition must be a mapping, got {type(node).__name__}")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        expect_mapping(node, where, required={key})
        items = node[key]
        if not isinstance(items, list) or not items:
            raise DataFileError(f"{where}.{key}", "expected a non-empty list of conditions")
        parsed = tuple(parse_condition(item, f"{where}.{key}[{i}]", vocab) for i, item in enumerate(items))
        return AllOf(parsed) if key == "all" else AnyOf(parsed)
    if "not" in node:
        expect_mapping(node, where, required={"not"})
        return Not(parse_condition(node["not"], f"{where}.not", vocab))
    if "flag" in node:
        expect_mapping(node, where, required={"flag"})
        if node["flag"] not in vocab.flags:
            allowed = ", ".join(sorted(vocab.flags)) or "(none)"
            raise DataFileError(f"{where}.flag", f"unknown flag {node['flag']!r}; allowed: {allowed}")
        return FlagCondition(node["flag"])
    if "field" in node:
        expect_mapping(node, where, required={"field", "op", "value"})
        return _parse_field_condition(node, where, vocab)
    raise DataFileError(where, "a condition needs one of: field, flag, all, any, not")


def _parse_field_condition(node: Mapping[str, Any], where: str, vocab: Vocabulary) -> FieldCondition:
    field, op, raw = node["field"], node["op"], node["value"]
    kind = vocab.fields.get(field)
    if kind is None:
        allowed = ", ".join(sorted(vocab.fields))
        raise DataFileError(f"{where}.field", f"unknown field {field!r}; allowed: {allowed}")
    if kind is FieldKind.number:
        if op == "between":
            if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) != 2:
                raise DataFileError(f"{where}.value", "between needs a list [low, high]")
            low, high = (_number(v, f"{where}.value") for v in raw)
            if low > high:
                raise DataFileError(f"{where}.value", f"between low {low} is above high {high}")
            return FieldCondition(field, op, (low, high))
        if op not in _NUMBER_OPS:
            allowed = ", ".join([*_NUMBER_OPS, "between"])
            raise DataFileError(f"{where}.op", f"unknown op {op!r} for a number; allowed: {allowed}")
        return FieldCondition(field, op, _number(raw, f"{where}.value"))
    if kind is FieldKind.boolean:
        if op not in ("==", "!="):
            raise DataFileError(f"{where}.op", f"unknown op {op!r} for a yes/no field; allowed: ==, !=")
        if not isinstance(raw, bool):
            raise DataFileError(f"{where}.value", f"expected true or false, got {raw!r}")
        return FieldCondition(field, op, raw)
    if op not in _CODE_OPS:
        allowed = ", ".join(sorted(_CODE_OPS))
        raise DataFileError(f"{where}.op", f"unknown op {op!r} for a code; allowed: {allowed}")
    allowed_codes = vocab.codes.get(field, frozenset())
    values = raw if op == "in" else [raw]
    if not isinstance(values, list) or not values:
        raise DataFileError(f"{where}.value", "in needs a non-empty list")
    for value in values:
        if value not in allowed_codes:
            raise DataFileError(f"{where}.value", f"unknown {field} {value!r}")
    return FieldCondition(field, op, frozenset(values) if op == "in" else str(raw))


def _number(raw: object, where: str) -> Decimal:
    # bool is an int; "value: yes" would otherwise silently mean 1.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise DataFileError(where, f"expected a number, got {raw!r}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise DataFileError(where, f"expected a number, got {raw!r}") from None
    if not value.is_finite():
        raise DataFileError(where, f"expected a finite number, got {raw!r}")
    return value
