"""研判: the application's view of the pure intake rules (category, colour, duplicates, repeats).

Rules are loaded at bootstrap (services/intake/rulebook.py: the packaged YAML, or HUB_INTAKE_RULES_DIR);
`POST /internal/v1/rules/reload` builds a new Assessor and swaps it in whole, so a request sees one
rule set from start to end; a bad file is refused and the old rules stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from hub.contracts.vocabulary import Category, Colour
from services.intake.domain.classifier import KeywordClassifier, default_classifier
from services.intake.domain.duplicates import (
    CaseSummary,
    count_repeats,
    find_suspected_duplicate,
    normalise_address,
)
from services.intake.domain.enums import Channel, RequestType, RiskFlag
from services.intake.domain.grading import (
    Assessment,
    GradingFacts,
    GradingRules,
    assess_case,
    default_grading_rules,
    grade,
)
from services.intake.domain.key_persons import KeyPersonScheme, default_key_person_scheme
from services.intake.domain.model import CaseIn
from services.intake.domain.second_opinion import with_second_opinion
from services.intake.domain.signals import (
    SignalReader,
    TextFacts,
    TextPart,
    case_texts,
    default_signal_reader,
)
from services.intake.domain.text_model import TextModel, default_text_model


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
    def __init__(
        self,
        grading: GradingRules,
        classifier: KeywordClassifier,
        signals: SignalReader | None = None,
        text_model: TextModel | None = None,
        *,
        key_persons: KeyPersonScheme | None = None,
    ) -> None:
        self.grading = grading
        # The key persons registry's colour scheme (rules/key_persons.yaml).
        self.key_persons = key_persons or default_key_person_scheme()
        self.classifier = classifier
        self.signals = signals or default_signal_reader()
        # The statistical second opinion (rules/text_model.json); used when grading.yaml enables it.
        self.text_model = text_model

    @classmethod
    def from_packaged_rules(cls) -> Assessor:
        return cls(
            default_grading_rules(), default_classifier(), default_signal_reader(), default_text_model()
        )

    def read_text(self, title: str, description: str, notes: Sequence[tuple[int, str]] = ()) -> TextFacts:
        """What the report's words say (title, description and notes), with the quoted evidence."""
        return self.signals.read(case_texts(title, description, notes))

    def _second_opinion(
        self, assessment: Assessment, parts: Sequence[TextPart], facts: TextFacts
    ) -> Assessment:
        """The rules' assessment, raised where the text model is sure enough of red (never lowered);
        the model does not read what the reader judged no fact (negated, supposed, refuted)."""
        if self.text_model is None or not self.grading.text_model_enabled:
            return assessment
        return with_second_opinion(assessment, parts, self.text_model, self.grading, facts.no_fact)

    def address_key(self, address: str) -> str:
        return normalise_address(address)

    def classify(self, title: str, description: str) -> tuple[str, list[str]]:
        suggestion = self.classifier.classify(title, description)
        return suggestion.category.value, list(suggestion.matched_words)

    def repeat_count(self, new: Candidate, earlier: list[Candidate]) -> int:
        return count_repeats(new.summary(), [c.summary() for c in earlier])

    def grade(
        self, case_in: CaseIn, category: str, repeat_count: int, key_person_colour: str | None = None
    ) -> AssessmentOut:
        """Grade a case being registered: its structured fields and what its title and description say
        (and the colour of the key person it is by or about, if any)."""
        parts = case_texts(case_in.title, case_in.description)
        facts = self.signals.read(parts)
        assessment = assess_case(
            case_in,
            repeat_count_30d=repeat_count,
            category=Category(category),
            rules=self.grading,
            text=facts,
            key_person_colour=key_person_colour,
        )
        return _out(self._second_opinion(assessment, parts, facts))

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
        urgent: bool = False,
        title: str = "",
        description: str = "",
        notes: Sequence[tuple[int, str]] = (),
        key_person_colour: str | None = None,
    ) -> AssessmentOut:
        """Grade a registered case again from what is stored (after a category correction, a note),
        its text read again with the notes added since."""
        parts = case_texts(title, description, notes)
        text = self.signals.read(parts)
        facts = GradingFacts.combine(
            people_involved=people_involved,
            amount_yuan=amount_yuan,
            flags=(RiskFlag(f) for f in flags),
            repeat_count_30d=repeat_count,
            category=Category(category),
            request_type=RequestType(request_type),
            channel=Channel(channel),
            urgent=urgent,
            text=text,
            key_person_colour=key_person_colour,
        )
        return _out(self._second_opinion(grade(facts, self.grading), parts, text))

    def severity(self, colour: str) -> int:
        return Colour(colour).severity

    def response_level_for(self, colour: str) -> str:
        return self.grading.response_level_for(Colour(colour)).value

    def warm(self) -> None:
        """Load the classifier's tokenizer (about a second) and the numeral converter now rather than
        in the next registration."""
        self.classifier.segment("预热")
        self.warm_signals()

    def warm_signals(self) -> None:
        """Import the numeral converter (cn2an, ~0.1 s once per process) before the first report."""
        self.read_text("预热", "约三十多人，二十万元")
        if self.text_model is not None:
            parts = case_texts("预热", "预热")
            self._second_opinion(grade(GradingFacts(), self.grading), parts, self.signals.read(parts))


def _out(assessment: Assessment) -> AssessmentOut:
    return AssessmentOut(
        colour=assessment.colour.value,
        reasons=[r.model_dump(mode="json") for r in assessment.reasons],
        response_level=assessment.response_level.value,
    )
