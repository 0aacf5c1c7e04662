"""研判: the application's view of the pure intake rules (category, colour, duplicates, repeats).

Rules are loaded at bootstrap (services/intake/rulebook.py: the packaged YAML, or HUB_INTAKE_RULES_DIR);
`POST /internal/v1/rules/reload` builds a new Assessor and swaps it in whole, so a request sees one
rule set from start to end; a bad file is refused and the old rules stay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.intake.domain.categories import Category
from services.intake.domain.classifier import KeywordClassifier, default_classifier
from services.intake.domain.duplicates import (
    CaseSummary,
    count_repeats,
    find_suspected_duplicate,
    normalise_address,
)
from services.intake.domain.enums import Channel, RequestType, RiskColour, RiskFlag
from services.intake.domain.grading import (
    Assessment,
    GradingFacts,
    GradingRules,
    assess_case,
    default_grading_rules,
    grade,
)
from services.intake.domain.model import CaseIn


@dataclass(frozen=True)
class Candidate:
    case_no: str
    phone_hash: str | None
    address_key: str
    category: str
    registered_at: datetime
    text: str

    def summary(self) -> CaseSummary:
        return CaseSummary(
            case_no=self.case_no or None,
            reporter_phone_hash=self.phone_hash,
            address=self.address_key,
            category=Category(self.category),
            registered_at=self.registered_at,
            text=self.text,
        )


@dataclass(frozen=True)
class AssessmentOut:
    colour: str
    reasons: list[dict[str, Any]]
    response_level: str


class Assessor:
    def __init__(self, grading: GradingRules, classifier: KeywordClassifier) -> None:
        self.grading = grading
        self.classifier = classifier

    @classmethod
    def from_packaged_rules(cls) -> Assessor:
        return cls(default_grading_rules(), default_classifier())

    def address_key(self, address: str) -> str:
        return normalise_address(address)

    def classify(self, title: str, description: str) -> tuple[str, list[str]]:
        suggestion = self.classifier.classify(title, description)
        return suggestion.category.value, list(suggestion.matched_words)

    def repeat_count(self, new: Candidate, earlier: list[Candidate]) -> int:
        return count_repeats(new.summary(), [c.summary() for c in earlier])

    def grade(self, case_in: CaseIn, category: str, repeat_count: int) -> AssessmentOut:
        return _out(
            assess_case(
                case_in, repeat_count_30d=repeat_count, category=Category(category), rules=self.grading
            )
        )

    def duplicate_of(self, new: Candidate, candidates: list[Candidate]) -> str | None:
        match = find_suspected_duplicate(new.summary(), [c.summary() for c in candidates])
        return match.candidate.case_no if match else None

    def grade_stored(
        self,
        *,
        category: str,
        people_involved: int,
        amount_yuan: Decimal | None,
        flags: Iterable[str],
        repeat_count: int,
        request_type: str,
        channel: str,
    ) -> AssessmentOut:
        """Grade a registered case again from what is stored (e.g. after a category correction)."""
        facts = GradingFacts(
            people_involved=people_involved,
            amount_yuan=amount_yuan,
            flags=frozenset(RiskFlag(f) for f in flags),
            repeat_count_30d=repeat_count,
            category=Category(category),
            request_type=RequestType(request_type),
            channel=Channel(channel),
        )
        return _out(grade(facts, self.grading))

    def response_level_for(self, colour: str) -> str:
        return self.grading.response_level_for(RiskColour(colour)).value

    def warm(self) -> None:
        """Load the classifier's tokenizer now (about a second) rather than in the next registration."""
        self.classifier.segment("预热")


def _out(assessment: Assessment) -> AssessmentOut:
    return AssessmentOut(
        colour=assessment.colour.value,
        reasons=[r.model_dump(mode="json") for r in assessment.reasons],
        response_level=assessment.response_level.value,
    )
