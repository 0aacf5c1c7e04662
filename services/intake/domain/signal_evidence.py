"""What reading a case's text gives: the facts it says, each with its evidence (the quoted words,
where they are, and a reason a dispatcher reads)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from .enums import RiskFlag


class EvidenceSpan(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str  # title | description | note
    note_no: int | None = None  # which note, for source "note"
    start: int  # character offsets into that text, end exclusive
    end: int
    text: str


class Evidence(BaseModel):
    """Why a fact was read from the text: the words, where they are, and what they mean."""

    model_config = ConfigDict(frozen=True)

    fact: str  # people_involved | amount_yuan | repeat_count_30d | flags
    value: str | int  # the flag, or the number read (an amount as a decimal string)
    signal: str  # the signals.yaml entry that read it
    quote: str  # the spans' words, "…" where they are apart
    spans: list[EvidenceSpan]
    reason_zh: str
    hearsay: bool = False


@dataclass(frozen=True, slots=True)
class TextFacts:
    """What the text says; None where it says nothing. `evidence` is keyed like grading's facts:
    people_involved, amount_yuan, repeat_count_30d, and `flags.<flag>` for each flag."""

    people_involved: int | None = None
    amount_yuan: Decimal | None = None
    repeat_count: int | None = None  # earlier reports of the matter the text speaks of
    flags: frozenset[RiskFlag] = frozenset()
    evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)
    # Clauses whose risk words the reader judged no fact (negated, a supposition, refuted hearsay): not
    # a fact graded on, and what the text model's second opinion does not read either.
    no_fact: tuple[EvidenceSpan, ...] = ()


def flag_key(flag: RiskFlag | str) -> str:
    return f"flags.{flag}"
