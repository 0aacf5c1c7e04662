"""The second opinion does not read what the signal reader judges no fact: a negated, supposed or
refuted risk is masked before the text model scores the report, so the model never raises it, while
the same words said as a fact still are red. Phrasings invented for these tests (none from the corpus)."""

from __future__ import annotations

import dataclasses

import pytest

from services.intake.assessment import Assessor
from services.intake.domain.classifier import default_classifier
from services.intake.domain.grading import default_grading_rules
from services.intake.domain.model import CaseIn
from services.intake.domain.second_opinion import RULE_ID, without
from services.intake.domain.signals import case_texts, default_signal_reader
from services.intake.domain.text_model import default_text_model, red_probability

# (a risk said as no fact, the same words said as a fact)
NEGATED = {
    "threat": (
        "来电人称装修队欠款不还，师傅没有扬言要拿刀去砍老板，只是想要回钱",
        "来电人称装修队欠款不还，师傅扬言要拿刀去砍老板，只是想要回钱",
    ),
    "self-harm": (
        "来电人称家政公司拖欠阿姨工资，阿姨并未扬言要喝农药",
        "来电人称家政公司拖欠阿姨工资，阿姨扬言要喝农药",
    ),
    "gathering": (
        "来电人称驾校拖欠教练工资，教练们没有扬言要一起去驾校堵门，只是想讨个说法",
        "来电人称驾校拖欠教练工资，教练们扬言要一起去驾校堵门讨个说法",
    ),
    "weapon": (
        "来电人称快递站点前两人争吵，并未拿出刀具，也未动手",
        "来电人称快递站点前两人争吵，一人拿出刀具要捅对方",
    ),
}
REFUTED_HEARSAY = "来电人称拆迁补偿没谈拢，有传言说村民们要聚集到镇政府门口拉横幅，经核实没有这回事"
SUPPOSED = "来电人称其父亲80岁独居，万一摔倒了没人知道，希望社区定期上门"
# A gathering no rule reads ("一起去老板家讨个说法"), after a negated threat the reader discards.
NEGATED_THEN_LIVE = "来电人称装修队欠款不还，师傅没有扬言要拿刀去砍老板。工友们说再不结账就一起去老板家讨个说法，到时候谁也拦不住"


def case(description: str) -> CaseIn:
    return CaseIn.model_validate(
        {
            "channel": "hotline12345",
            "request_type": "complaint",
            "title": description[:30],
            "description": description,
            "reporter": {"anonymous": True},
            "location": {"address": "（未提供地址）"},
        }
    )


def assessor(model_on: bool) -> Assessor:
    rules = dataclasses.replace(default_grading_rules(), text_model_enabled=model_on)
    return Assessor(rules, default_classifier(), default_signal_reader(), default_text_model())


def graded(description: str, model_on: bool = True) -> tuple[str, list[str]]:
    a, c = assessor(model_on), case(description)
    category, _ = a.classify(c.title, c.description)
    out = a.grade(c, category, 0)
    return out.colour, [str(r["rule_id"]) for r in out.reasons]


def p_red(description: str, masked: bool) -> float:
    parts = case_texts(description[:30], description)
    if masked:
        parts = without(parts, default_signal_reader().read(parts).no_fact)
    return red_probability(default_text_model(), parts)


@pytest.mark.parametrize("kind", list(NEGATED))
def test_a_negated_risk_stays_at_the_rules_colour_and_the_fact_is_red(kind: str) -> None:
    negated, live = NEGATED[kind]
    assert graded(negated) == graded(negated, model_on=False)
    assert graded(negated)[0] != "red"
    assert graded(live)[0] == "red"


def test_the_mask_is_what_keeps_a_negated_gathering_from_red() -> None:
    negated, _ = NEGATED["gathering"]
    threshold = default_text_model().red_threshold
    assert p_red(negated, masked=False) >= threshold > p_red(negated, masked=True)
    parts = case_texts(negated[:30], negated)
    masked = {span.text for span in default_signal_reader().read(parts).no_fact}
    assert masked == {"教练们没有扬言要一起去驾校堵门"}  # that clause, in the title and the description


def test_hearsay_found_untrue_stays() -> None:
    assert p_red(REFUTED_HEARSAY, masked=False) >= default_text_model().red_threshold
    assert graded(REFUTED_HEARSAY) == graded(REFUTED_HEARSAY, model_on=False)
    assert graded(REFUTED_HEARSAY)[0] != "red"
    assert graded(REFUTED_HEARSAY.removesuffix("，经核实没有这回事"))[0] == "red"


def test_a_supposition_stays_and_only_its_clause_is_masked() -> None:
    assert graded(SUPPOSED) == graded(SUPPOSED, model_on=False)
    parts = case_texts(SUPPOSED[:30], SUPPOSED)
    assert {span.text for span in default_signal_reader().read(parts).no_fact} == {"万一摔倒了没人知道"}


def test_a_negated_and_a_live_threat_is_still_raised_by_the_model() -> None:
    assert graded(NEGATED_THEN_LIVE, model_on=False) == ("blue", ["blue.default"])
    colour, reasons = graded(NEGATED_THEN_LIVE)
    assert colour == "red" and reasons[0] == RULE_ID


def test_without_blanks_one_space_per_character_so_quotes_keep_their_offsets() -> None:
    parts = case_texts("标题", "甲没有扬言要砍人，乙在场")
    (span,) = default_signal_reader().read(parts).no_fact
    assert span.source == "description"
    (_, description) = without(parts, [span])
    assert description.text == " " * len(span.text) + "，乙在场"
