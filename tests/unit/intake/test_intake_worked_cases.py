"""The ten worked cases of PRODUCT.md: validated, classified and graded as expected, with reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.contracts.vocabulary import Colour
from services.intake.domain.classifier import classify
from services.intake.domain.grading import assess_case
from services.intake.domain.model import CaseIn

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
# The ten worked cases of PRODUCT.md, shipped with the hub (the `hub demo` command replays them).
FIXTURE = Path(__file__).resolve().parents[3] / "hubcli" / "data" / "worked_cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))["cases"]


def test_fixture_has_the_ten_cases() -> None:
    assert [case["id"] for case in CASES] == list(range(1, 11))


@pytest.fixture(params=CASES, ids=lambda case: f"{case['id']}-{case['name']}")
def worked(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param


def test_worked_case_is_classified(worked: dict[str, Any]) -> None:
    case = CaseIn.model_validate(worked["payload"], context={"now": NOW})
    suggestion = classify(case.title, case.description)
    assert suggestion.category == worked["expected"]["category"], suggestion
    assert suggestion.matched_words, "a category must be explained by the words that matched"
    text = case.title + case.description
    assert all(word in text for word in suggestion.matched_words)


def test_worked_case_is_graded_with_reasons(worked: dict[str, Any]) -> None:
    case = CaseIn.model_validate(worked["payload"], context={"now": NOW})
    assessment = assess_case(case, repeat_count_30d=worked["repeat_count_30d"])
    expected = worked["expected"]
    assert assessment.colour == expected["colour"]
    assert [reason.rule_id for reason in assessment.reasons] == expected["fired_rules"]
    assert assessment.response_level == expected["response_level"]
    assert all(reason.description_zh for reason in assessment.reasons)


def test_case_8_construction_payment_is_red_for_every_red_reason() -> None:
    (case8,) = [case for case in CASES if case["id"] == 8]
    case = CaseIn.model_validate(case8["payload"], context={"now": NOW})
    assessment = assess_case(case)
    assert assessment.colour is Colour.red
    red_inputs = {r.rule_id: r.inputs for r in assessment.reasons if r.colour is Colour.red}
    assert red_inputs == {
        "red.people_ge_30": {"people_involved": 210},
        "red.mass_gathering_risk": {"flags": ["mass_gathering_risk"]},
        "red.amount_ge_1m_people_ge_10": {"amount_yuan": "10500000", "people_involved": 210},
    }
