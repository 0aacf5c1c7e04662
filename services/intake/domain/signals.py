"""Text signals: the facts RULES.md grades on, read from what a report says, each with its evidence.

Most reports are free text; a 12345 work order carries no head count, amount or flag. This module
reads people involved, amounts, repeated reporting and the risk flags from the title, description
and later notes, with the lexicon and patterns held as data (rules/signals.yaml). Each fact comes
with `Evidence`: the quoted words, where they are (source and character offsets), and a reason a
dispatcher reads ("文本含“扬言…跳下去”：自伤风险").

Matching is on characters rather than jieba tokens: offsets stay exact, a centre's new phrase needs
no dictionary entry, and a 2,000-character report is read in about two milliseconds (jieba alone
takes some twenty times that to segment it). Robustness comes from bounds rather than fixed strings:
two words within a clause or a sentence (`pairs`), a threat's everyday consequence words only inside
a threat frame (a cue, "不…就…", "大不了…": `threats`), numbers at their lower bound in every
notation. Near misses are data too: a signal's `except` phrases ("跳楼价"), negation cues with the
filler words allowed between cue and signal ("没有人扬言…", "并未动手"), hearsay cues that mark a
signal as second-hand (and a rumour the text then refutes), suppositions ("万一…") for events.

The reader is composed of one module per job; this one puts them together and is where callers
import from:

- signal_rules.py: the rule file's typed model and its loader (`load_signal_rules`);
- signal_text.py: a case's texts (`TextPart`, `case_texts`), clauses, sentences, spans and quotes;
- signal_evidence.py: what reading gives (`TextFacts`, `Evidence`, `flag_key`);
- signal_numbers.py: numbers and ages at their lower bound;
- signal_counts.py: people involved, amounts, earlier reports;
- signal_flags.py: the risk flags and threat frames;
- signal_filters.py: near misses (negation, `unless`, suppositions, hearsay and refuted rumours).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from functools import cache

from .resources import read_rule_text
from .signal_counts import MAX_AMOUNT, MAX_PEOPLE, AmountReader, Found, PeopleCounter, RepeatCounter
from .signal_evidence import Evidence, EvidenceSpan, TextFacts, flag_key
from .signal_filters import NearMisses
from .signal_flags import FlagReader
from .signal_numbers import NumberReader
from .signal_rules import (
    HEARSAY_EFFECTS,
    HYPOTHETICAL_EFFECTS,
    NO_THREAT_FRAMES,
    PLACEHOLDERS,
    SCOPES,
    AmountWords,
    NumberWords,
    Pair,
    PeopleWords,
    RepeatWords,
    SignalRule,
    SignalRules,
    ThreatFrames,
    load_signal_rules,
)
from .signal_text import PreparedText, Span, TextPart, case_texts, half_width

__all__ = [
    "HEARSAY_EFFECTS",
    "HYPOTHETICAL_EFFECTS",
    "MAX_AMOUNT",
    "MAX_PEOPLE",
    "NO_THREAT_FRAMES",
    "PLACEHOLDERS",
    "SCOPES",
    "AmountWords",
    "Evidence",
    "EvidenceSpan",
    "NumberWords",
    "Pair",
    "PeopleWords",
    "RepeatWords",
    "SignalReader",
    "SignalRule",
    "SignalRules",
    "Span",
    "TextFacts",
    "TextPart",
    "ThreatFrames",
    "case_texts",
    "default_signal_reader",
    "flag_key",
    "half_width",
    "load_signal_rules",
    "read_text_facts",
]


class SignalReader:
    """Reads TextFacts from a case's texts under one SignalRules (regular expressions compiled once)."""

    def __init__(self, rules: SignalRules) -> None:
        self.rules = rules
        near_misses = NearMisses(rules)
        numbers = NumberReader(rules.numbers)
        self._flags = FlagReader(rules, near_misses, numbers)
        self._clause_marks = re.compile(f"[{re.escape(rules.clause_marks)}]")
        self._sentence_marks = re.compile(f"[{re.escape(rules.sentence_marks)}]")
        self._people = PeopleCounter(rules.people, numbers)
        self._amounts = AmountReader(rules.amounts, numbers)
        self._repeats = RepeatCounter(rules, near_misses)

    def read(self, parts: Sequence[TextPart]) -> TextFacts:
        texts = [PreparedText(part, self._clause_marks, self._sentence_marks) for part in parts if part.text]
        flags, evidence, no_fact = self._flags.read(texts)
        # A title restates its description: a number the description also says is read there, in its
        # context ("小区860户…" in a title, "小区一共有860户，…一户居民反映…" below: the estate's size).
        description = next((t.text for t in texts if t.part.source == "description"), "")
        people = self._best(
            _unrestated([e for text in texts for e in self._people.people_in(text)], description),
            evidence,
            "people_involved",
        )
        count = int(people) if people is not None else None
        amount = self._best(
            _unrestated([e for text in texts for e in self._amounts.amounts_in(text, count)], description),
            evidence,
            "amount_yuan",
        )
        repeats = self._best(
            _unrestated([e for text in texts for e in self._repeats.repeats_in(text)], description),
            evidence,
            "repeat_count_30d",
        )
        return TextFacts(
            people_involved=int(people) if people is not None else None,
            amount_yuan=amount,
            repeat_count=int(repeats) if repeats is not None else None,
            flags=frozenset(flags),
            evidence={key: tuple(found) for key, found in evidence.items()},
            no_fact=tuple(no_fact),
        )

    def _best(self, found: list[Found], evidence: dict[str, list[Evidence]], key: str) -> Decimal | None:
        """The largest value read, quoted by the words that say it (the smaller ones explain nothing)."""
        if not found:
            return None
        top = max(value for value, _ in found)
        quotes: dict[str, Evidence] = {}
        for value, found_evidence in found:
            if value == top:
                quotes.setdefault(found_evidence.quote, found_evidence)  # one per quote (title and text)
        evidence[key] = list(quotes.values())[: self.rules.max_quotes]
        return top


def _unrestated(found: list[Found], description: str) -> list[Found]:
    """What was read, less what the title reads in words its description also has."""
    return [
        (value, evidence)
        for value, evidence in found
        if not (
            evidence.spans[0].source == "title"
            and all(half_width(span.text) in description for span in evidence.spans)
        )
    ]


@cache
def default_signal_reader() -> SignalReader:
    """Reader over the packaged rules/signals.yaml (read on first use)."""
    return SignalReader(load_signal_rules(read_rule_text("signals.yaml")))


def read_text_facts(parts: Sequence[TextPart], reader: SignalReader | None = None) -> TextFacts:
    return (reader or default_signal_reader()).read(parts)
