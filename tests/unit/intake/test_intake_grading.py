"""Four-colour grading: every RULES.md default at its boundaries, the engine, and rule-file errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hub.contracts.vocabulary import Colour, ResponseLevel
from hub.datafile import DataFileError
from services.intake.domain.enums import RiskFlag
from services.intake.domain.grading import (
    GradingFacts,
    assess_case,
    default_grading_rules,
    grade,
    load_grading_rules,
    response_level_for,
)
from services.intake.domain.model import CaseIn
from services.intake.domain.resources import read_rule_text
from services.intake.domain.signals import case_texts, read_text_facts


def fired(facts: GradingFacts) -> list[str]:
    return [reason.rule_id for reason in grade(facts).reasons]


@pytest.mark.parametrize(
    ("people", "colour", "rules"),
    [
        (1, Colour.blue, ["blue.default"]),
        (2, Colour.blue, ["blue.default"]),
        (3, Colour.yellow, ["yellow.people_3_9"]),
        (9, Colour.yellow, ["yellow.people_3_9"]),
        (10, Colour.orange, ["orange.people_10_29"]),
        (29, Colour.orange, ["orange.people_10_29"]),
        (30, Colour.red, ["red.people_ge_30"]),
        (100_000, Colour.red, ["red.people_ge_30"]),
    ],
)
def test_people_bands(people: int, colour: Colour, rules: list[str]) -> None:
    assessment = grade(GradingFacts(people_involved=people))
    assert assessment.colour is colour
    assert [r.rule_id for r in assessment.reasons] == rules


@pytest.mark.parametrize(
    ("amount", "people", "colour", "rules"),
    [
        ("99999", 1, Colour.blue, ["blue.default"]),
        ("99999.99", 1, Colour.blue, ["blue.default"]),
        ("100000", 1, Colour.yellow, ["yellow.amount_ge_100k"]),
        ("999999", 10, Colour.orange, ["orange.people_10_29", "yellow.amount_ge_100k"]),
        ("999999.99", 29, Colour.orange, ["orange.people_10_29", "yellow.amount_ge_100k"]),
        ("1000000", 9, Colour.yellow, ["yellow.people_3_9", "yellow.amount_ge_100k"]),
        (
            "1000000",
            10,
            Colour.red,
            ["red.amount_ge_1m_people_ge_10", "orange.people_10_29", "yellow.amount_ge_100k"],
        ),
    ],
)
def test_amount_thresholds(amount: str, people: int, colour: Colour, rules: list[str]) -> None:
    assessment = grade(GradingFacts(people_involved=people, amount_yuan=Decimal(amount)))
    assert assessment.colour is colour
    assert [r.rule_id for r in assessment.reasons] == rules


def test_missing_amount_fires_no_amount_rule() -> None:
    assert fired(GradingFacts(people_involved=10, amount_yuan=None)) == ["orange.people_10_29"]


@pytest.mark.parametrize(
    ("flag", "colour", "rule"),
    [
        (RiskFlag.violence_threat, Colour.red, "red.violence_threat"),
        (RiskFlag.self_harm_threat, Colour.red, "red.self_harm_threat"),
        (RiskFlag.mass_gathering_risk, Colour.red, "red.mass_gathering_risk"),
        (RiskFlag.criminal_risk, Colour.red, "red.criminal_risk"),
        (RiskFlag.vulnerable_person, Colour.orange, "orange.vulnerable_person"),
    ],
)
def test_each_flag(flag: RiskFlag, colour: Colour, rule: str) -> None:
    assessment = grade(GradingFacts(flags=frozenset({flag})))
    assert assessment.colour is colour
    assert [r.rule_id for r in assessment.reasons] == [rule]
    assert assessment.reasons[0].inputs == {"flags": [flag.value]}


@pytest.mark.parametrize(
    ("repeats", "colour", "rules"),
    [
        (0, Colour.blue, ["blue.default"]),
        # second report of the same matter
        (1, Colour.yellow, ["yellow.repeat_second"]),
        # third report within 30 days: two earlier ones
        (2, Colour.orange, ["orange.repeat_ge_3_in_30d", "yellow.repeat_second"]),
        (5, Colour.orange, ["orange.repeat_ge_3_in_30d", "yellow.repeat_second"]),
    ],
)
def test_repeat_reports(repeats: int, colour: Colour, rules: list[str]) -> None:
    assessment = grade(GradingFacts(repeat_count_30d=repeats))
    assert assessment.colour is colour
    assert [r.rule_id for r in assessment.reasons] == rules


def test_highest_colour_wins_and_reasons_are_ordered_by_severity() -> None:
    facts = GradingFacts(
        people_involved=5,
        amount_yuan=Decimal("200000"),
        flags=frozenset({RiskFlag.vulnerable_person, RiskFlag.criminal_risk}),
        repeat_count_30d=1,
    )
    assessment = grade(facts)
    assert assessment.colour is Colour.red
    assert [r.rule_id for r in assessment.reasons] == [
        "red.criminal_risk",
        "orange.vulnerable_person",
        "yellow.people_3_9",
        "yellow.repeat_second",
        "yellow.amount_ge_100k",
    ]
    assert [r.colour for r in assessment.reasons][:2] == [Colour.red, Colour.orange]


def test_reasons_carry_chinese_description_and_the_inputs_read() -> None:
    assessment = grade(GradingFacts(people_involved=12, amount_yuan=Decimal("1500000.50")))
    red = assessment.reasons[0]
    assert red.rule_id == "red.amount_ge_1m_people_ge_10"
    assert red.description_zh == "涉及金额100万元以上且涉及人数10人以上"
    assert red.inputs == {"amount_yuan": "1500000.50", "people_involved": 12}
    # The assessment serialises to JSON for the case.registered event.
    dumped = assessment.model_dump(mode="json")
    assert dumped["colour"] == "red"
    assert dumped["response_level"] == "joint_consultation"


def test_blue_explains_itself_with_the_default_reason() -> None:
    assessment = grade(GradingFacts())
    assert assessment.colour is Colour.blue
    assert [(r.rule_id, r.colour) for r in assessment.reasons] == [("blue.default", Colour.blue)]
    assert assessment.reasons[0].description_zh


@pytest.mark.parametrize(
    ("colour", "departments", "level"),
    [
        (Colour.red, 1, ResponseLevel.joint_consultation),
        (Colour.red, 3, ResponseLevel.joint_consultation),
        (Colour.orange, 1, ResponseLevel.time_limited),
        (Colour.yellow, 1, ResponseLevel.immediate),
        (Colour.yellow, 2, ResponseLevel.time_limited),
        (Colour.blue, 1, ResponseLevel.immediate),
        (Colour.blue, 2, ResponseLevel.time_limited),
    ],
)
def test_response_level(colour: Colour, departments: int, level: ResponseLevel) -> None:
    assert response_level_for(colour, departments) is level


def test_assessment_response_level_follows_colour() -> None:
    assert grade(GradingFacts(people_involved=30)).response_level is ResponseLevel.joint_consultation
    assert grade(GradingFacts(people_involved=10)).response_level is ResponseLevel.time_limited
    assert grade(GradingFacts(people_involved=3)).response_level is ResponseLevel.immediate
    assert grade(GradingFacts(), departments_count=2).response_level is ResponseLevel.time_limited


def test_assess_case_reads_the_validated_case(make_payload, ctx) -> None:
    case = CaseIn.model_validate(
        make_payload(people_involved=4, amount_yuan="150000", flags=["vulnerable_person"]), context=ctx
    )
    assessment = assess_case(case, repeat_count_30d=1)
    assert assessment.colour is Colour.orange
    assert [r.rule_id for r in assessment.reasons] == [
        "orange.vulnerable_person",
        "yellow.people_3_9",
        "yellow.repeat_second",
        "yellow.amount_ge_100k",
    ]


def test_grading_facts_refuse_impossible_values() -> None:
    with pytest.raises(ValueError, match="repeat_count_30d"):
        GradingFacts(repeat_count_30d=-1)
    with pytest.raises(ValueError, match="people_involved"):
        GradingFacts(people_involved=0)
    with pytest.raises(ValueError, match="amount_yuan"):
        GradingFacts(amount_yuan=Decimal("-1"))


# --- rules are data ------------------------------------------------------------------------------

CUSTOM = """
version: 1
rules:
  - id: red.people_ge_5_noise
    colour: red
    description_zh: 噪声纠纷5人以上
    when:
      all:
        - {field: category, op: ==, value: noise}
        - {field: people_involved, op: ">=", value: 5}
  - id: yellow.not_window
    colour: yellow
    description_zh: 非窗口渠道
    when: {not: {field: channel, op: in, value: [window, phone]}}
  - id: orange.any
    colour: orange
    description_zh: 任一
    when:
      any:
        - {flag: vulnerable_person}
        - {field: amount_yuan, op: between, value: [10, 20]}
