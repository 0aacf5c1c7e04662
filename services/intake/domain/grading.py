"""Four-colour risk grading (四色预警) and response level ("135") from rules held as data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.contracts.vocabulary import Category, Colour, ResponseLevel
from hub.datafile import DataFileError, expect_mapping, expect_str, expect_version, parse_mapping

from .conditions import (
    FLAGS_FIELD,
    AllOf,
    AnyOf,
    Condition,
    FieldKind,
    FlagCondition,
    Vocabulary,
    parse_condition,
)
from .enums import Channel, RequestType, RiskFlag
from .key_persons import COLOUR_CODES as KEY_PERSON_COLOURS
from .model import CaseIn
from .resources import read_rule_text
from .signal_evidence import Evidence, TextFacts, flag_key

_GRADING_VOCAB = Vocabulary(
    fields={
        "people_involved": FieldKind.number,
        "amount_yuan": FieldKind.number,
        "repeat_count_30d": FieldKind.number,
        "category": FieldKind.code,
        "request_type": FieldKind.code,
        "channel": FieldKind.code,
        "urgent": FieldKind.boolean,
        "key_person": FieldKind.boolean,
        "key_person_colour": FieldKind.code,
    },
    codes={
        "key_person_colour": frozenset(KEY_PERSON_COLOURS),
        "category": frozenset(Category),
        "request_type": frozenset(RequestType),
        "channel": frozenset(Channel),
    },
    flags=frozenset(RiskFlag),
)
_LEVEL_VOCAB = Vocabulary(
    fields={"colour": FieldKind.code, "departments_count": FieldKind.number},
    codes={"colour": frozenset(Colour)},
    flags=frozenset(),
)


# --- typed rules ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GradingRule:
    id: str
    colour: Colour | None  # the colour the rule gives; None for a rule that raises
    description_zh: str
    when: Condition
    raise_steps: int = 0  # `raise: n`: the colour the other rules give, n steps up (red at most)


@dataclass(frozen=True, slots=True)
class DefaultReason:
    id: str
    colour: Colour
    description_zh: str


@dataclass(frozen=True, slots=True)
class LevelFloor:
    when: Condition
    at_least: ResponseLevel


@dataclass(frozen=True, slots=True)
class GradingRules:
    rules: tuple[GradingRule, ...]
    default: DefaultReason
    level_by_colour: Mapping[Colour, ResponseLevel]
    level_floors: tuple[LevelFloor, ...] = ()
    # `text_model_enabled`: the text model's second opinion may raise the colour (second_opinion.py).
    text_model_enabled: bool = False

    def response_level_for(self, colour: Colour, departments_count: int = 1) -> ResponseLevel:
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
    colour: Colour
    description_zh: str
    inputs: dict[str, Any]  # the facts the rule read, JSON-ready (amounts as decimal strings)
    # Where a fact the rule read came from the report's text: the quoted words and why.
    evidence: list[Evidence] = Field(default_factory=list)


class Assessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    colour: Colour
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
    urgent: bool = False  # the reporting system marked it urgent (12345 `urgency`)
    # The colour of the key person (重点人员, rules/key_persons.yaml) the reporter or the address is
    # registered as; None when neither matches the registry.
    key_person_colour: str | None = None
    # Text evidence behind facts read from the report (signals.TextFacts.evidence keys).
    evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.people_involved < 1 or self.repeat_count_30d < 0:
            raise ValueError("people_involved must be >= 1 and repeat_count_30d >= 0")
        if self.amount_yuan is not None and self.amount_yuan < 0:
            raise ValueError("amount_yuan must be >= 0")

    @classmethod
    def from_case(
        cls,
        case: CaseIn,
        *,
        repeat_count_30d: int = 0,
        category: Category | None = None,
        text: TextFacts | None = None,
        key_person_colour: str | None = None,
    ) -> GradingFacts:
        """Facts of a validated case; ``category`` overrides the case's (e.g. the classifier's)."""
        return cls.combine(
            people_involved=case.people_involved,
            amount_yuan=case.amount_yuan,
            flags=case.flags,
            repeat_count_30d=repeat_count_30d,
            category=category or case.category,
            request_type=case.request_type,
            channel=case.channel,
            urgent=case.urgent,
            text=text,
            key_person_colour=key_person_colour,
        )

    @classmethod
    def combine(
        cls,
        *,
        people_involved: int,
        amount_yuan: Decimal | None,
        flags: Iterable[RiskFlag],
        repeat_count_30d: int,
        category: Category | None,
        request_type: RequestType | None,
        channel: Channel | None,
        urgent: bool,
        text: TextFacts | None,
        key_person_colour: str | None = None,
    ) -> GradingFacts:
        """Structured facts and what the text says: the larger number wins, flags add up, and a fact
        the text gives (or confirms) keeps the text's evidence."""
        text = text or TextFacts()
        evidence: dict[str, tuple[Evidence, ...]] = {}

        def larger(key: str, given: Decimal | int | None, read: Decimal | int | None, floor: int) -> Any:
            if read is None or read <= floor or (given is not None and read < given):
                return given
            evidence[key] = text.evidence.get(key, ())
            return read

        all_flags = frozenset(flags) | text.flags
        for flag in text.flags:
            evidence[flag_key(flag)] = text.evidence.get(flag_key(flag), ())
        return cls(
            people_involved=larger("people_involved", people_involved, text.people_involved, 1),
            amount_yuan=larger("amount_yuan", amount_yuan, text.amount_yuan, 0),
            flags=all_flags,
            repeat_count_30d=larger("repeat_count_30d", repeat_count_30d, text.repeat_count, 0),
            category=category,
            request_type=request_type,
            channel=channel,
            urgent=urgent,
            key_person_colour=key_person_colour,
            evidence=evidence,
        )

    def as_facts(self) -> dict[str, Any]:
        return {
            "people_involved": self.people_involved,
            "amount_yuan": self.amount_yuan,
            "repeat_count_30d": self.repeat_count_30d,
            "category": self.category,
            "request_type": self.request_type,
            "channel": self.channel,
            "urgent": self.urgent,
            "key_person": self.key_person_colour is not None,
            "key_person_colour": self.key_person_colour,
            FLAGS_FIELD: frozenset(flag.value for flag in self.flags),
        }


