"""Key persons and households (重点人员 / 七色户卡, issue 18): the colour scheme is data a centre edits,
and a case by or about a registered person is graded by the rules in grading.yaml, explained."""

from __future__ import annotations

import pytest

from hub.contracts.vocabulary import Colour
from hub.datafile import DataFileError
from services.intake.domain.grading import GradingFacts, grade
from services.intake.domain.key_persons import default_key_person_scheme, load_key_person_scheme
from services.intake.domain.resources import read_rule_text

THREE_COLOURS = """
version: 1
name_zh: 三色管理
colours:
  red: {name_zh: 红色, meaning_zh: 日跟踪, visit_every_working_days: 1}
  orange: {name_zh: 橙色, meaning_zh: 周回访, visit_every_working_days: 5}
  yellow: {name_zh: 黄色, meaning_zh: 月评估, visit_every_working_days: 22}
groups: {petitioner: 信访重点人员}
"""


def test_the_packaged_scheme_is_the_seeds_seven_colours_red_daily_yellow_weekly() -> None:
    scheme = default_key_person_scheme()
    assert scheme.name_zh == "七色户卡"
    assert scheme.codes() == ["red", "orange", "yellow", "green", "cyan", "blue", "purple"]
    red, yellow = scheme.colour("red"), scheme.colour("yellow")
    assert red is not None and red.visit_every_working_days == 1  # 红色最高，需每日联络
    assert yellow is not None and yellow.visit_every_working_days == 5  # 黄色为一般关注，每周上门
    assert scheme.groups["elderly_alone"] == "空巢老人"


def test_a_centre_using_three_colours_changes_the_file_not_the_code() -> None:
    scheme = load_key_person_scheme(THREE_COLOURS)
    assert scheme.name_zh == "三色管理"
    assert [(c.code, c.visit_every_working_days) for c in scheme.colours] == [
        ("red", 1),
        ("orange", 5),
        ("yellow", 22),
    ]
    assert scheme.colour("green") is None
    # The first listed needs the most attention: it flags a case when several entries match.
    assert scheme.most_attention(["yellow", "orange"]) == "orange"
    assert scheme.most_attention(["green"]) is None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("red: {name_zh: 红色", "pink: {name_zh: 红色"),
        ("visit_every_working_days: 1}", "visit_every_working_days: 0}"),
        ("visit_every_working_days: 22}", "visit_every_working_days: 400}"),
        ("meaning_zh: 日跟踪, ", ""),
    ],
)
def test_a_faulty_scheme_is_refused_naming_the_place(old: str, new: str) -> None:
    with pytest.raises(DataFileError) as refused:
        load_key_person_scheme(THREE_COLOURS.replace(old, new))
    assert refused.value.where.startswith("colours.")


def test_the_packaged_scheme_file_parses_as_shipped() -> None:
    assert load_key_person_scheme(read_rule_text("key_persons.yaml")) == default_key_person_scheme()


def reasons(facts: GradingFacts) -> list[str]:
    return [r.rule_id for r in grade(facts).reasons]


def test_a_case_by_a_key_person_is_at_least_yellow_with_the_rule_as_its_reason() -> None:
    assessed = grade(GradingFacts(key_person_colour="blue"))
    assert assessed.colour is Colour.yellow
    assert [r.rule_id for r in assessed.reasons] == ["yellow.key_person"]
    assert assessed.reasons[0].description_zh == "报告人或事发地址属于重点人员（户）登记对象"


def test_a_red_key_person_raises_the_colour_one_step() -> None:
    assessed = grade(GradingFacts(key_person_colour="red"))
    assert assessed.colour is Colour.orange
    assert reasons(GradingFacts(key_person_colour="red")) == ["raise.key_person_red", "yellow.key_person"]
    raised = assessed.reasons[0]
    assert raised.inputs["from_colour"] == "yellow"
    # Ten people already make it orange: a red key person makes it red.
    assert grade(GradingFacts(people_involved=12, key_person_colour="red")).colour is Colour.red


def test_no_key_person_changes_nothing() -> None:
    assert reasons(GradingFacts()) == ["blue.default"]
    assert reasons(GradingFacts(people_involved=4)) == ["yellow.people_3_9"]