default: {id: blue.none, colour: blue, description_zh: 无}
response_levels:
  by_colour: {red: time_limited, orange: time_limited, yellow: immediate, blue: immediate}
  floors:
    - when: {field: colour, op: ==, value: red}
      at_least: joint_consultation
"""


def test_custom_rule_file_changes_behaviour_without_code() -> None:
    from hub.contracts.vocabulary import Category
    from services.intake.domain.enums import Channel

    rules = load_grading_rules(CUSTOM)
    noisy = GradingFacts(people_involved=5, category=Category.noise, channel=Channel.window)
    assert grade(noisy, rules).colour is Colour.red
    assert grade(noisy, rules).response_level is ResponseLevel.joint_consultation
    quiet = GradingFacts(people_involved=5, category=Category.property, channel=Channel.phone)
    assert grade(quiet, rules).colour is Colour.blue
    assert [r.rule_id for r in grade(GradingFacts(channel=Channel.web), rules).reasons] == [
        "yellow.not_window"
    ]
    by_phone = Channel.phone
    assert grade(GradingFacts(amount_yuan=Decimal(20), channel=by_phone), rules).colour is Colour.orange
    assert grade(GradingFacts(amount_yuan=Decimal("20.01"), channel=by_phone), rules).colour is Colour.blue
    # A missing value satisfies no comparison, so its negation holds.
    assert [r.rule_id for r in grade(GradingFacts(), rules).reasons] == ["yellow.not_window"]


def test_packaged_rules_are_the_default() -> None:
    assert default_grading_rules() == load_grading_rules(read_rule_text("grading.yaml"))
    ids = [rule.id for rule in default_grading_rules().rules]
    # 13 of RULES.md's four colours, 2 for key persons (重点人员, issue 18)
    assert len(ids) == 15 and len(set(ids)) == 15


GOOD_RULE = "  - {id: r1, colour: red, description_zh: 测试, when: {flag: violence_threat}}\n"
TAIL = """default: {id: blue.default, colour: blue, description_zh: 无}
response_levels:
  by_colour: {red: joint_consultation, orange: time_limited, yellow: immediate, blue: immediate}