# --- evaluation ----------------------------------------------------------------------------------


def grade(
    facts: GradingFacts, rules: GradingRules | None = None, *, departments_count: int = 1
) -> Assessment:
    """Fire every rule, keep the most severe colour, raise it by any raising rule that fires, and
    explain it with the fired rules (and the words of the report behind them)."""
    rules = rules or default_grading_rules()
    values = facts.as_facts()
    fired: list[FiredRule] = []
    raising: list[GradingRule] = []
    for rule in rules.rules:
        if not rule.when.evaluate(values):
            continue
        if rule.colour is None:
            raising.append(rule)
            continue
        fired.append(
            FiredRule(
                rule_id=rule.id,
                colour=rule.colour,
                description_zh=rule.description_zh,
                inputs=_explain(rule.when, values),
                evidence=_evidence(rule.when, facts.evidence),
            )
        )
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
    for rule in raising:
        raised = _raised(colour, rule.raise_steps)
        fired.append(
            FiredRule(
                rule_id=rule.id,
                colour=raised,
                description_zh=rule.description_zh,
                inputs={**_explain(rule.when, values), "from_colour": colour.value},
                evidence=_evidence(rule.when, facts.evidence),
            )
        )
        colour = raised
    # A raise that decided the colour comes first; one that changed nothing (already red) follows
    # the rules that made the colour.
    fired.sort(key=lambda reason: -reason.colour.severity)
    return Assessment(
        colour=colour,
        reasons=fired,
        response_level=rules.response_level_for(colour, departments_count),
    )


_BY_SEVERITY = sorted(Colour, key=lambda colour: colour.severity)


def _raised(colour: Colour, steps: int) -> Colour:
    return _BY_SEVERITY[min(colour.severity + steps, len(_BY_SEVERITY) - 1)]


def assess_case(
    case: CaseIn,
    *,
    repeat_count_30d: int = 0,
    category: Category | None = None,
    rules: GradingRules | None = None,
    text: TextFacts | None = None,
    key_person_colour: str | None = None,
) -> Assessment:
    """Grade a validated case at intake (one department assumed until referral routes it)."""
    facts = GradingFacts.from_case(
        case,
        repeat_count_30d=repeat_count_30d,
        category=category,
        text=text,
        key_person_colour=key_person_colour,
    )
    return grade(facts, rules)


def response_level_for(
    colour: Colour, departments_count: int = 1, rules: GradingRules | None = None
) -> ResponseLevel:
    return (rules or default_grading_rules()).response_level_for(colour, departments_count)


def _evidence(condition: Condition, evidence: Mapping[str, tuple[Evidence, ...]]) -> list[Evidence]:
    """The text evidence of the facts a rule reads (a flag's only where the rule asks for it)."""
    if not evidence:
        return []
    keys = [name for name in sorted(condition.referenced()) if name != FLAGS_FIELD]
    keys += [flag_key(flag) for flag in _flags_asked(condition)]
    return [found for key in keys for found in evidence.get(key, ())]


