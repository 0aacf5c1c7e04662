"""Four-colour risk grading (四色预警) and response level ("135") from rules held as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from .categories import Category
from .conditions import FLAGS_FIELD, Condition, FieldKind, Vocabulary, parse_condition
from .enums import Channel, RequestType, ResponseLevel, RiskColour, RiskFlag
from .model import CaseIn
from .resources import read_rule_text
from .rulefile import RuleFileError, expect_keys, expect_str, expect_version, parse_yaml_mapping

_GRADING_VOCAB = Vocabulary(
    fields={
        "people_involved": FieldKind.number,
        "amount_yuan": FieldKind.number,
        "repeat_count_30d": FieldKind.number,
        "category": FieldKind.code,
        "request_type": FieldKind.code,
        "channel": FieldKind.code,
    },
    codes={
        "category": frozenset(Category),
        "request_type": frozenset(RequestType),
        "channel": frozenset(Channel),
    },
    flags=frozenset(RiskFlag),
)
_LEVEL_VOCAB = Vocabulary(
    fields={"colour": FieldKind.code, "departments_count": FieldKind.number},
    codes={"colour": frozenset(RiskColour)},
    flags=frozenset(),
)


# --- typed rules ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GradingRule:
    id: str
    colour: RiskColour
    description_zh: str
    when: Condition


@dataclass(frozen=True, slots=True)
class DefaultReason:
    id: str
    colour: RiskColour
    description_zh: str


@dataclass(frozen=True, slots=True)
class LevelFloor:
    when: Condition
    at_least: ResponseLevel


@dataclass(frozen=True, slots=True)
class GradingRules:
    rules: tuple[GradingRule, ...]
    default: DefaultReason
    level_by_colour: Mapping[RiskColour, ResponseLevel]
    level_floors: tuple[LevelFloor, ...] = ()

    def response_level_for(self, colour: RiskColour, departments_count: int = 1) -> ResponseLevel:
        level = self.level_by_colour[colour]
        facts = {"colour": colour.value, "departments_count": departments_count}
        for floor in self.level_floors:
            if floor.when.evaluate(facts) and floor.at_least.rank > level.rank:
                level = floor.at_least
        return level


# --- results -------------------------------------------------------------------------------------


class FiredRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_id: str
    colour: RiskColour
    description_zh: str
    inputs: dict[str, Any]  # the facts the rule read, JSON-ready (amounts as decimal strings)


class Assessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    colour: RiskColour
    reasons: list[FiredRule]  # most severe first, then in rule-file order
    response_level: ResponseLevel


@dataclass(frozen=True, slots=True)
class GradingFacts:
    people_involved: int = 1
    amount_yuan: Decimal | None = None
    flags: frozenset[RiskFlag] = field(default_factory=frozenset)
    # Earlier reports of the same matter by the same reporter or address in the last 30 days,
    # excluding this one; counted by the caller (see duplicates.count_repeats).
    repeat_count_30d: int = 0
    category: Category | None = None
    request_type: RequestType | None = None
    channel: Channel | None = None

    def __post_init__(self) -> None:
        if self.people_involved < 1 or self.repeat_count_30d < 0:
            raise ValueError("people_involved must be >= 1 and repeat_count_30d >= 0")
        if self.amount_yuan is not None and self.amount_yuan < 0:
            raise ValueError("amount_yuan must be >= 0")

    @classmethod
    def from_case(
        cls, case: CaseIn, *, repeat_count_30d: int = 0, category: Category | None = None
    ) -> GradingFacts:
        """Facts of a validated case; ``category`` overrides the case's (e.g. the classifier's)."""
        return cls(
            people_involved=case.people_involved,
            amount_yuan=case.amount_yuan,
            flags=frozenset(case.flags),
            repeat_count_30d=repeat_count_30d,
            category=category or case.category,
            request_type=case.request_type,
            channel=case.channel,
        )

    def as_facts(self) -> dict[str, Any]:
        return {
            "people_involved": self.people_involved,
            "amount_yuan": self.amount_yuan,
            "repeat_count_30d": self.repeat_count_30d,
            "category": self.category,
            "request_type": self.request_type,
            "channel": self.channel,
            FLAGS_FIELD: frozenset(flag.value for flag in self.flags),
        }


# --- evaluation ----------------------------------------------------------------------------------


def grade(
    facts: GradingFacts, rules: GradingRules | None = None, *, departments_count: int = 1
) -> Assessment:
    """Fire every rule, keep the most severe colour, and explain it with the fired rules."""
    rules = rules or default_grading_rules()
    values = facts.as_facts()
    fired = [
        FiredRule(
            rule_id=rule.id,
            colour=rule.colour,
            description_zh=rule.description_zh,
            inputs=_explain(rule.when, values),
        )
        for rule in rules.rules
        if rule.when.evaluate(values)
    ]
    # sorted() is stable, so rules of one colour keep their file order.
    fired.sort(key=lambda reason: -reason.colour.severity)
    if fired:
        colour = fired[0].colour
    else:
        default = rules.default
        colour = default.colour
        fired = [
            FiredRule(rule_id=default.id, colour=colour, description_zh=default.description_zh, inputs={})
        ]
    return Assessment(
        colour=colour,
        reasons=fired,
        response_level=rules.response_level_for(colour, departments_count),
    )


def assess_case(
    case: CaseIn,
    *,
    repeat_count_30d: int = 0,
    category: Category | None = None,
    rules: GradingRules | None = None,
) -> Assessment:
    """Grade a validated case at intake (one department assumed until referral routes it)."""
    return grade(GradingFacts.from_case(case, repeat_count_30d=repeat_count_30d, category=category), rules)


def response_level_for(
    colour: RiskColour, departments_count: int = 1, rules: GradingRules | None = None
) -> ResponseLevel:
    return (rules or default_grading_rules()).response_level_for(colour, departments_count)


def _explain(condition: Condition, values: Mapping[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for name in sorted(condition.referenced()):
        value = values.get(name)
        if name == FLAGS_FIELD:
            inputs[name] = sorted(value or ())
        elif isinstance(value, Decimal):
            inputs[name] = str(value)
        elif value is None or isinstance(value, int):
            inputs[name] = value
        else:
            inputs[name] = str(value)
    return inputs


# --- loading -------------------------------------------------------------------------------------


def load_grading_rules(text: str) -> GradingRules:
    """Parse and validate a grading rule file; raise RuleFileError naming the faulty entry."""
    data = parse_yaml_mapping(text, "grading")
    expect_keys(data, "grading", required={"version", "rules", "default", "response_levels"})
    expect_version(data, "grading")
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleFileError("rules", "expected a non-empty list of rules")
    rules: list[GradingRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        where = f"rules[{i}]"
        node = expect_keys(raw, where, required={"id", "colour", "description_zh", "when"})
        rule_id = expect_str(node["id"], f"{where}.id")
        if rule_id in seen:
            raise RuleFileError(f"{where}.id", f"duplicate rule id {rule_id!r}")
        seen.add(rule_id)
        rules.append(
            GradingRule(
                id=rule_id,
                colour=_colour(node["colour"], f"{where}.colour"),
                description_zh=expect_str(node["description_zh"], f"{where}.description_zh"),
                when=parse_condition(node["when"], f"{where}.when", _GRADING_VOCAB),
            )
        )
    default_node = expect_keys(data["default"], "default", required={"id", "colour", "description_zh"})
    default = DefaultReason(
        id=expect_str(default_node["id"], "default.id"),
        colour=_colour(default_node["colour"], "default.colour"),
        description_zh=expect_str(default_node["description_zh"], "default.description_zh"),
    )
    if default.id in seen:
        raise RuleFileError("default.id", f"duplicate rule id {default.id!r}")
    by_colour, floors = _load_levels(data["response_levels"])
    return GradingRules(tuple(rules), default, by_colour, floors)


def _load_levels(node: object) -> tuple[dict[RiskColour, ResponseLevel], tuple[LevelFloor, ...]]:
    levels = expect_keys(node, "response_levels", required={"by_colour"}, optional={"floors"})
    by_colour_node = expect_keys(
        levels["by_colour"], "response_levels.by_colour", required={c.value for c in RiskColour}
    )
    by_colour = {
        RiskColour(colour): _level(level, f"response_levels.by_colour.{colour}")
        for colour, level in by_colour_node.items()
    }
    raw_floors = levels.get("floors") or []
    if not isinstance(raw_floors, list):
        raise RuleFileError("response_levels.floors", "expected a list")
    floors = []
    for i, raw in enumerate(raw_floors):
        where = f"response_levels.floors[{i}]"
        floor = expect_keys(raw, where, required={"when", "at_least"})
        floors.append(
            LevelFloor(
                when=parse_condition(floor["when"], f"{where}.when", _LEVEL_VOCAB),
                at_least=_level(floor["at_least"], f"{where}.at_least"),
            )
        )
    return by_colour, tuple(floors)


def _colour(raw: object, where: str) -> RiskColour:
    if isinstance(raw, str) and raw in RiskColour.__members__:
        return RiskColour(raw)
    raise RuleFileError(where, f"unknown colour {raw!r}; allowed: red, orange, yellow, blue")


def _level(raw: object, where: str) -> ResponseLevel:
    if isinstance(raw, str) and raw in ResponseLevel.__members__:
        return ResponseLevel(raw)
    allowed = ", ".join(level.value for level in ResponseLevel)
    raise RuleFileError(where, f"unknown response level {raw!r}; allowed: {allowed}")


@cache
def default_grading_rules() -> GradingRules:
    """The packaged rules (rules/grading.yaml), read on first use."""
    return load_grading_rules(read_rule_text("grading.yaml"))