"""


def rule_file(rule_lines: str, tail: str = TAIL) -> str:
    return "version: 1\nrules:\n" + rule_lines + tail


def one_rule(when: str, colour: str = "red") -> str:
    return rule_file(f"  - {{id: r1, colour: {colour}, description_zh: x, when: {when}}}\n")


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("rules: [oops", "grading", "not valid YAML"),
        ("- a list", "grading", "top level must be a mapping"),
        (rule_file(GOOD_RULE).replace("version: 1", "version: 2"), "grading.version", "must be 1"),
        (
            rule_file(
                "  - {id: r1, colour: red, description_zh: x, when: {field: peple, op: '>=', value: 1}}\n"
            ),
            "rules[0].when.field",
            "unknown field 'peple'",
        ),
        (
            one_rule("{field: people_involved, op: '=>', value: 1}"),
            "rules[0].when.op",
            "unknown op '=>'",
        ),
        (
            rule_file("  - {id: r1, colour: red, description_zh: x, when: {flag: drunk}}\n"),
            "rules[0].when.flag",
            "unknown flag 'drunk'",
        ),
        (
            rule_file("  - {id: r1, colour: purple, description_zh: x, when: {flag: violence_threat}}\n"),
            "rules[0].colour",
            "unknown colour 'purple'",
        ),
        (rule_file(GOOD_RULE + GOOD_RULE), "rules[1].id", "duplicate rule id 'r1'"),
        (
            rule_file("  - {id: r1, colour: red, description_zh: x, wehn: {flag: violence_threat}}\n"),
            "rules[0]",
            "missing key(s): when",
        ),
        (
            one_rule("{all: [{flag: violence_threat}, {field: amount_yuan, op: '>=', value: yes}]}"),
            "rules[0].when.all[1].value",
            "expected a number",
        ),
        (
            rule_file(
                "  - {id: r1, colour: red, description_zh: x,"
                " when: {field: people_involved, op: between, value: [30, 10]}}\n"
            ),
            "rules[0].when.value",
            "above high",
        ),
        (
            rule_file("  - {id: r1, colour: red, description_zh: x, when: {any: []}}\n"),
            "rules[0].when.any",
            "non-empty list",
        ),
        (
            rule_file(
                "  - {id: r1, colour: red, description_zh: x, when: {field: category, op: ==, value: cats}}\n"
            ),
            "rules[0].when.value",
            "unknown category 'cats'",
        ),
        (
            rule_file(GOOD_RULE, TAIL.replace(", blue: immediate", "")),
            "response_levels.by_colour",
            "missing key(s): blue",
        ),
        (
            rule_file(GOOD_RULE, TAIL.replace("red: joint_consultation", "red: meeting")),
            "response_levels.by_colour.red",
            "unknown response level 'meeting'",
        ),
        (
            rule_file(
                "  - {id: r1, colour: red, raise: 1, description_zh: x, when: {flag: violence_threat}}\n"
            ),
            "rules[0]",
            "either a colour or a raise",
        ),
        (
            rule_file("  - {id: r1, description_zh: x, when: {flag: violence_threat}}\n"),
            "rules[0]",
            "either a colour or a raise",
        ),
        (
            rule_file("  - {id: r1, raise: 4, description_zh: x, when: {flag: violence_threat}}\n"),
            "rules[0].raise",
            "from 1 to 3",
        ),
        (one_rule("{field: urgent, op: '>=', value: true}"), "rules[0].when.op", "for a yes/no field"),
        (one_rule("{field: urgent, op: ==, value: 1}"), "rules[0].when.value", "expected true or false"),
    ],
)
def test_bad_rule_files_are_refused_with_a_located_message(text: str, where: str, problem: str) -> None:
    with pytest.raises(DataFileError) as info:
        load_grading_rules(text)
    assert info.value.where == where
    assert problem in str(info.value)


# --- the report's own words and the reporting system's urgency ----------------------------------


def text_only(make_payload, ctx, title: str, description: str, **fields: object) -> CaseIn:
    """A report as 12345 sends it: words, no head count, amount or flags."""
    payload = make_payload(channel="hotline12345", title=title, description=description, **fields)
    if "people_involved" not in fields:
        del payload["people_involved"]
    return CaseIn.model_validate(payload, context=ctx)


def assess_text(case: CaseIn) -> Any:
    return assess_case(case, text=read_text_facts(case_texts(case.title, case.description)))


@pytest.mark.parametrize(
    ("title", "description", "colour", "rule_id", "quote"),
    [
        ("讨要欠薪", "工人讨薪未果，扬言要从楼顶跳下去", Colour.red, "red.self_harm_threat", "扬言…跳下去"),
        ("农民工讨薪", "45名农民工扬言明天集体堵路讨薪", Colour.red, "red.people_ge_30", "45名农民工"),
        ("邻里纠纷", "对方扬言要拿刀砍人", Colour.red, "red.violence_threat", "砍人"),
        ("老人无人照看", "八十多岁独居老人，子女在外地，家中无人照看", Colour.orange,
         "orange.vulnerable_person", "独居老人…无人照看"),
        ("拖欠工程款", "拖欠工程款八十万，多次催要无果", Colour.yellow, "yellow.amount_ge_100k", "八十万"),
        ("噪音扰民", "这是第三次反映楼上噪音问题", Colour.orange, "orange.repeat_ge_3_in_30d", "第三次反映"),
    ],
)  # fmt: skip
def test_text_only_reports_are_graded_by_their_words(
    make_payload, ctx, title: str, description: str, colour: Colour, rule_id: str, quote: str
) -> None:
    assessment = assess_text(text_only(make_payload, ctx, title, description))
    assert assessment.colour is colour
    top = assessment.reasons[0]
    assert top.rule_id == rule_id
    assert quote in [e.quote for e in top.evidence]
    assert all(e.reason_zh.startswith(f"文本含“{e.quote}”") for e in top.evidence)


def test_without_the_words_the_same_report_is_blue(make_payload, ctx) -> None:
    case = text_only(make_payload, ctx, "讨要欠薪", "没有人扬言要从楼顶跳下去，工人在等待协调")
    assessment = assess_text(case)
    assert assessment.colour is Colour.blue
    assert [r.rule_id for r in assessment.reasons] == ["blue.default"]


def test_structured_fields_win_where_larger_and_explicit_flags_stay(make_payload, ctx) -> None:
    larger = text_only(make_payload, ctx, "讨薪", "45名农民工讨薪", people_involved=50)
    reason = assess_text(larger).reasons[0]
    assert reason.inputs == {"people_involved": 50} and reason.evidence == []
    smaller = text_only(make_payload, ctx, "讨薪", "45名农民工讨薪", people_involved=12)
    reason = assess_text(smaller).reasons[0]
    assert reason.inputs == {"people_involved": 45} and [e.quote for e in reason.evidence] == ["45名农民工"]
    flagged = text_only(make_payload, ctx, "邻里纠纷", "双方并未动手", flags=["criminal_risk"])
    reason = assess_text(flagged).reasons[0]
    assert reason.rule_id == "red.criminal_risk" and reason.evidence == []


def test_the_evidence_is_in_the_json_the_api_and_events_carry(make_payload, ctx) -> None:
    case = text_only(make_payload, ctx, "讨薪", "工人扬言要从楼顶跳下去")
    dumped = assess_text(case).model_dump(mode="json")["reasons"][0]
    assert set(dumped) == {"rule_id", "colour", "description_zh", "inputs", "evidence"}
    [evidence] = dumped["evidence"]
    assert evidence["quote"] == "扬言…跳下去" and evidence["reason_zh"] == "文本含“扬言…跳下去”：自伤风险"
    assert evidence["spans"][0] == {
        "source": "description",
        "note_no": None,
        "start": 2,
        "end": 4,
        "text": "扬言",
    }


@pytest.mark.parametrize(
    ("facts", "colour", "rules"),
    [
        (GradingFacts(urgent=True), Colour.yellow, ["raise.urgent", "blue.default"]),
        (GradingFacts(urgent=True, people_involved=3), Colour.orange, ["raise.urgent", "yellow.people_3_9"]),
        (GradingFacts(urgent=True, people_involved=12), Colour.red, ["raise.urgent", "orange.people_10_29"]),
        # Already red: the raise changes nothing and follows the rule that made the colour.
        (GradingFacts(urgent=True, people_involved=30), Colour.red, ["red.people_ge_30", "raise.urgent"]),
        (GradingFacts(urgent=False, people_involved=3), Colour.yellow, ["yellow.people_3_9"]),
    ],
)  # fmt: skip
def test_urgency_raises_the_colour_one_step(facts: GradingFacts, colour: Colour, rules: list[str]) -> None:
    assessment = grade(facts)
    assert assessment.colour is colour
    assert [r.rule_id for r in assessment.reasons] == rules
    for raised in (r for r in assessment.reasons if r.rule_id == "raise.urgent"):
        assert raised.colour is colour and raised.inputs["urgent"] is True
    assert assessment.response_level is response_level_for(colour)


def test_how_far_a_raise_goes_is_configuration() -> None:
    rules = load_grading_rules(read_rule_text("grading.yaml").replace("    raise: 1\n", "    raise: 2\n"))
    assessment = grade(GradingFacts(urgent=True), rules)
    assert assessment.colour is Colour.orange
    assert assessment.reasons[0].inputs == {"urgent": True, "from_colour": "blue"}