def _flags_asked(condition: Condition) -> list[str]:
    """Flags a condition asks to be set (not those under `not`: their absence is no evidence)."""
    if isinstance(condition, FlagCondition):
        return [condition.flag]
    if isinstance(condition, AllOf | AnyOf):
        return [flag for item in condition.items for flag in _flags_asked(item)]
    return []


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
    """Parse and validate a grading rule file; raise DataFileError naming the faulty entry."""
    data = parse_mapping(text, "grading")
    expect_mapping(
        data,
        "grading",
        required={"version", "rules", "default", "response_levels"},
        optional={"text_model_enabled"},
    )
    text_model_enabled = data.get("text_model_enabled", False)
    if not isinstance(text_model_enabled, bool):
        raise DataFileError("text_model_enabled", f"expected true or false, got {text_model_enabled!r}")
    expect_version(data, "grading")
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list) or not raw_rules:
        raise DataFileError("rules", "expected a non-empty list of rules")
    rules: list[GradingRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        where = f"rules[{i}]"
        node = expect_mapping(
            raw, where, required={"id", "description_zh", "when"}, optional={"colour", "raise"}
        )
        rule_id = expect_str(node["id"], f"{where}.id")
        if rule_id in seen:
            raise DataFileError(f"{where}.id", f"duplicate rule id {rule_id!r}")
        seen.add(rule_id)
        if ("colour" in node) == ("raise" in node):
            raise DataFileError(
                where, "a rule gives either a colour or a raise (steps up), not both or neither"
            )
        rules.append(
            GradingRule(
                id=rule_id,
                colour=_colour(node["colour"], f"{where}.colour") if "colour" in node else None,
                description_zh=expect_str(node["description_zh"], f"{where}.description_zh"),
                when=parse_condition(node["when"], f"{where}.when", _GRADING_VOCAB),
                raise_steps=_steps(node["raise"], f"{where}.raise") if "raise" in node else 0,
            )
        )
    default_node = expect_mapping(data["default"], "default", required={"id", "colour", "description_zh"})
    default = DefaultReason(
        id=expect_str(default_node["id"], "default.id"),
        colour=_colour(default_node["colour"], "default.colour"),
        description_zh=expect_str(default_node["description_zh"], "default.description_zh"),
    )
    if default.id in seen:
        raise DataFileError("default.id", f"duplicate rule id {default.id!r}")
    by_colour, floors = _load_levels(data["response_levels"])
    return GradingRules(tuple(rules), default, by_colour, floors, text_model_enabled)


def _load_levels(node: object) -> tuple[dict[Colour, ResponseLevel], tuple[LevelFloor, ...]]:
    levels = expect_mapping(node, "response_levels", required={"by_colour"}, optional={"floors"})
    by_colour_node = expect_mapping(
        levels["by_colour"], "response_levels.by_colour", required={c.value for c in Colour}
    )
    by_colour = {
        Colour(colour): _level(level, f"response_levels.by_colour.{colour}")
        for colour, level in by_colour_node.items()
    }
    raw_floors = levels.get("floors") or []
    if not isinstance(raw_floors, list):
        raise DataFileError("response_levels.floors", "expected a list")
    floors = []
    for i, raw in enumerate(raw_floors):
        where = f"response_levels.floors[{i}]"
        floor = expect_mapping(raw, where, required={"when", "at_least"})
        floors.append(
            LevelFloor(
                when=parse_condition(floor["when"], f"{where}.when", _LEVEL_VOCAB),
                at_least=_level(floor["at_least"], f"{where}.at_least"),
            )
        )
    return by_colour, tuple(floors)


def _steps(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 3:
        raise DataFileError(where, f"expected a number of colour steps from 1 to 3, got {raw!r}")
    return raw


def _colour(raw: object, where: str) -> Colour:
    if isinstance(raw, str) and raw in Colour.__members__:
        return Colour(raw)
    raise DataFileError(where, f"unknown colour {raw!r}; allowed: red, orange, yellow, blue")


def _level(raw: object, where: str) -> ResponseLevel:
    if isinstance(raw, str) and raw in ResponseLevel.__members__:
        return ResponseLevel(raw)
    allowed = ", ".join(level.value for level in ResponseLevel)
    raise DataFileError(where, f"unknown response level {raw!r}; allowed: {allowed}")


@cache
def default_grading_rules() -> GradingRules:
    """The packaged rules (rules/grading.yaml), read on first use."""
    return load_grading_rules(read_rule_text("grading.yaml"))
