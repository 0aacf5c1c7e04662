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
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from pydantic import BaseModel, ConfigDict

from .enums import RiskFlag
from .numerals import CN_NUMERAL_CHARS, magnitude, number_value
from .resources import read_rule_text
from .rulefile import RuleFileError, expect_keys, expect_str, expect_version, parse_yaml_mapping

SCOPES = ("clause", "sentence", "text")
PLACEHOLDERS = ("@elderly", "@minor")  # stand for ages read from the text ("八十多岁", "7岁")
HEARSAY_EFFECTS = ("mark", "ignore")
HYPOTHETICAL_EFFECTS = ("keep", "ignore")
MAX_PEOPLE = 100_000  # as the case body allows (domain/model.py)
MAX_AMOUNT = Decimal("1000000000000")

# Full-width ASCII (U+FF01…FF5E) and the ideographic space to half-width, one character for one, so
# offsets stay the text's own. (re.sub touches only those characters; str.translate with a table
# walks every character of a long report in Python.)
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")


def half_width(text: str) -> str:
    return _FULL_WIDTH.sub(lambda m: " " if m.group() == "\u3000" else chr(ord(m.group()) - 0xFEE0), text)


# --- evidence ------------------------------------------------------------------------------------


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
class TextPart:
    """One text of a case: its title, its description, or a note added later."""

    source: str
    text: str
    note_no: int | None = None


def case_texts(title: str, description: str, notes: Iterable[tuple[int, str]] = ()) -> list[TextPart]:
    return [
        TextPart("title", title),
        TextPart("description", description),
        *(TextPart("note", text, no) for no, text in notes),
    ]


@dataclass(frozen=True, slots=True)
class TextFacts:
    """What the text says; None where it says nothing. `evidence` is keyed like grading's facts:
    people_involved, amount_yuan, repeat_count_30d, and `flags.<flag>` for each flag."""

    people_involved: int | None = None
    amount_yuan: Decimal | None = None
    repeat_count: int | None = None  # earlier reports of the matter the text speaks of
    flags: frozenset[RiskFlag] = frozenset()
    evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)


def flag_key(flag: RiskFlag | str) -> str:
    return f"flags.{flag}"


# --- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    first: tuple[str, ...]
    then: tuple[str, ...]
    within: int
    scope: str
    any_order: bool
    also: tuple[str, ...] = ()  # one of these must be in the same sentence too


@dataclass(frozen=True, slots=True)
class SignalRule:
    id: str
    flag: RiskFlag
    reason_zh: str
    terms: tuple[str, ...]
    pairs: tuple[Pair, ...]
    excepted: tuple[str, ...]
    unless: tuple[str, ...]  # words that, in the same sentence, cancel the signal
    hearsay: str
    threatened: tuple[str, ...] = ()  # words that are the signal only as what a threat says will happen
    hypothetical: str = "keep"  # "ignore": a supposition ("万一孩子摔伤了") is not the event


@dataclass(frozen=True, slots=True)
class ThreatFrames:
    """Where a threat's consequence is said: after a cue ("扬言", "放话"), after a condition's
    consequence marker ("不给钱就…", "再敢报警就…"), or after resignation ("大不了…", "否则…")."""

    cues: tuple[str, ...]
    conditions: tuple[str, ...]
    consequences: tuple[str, ...]
    condition_within: int
    resigned: tuple[str, ...]
    within: int


@dataclass(frozen=True, slots=True)
class NumberWords:
    vague_digit: int
    vague_count: int
    near_prefixes: tuple[str, ...]
    near_factor: Decimal
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PeopleWords:
    reason_zh: str
    measures: tuple[str, ...]
    counters: tuple[str, ...]
    noun_endings: str
    nouns: tuple[str, ...]
    not_after: tuple[str, ...]
    not_before: tuple[str, ...]
    others: tuple[str, ...]
    together: tuple[str, ...]
    subjects: tuple[str, ...]
    background: tuple[str, ...]
    involved: tuple[str, ...]
    named_marks: tuple[str, ...]
    named_joiners: str
    collectives: tuple[tuple[str, int], ...]
    collective_involved: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AmountWords:
    reason_zh: str
    currency: tuple[str, ...]
    not_followed_by: tuple[str, ...]
    per_person: tuple[str, ...]
    per_person_within: int


@dataclass(frozen=True, slots=True)
class RepeatWords:
    reason_zh: str
    verbs: tuple[str, ...]
    units: tuple[str, ...]
    again: tuple[str, ...]
    again_phrases: tuple[str, ...]
    past: tuple[str, ...]
    several: tuple[str, ...]
    several_times: int
    within: int
    object_within: int
    lead_ins: tuple[str, ...]
    fillers: tuple[str, ...]
    other_party: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SignalRules:
    clause_marks: str
    sentence_marks: str
    negation_cues: tuple[str, ...]
    negation_fillers: tuple[str, ...]
    negation_max_gap: int
    hearsay_cues: tuple[str, ...]
    hearsay_label_zh: str
    hearsay_refuted: tuple[str, ...]
    hypothetical_cues: tuple[str, ...]
    threats: ThreatFrames
    signals: tuple[SignalRule, ...]
    elderly_from: int
    minor_below: int
    numbers: NumberWords
    people: PeopleWords
    amounts: AmountWords
    repeats: RepeatWords
    max_quotes: int


def load_signal_rules(text: str) -> SignalRules:
    """Parse and validate signals.yaml; raise RuleFileError naming the faulty entry."""
    data = parse_yaml_mapping(text, "signals")
    expect_keys(
        data,
        "signals",
        required={
            "version",
            "boundaries",
            "negation",
            "hearsay",
            "signals",
            "ages",
            "numbers",
            "people",
            "amounts",
            "repeats",
            "max_quotes",
        },
        # Added after the first release: a centre's own file written before them still loads.
        optional={"hypothetical", "threats"},
    )
    expect_version(data, "signals")
    bounds = expect_keys(data["boundaries"], "boundaries", required={"clause", "sentence"})
    negation = expect_keys(data["negation"], "negation", required={"cues", "fillers", "max_gap"})
    hearsay = expect_keys(data["hearsay"], "hearsay", required={"cues", "label_zh"}, optional={"refuted"})
    hypothetical = expect_keys(
        data.get("hypothetical", {}), "hypothetical", required=set(), optional={"cues"}
    )
    ages = expect_keys(data["ages"], "ages", required={"elderly_from", "minor_below"})
    raw_signals = data["signals"]
    if not isinstance(raw_signals, list) or not raw_signals:
        raise RuleFileError("signals", "expected a non-empty list of signals")
    signals: list[SignalRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_signals):
        rule = _signal(raw, f"signals[{i}]")
        if rule.id in seen:
            raise RuleFileError(f"signals[{i}].id", f"duplicate signal id {rule.id!r}")
        seen.add(rule.id)
        signals.append(rule)
    return SignalRules(
        clause_marks=_marks(bounds["clause"], "boundaries.clause"),
        sentence_marks=_marks(bounds["sentence"], "boundaries.sentence"),
        negation_cues=_words(negation["cues"], "negation.cues"),
        negation_fillers=_words(negation["fillers"], "negation.fillers", empty_ok=True),
        negation_max_gap=_int(negation["max_gap"], "negation.max_gap", low=0),
        hearsay_cues=_words(hearsay["cues"], "hearsay.cues", empty_ok=True),
        hearsay_label_zh=expect_str(hearsay["label_zh"], "hearsay.label_zh"),
        hearsay_refuted=_words(hearsay.get("refuted", []), "hearsay.refuted", empty_ok=True),
        hypothetical_cues=_words(hypothetical.get("cues", []), "hypothetical.cues", empty_ok=True),
        threats=_threats(data.get("threats", NO_THREAT_FRAMES)),
        signals=tuple(signals),
        elderly_from=_int(ages["elderly_from"], "ages.elderly_from", low=1),
        minor_below=_int(ages["minor_below"], "ages.minor_below", low=1),
        numbers=_numbers(data["numbers"]),
        people=_people(data["people"]),
        amounts=_amounts(data["amounts"]),
        repeats=_repeats(data["repeats"]),
        max_quotes=_int(data["max_quotes"], "max_quotes", low=1),
    )


def _signal(raw: object, where: str) -> SignalRule:
    node = expect_keys(
        raw,
        where,
        required={"id", "flag", "reason_zh"},
        optional={"terms", "pairs", "threatened", "except", "unless", "hearsay", "hypothetical"},
    )
    flag = node["flag"]
    if flag not in RiskFlag.__members__:
        allowed = ", ".join(RiskFlag)
        raise RuleFileError(f"{where}.flag", f"unknown flag {flag!r}; allowed: {allowed}")
    raw_pairs = node.get("pairs") or []
    if not isinstance(raw_pairs, list):
        raise RuleFileError(f"{where}.pairs", "expected a list of pairs")
    pairs = tuple(_pair(p, f"{where}.pairs[{j}]") for j, p in enumerate(raw_pairs))
    terms = _words(node.get("terms") or [], f"{where}.terms", empty_ok=True)
    threatened = _words(node.get("threatened") or [], f"{where}.threatened", empty_ok=True)
    if not terms and not pairs and not threatened:
        raise RuleFileError(where, "a signal needs terms, pairs or threatened words")
    hearsay = node.get("hearsay", "mark")
    if hearsay not in HEARSAY_EFFECTS:
        raise RuleFileError(
            f"{where}.hearsay", f"expected one of {', '.join(HEARSAY_EFFECTS)}, got {hearsay!r}"
        )
    hypothetical = node.get("hypothetical", "keep")
    if hypothetical not in HYPOTHETICAL_EFFECTS:
        raise RuleFileError(
            f"{where}.hypothetical",
            f"expected one of {', '.join(HYPOTHETICAL_EFFECTS)}, got {hypothetical!r}",
        )
    return SignalRule(
        id=expect_str(node["id"], f"{where}.id"),
        flag=RiskFlag(flag),
        reason_zh=expect_str(node["reason_zh"], f"{where}.reason_zh"),
        terms=terms,
        pairs=pairs,
        excepted=_words(node.get("except") or [], f"{where}.except", empty_ok=True),
        unless=_words(node.get("unless") or [], f"{where}.unless", empty_ok=True),
        hearsay=hearsay,
        threatened=threatened,
        hypothetical=hypothetical,
    )


NO_THREAT_FRAMES = {
    "cues": [],
    "conditions": [],
    "consequences": [],
    "condition_within": 0,
    "resigned": [],
    "within": 0,
}


def _threats(raw: object) -> ThreatFrames:
    node = expect_keys(
        raw,
        "threats",
        required={"cues", "conditions", "consequences", "condition_within", "resigned", "within"},
    )
    return ThreatFrames(
        cues=_words(node["cues"], "threats.cues", empty_ok=True),
        conditions=_words(node["conditions"], "threats.conditions", empty_ok=True),
        consequences=_words(node["consequences"], "threats.consequences", empty_ok=True),
        condition_within=_int(node["condition_within"], "threats.condition_within", low=0),
        resigned=_words(node["resigned"], "threats.resigned", empty_ok=True),
        within=_int(node["within"], "threats.within", low=0),
    )


def _pair(raw: object, where: str) -> Pair:
    node = expect_keys(
        raw, where, required={"first", "then", "within", "scope"}, optional={"any_order", "also"}
    )
    scope = node["scope"]
    if scope not in SCOPES:
        raise RuleFileError(f"{where}.scope", f"expected one of {', '.join(SCOPES)}, got {scope!r}")
    any_order = node.get("any_order", False)
    if not isinstance(any_order, bool):
        raise RuleFileError(f"{where}.any_order", f"expected true or false, got {any_order!r}")
    return Pair(
        first=_words(node["first"], f"{where}.first", placeholders=True),
        then=_words(node["then"], f"{where}.then", placeholders=True),
        within=_int(node["within"], f"{where}.within", low=0),
        scope=scope,
        any_order=any_order,
        also=_words(node.get("also") or [], f"{where}.also", empty_ok=True),
    )


def _numbers(raw: object) -> NumberWords:
    node = expect_keys(
        raw,
        "numbers",
        required={"vague_digit", "vague_count", "near_prefixes", "near_factor", "prefixes", "suffixes"},
    )
    factor = node["near_factor"]
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= 1:
        raise RuleFileError("numbers.near_factor", f"expected a number above 0 and at most 1, got {factor!r}")
    return NumberWords(
        vague_digit=_int(node["vague_digit"], "numbers.vague_digit", low=1, high=9),
        vague_count=_int(node["vague_count"], "numbers.vague_count", low=1, high=9),
        near_prefixes=_words(node["near_prefixes"], "numbers.near_prefixes", empty_ok=True),
        near_factor=Decimal(str(factor)),
        prefixes=_words(node["prefixes"], "numbers.prefixes", empty_ok=True),
        suffixes=_words(node["suffixes"], "numbers.suffixes", empty_ok=True),
    )


def _people(raw: object) -> PeopleWords:
    node = expect_keys(
        raw,
        "people",
        required={
            "reason_zh",
            "measures",
            "counters",
            "noun_endings",
            "nouns",
            "not_after",
            "not_before",
            "others",
            "together",
            "subjects",
            "background",
            "involved",
        },
        optional={"named", "collectives"},
    )
    named = expect_keys(
        node.get("named", {"marks": [], "joiners": "、"}), "people.named", required={"marks", "joiners"}
    )
    collectives = expect_keys(
        node.get("collectives", {"words": {}, "involved": []}),
        "people.collectives",
        required={"words", "involved"},
    )
    words = collectives["words"]
    if not isinstance(words, dict):
        raise RuleFileError("people.collectives.words", "expected a mapping of each word to its least number")
    counted = tuple(
        (_words([word], "people.collectives.words")[0], _int(n, f"people.collectives.words.{word}", low=1))
        for word, n in words.items()
    )
    return PeopleWords(
        reason_zh=expect_str(node["reason_zh"], "people.reason_zh"),
        measures=_words(node["measures"], "people.measures"),
        counters=_words(node["counters"], "people.counters", empty_ok=True),
        noun_endings=_marks(node["noun_endings"], "people.noun_endings"),
        nouns=_words(node["nouns"], "people.nouns", empty_ok=True),
        not_after=_words(node["not_after"], "people.not_after", empty_ok=True),
        not_before=_words(node["not_before"], "people.not_before", empty_ok=True),
        others=_words(node["others"], "people.others", empty_ok=True),
        together=_words(node["together"], "people.together", empty_ok=True),
        subjects=_words(node["subjects"], "people.subjects", empty_ok=True),
        background=_words(node["background"], "people.background", empty_ok=True),
        involved=_words(node["involved"], "people.involved", empty_ok=True),
        named_marks=_words(named["marks"], "people.named.marks", empty_ok=True),
        named_joiners=_marks(named["joiners"], "people.named.joiners"),
        collectives=counted,
        collective_involved=_words(collectives["involved"], "people.collectives.involved", empty_ok=True),
    )


def _amounts(raw: object) -> AmountWords:
    node = expect_keys(
        raw,
        "amounts",
        required={"reason_zh", "currency", "not_followed_by", "per_person", "per_person_within"},
    )
    return AmountWords(
        reason_zh=expect_str(node["reason_zh"], "amounts.reason_zh"),
        currency=_words(node["currency"], "amounts.currency"),
        not_followed_by=_words(node["not_followed_by"], "amounts.not_followed_by", empty_ok=True),
        per_person=_words(node["per_person"], "amounts.per_person", empty_ok=True),
        per_person_within=_int(node["per_person_within"], "amounts.per_person_within", low=0),
    )


def _repeats(raw: object) -> RepeatWords:
    node = expect_keys(
        raw,
        "repeats",
        required={
            "reason_zh",
            "verbs",
            "units",
            "again",
            "again_phrases",
            "past",
            "several",
            "several_times",
            "within",
            "lead_ins",
            "fillers",
            "other_party",
        },
        optional={"object_within"},
    )
    return RepeatWords(
        reason_zh=expect_str(node["reason_zh"], "repeats.reason_zh"),
        verbs=_words(node["verbs"], "repeats.verbs"),
        units=_words(node["units"], "repeats.units"),
        again=_words(node["again"], "repeats.again", empty_ok=True),
        again_phrases=_words(node["again_phrases"], "repeats.again_phrases", empty_ok=True),
        past=_words(node["past"], "repeats.past", empty_ok=True),
        several=_words(node["several"], "repeats.several", empty_ok=True),
        several_times=_int(node["several_times"], "repeats.several_times", low=2),
        within=_int(node["within"], "repeats.within", low=0),
        object_within=_int(node.get("object_within", 0), "repeats.object_within", low=0),
        lead_ins=_words(node["lead_ins"], "repeats.lead_ins", empty_ok=True),
        fillers=_words(node["fillers"], "repeats.fillers", empty_ok=True),
        other_party=_words(node["other_party"], "repeats.other_party", empty_ok=True),
    )


def _words(raw: object, where: str, *, empty_ok: bool = False, placeholders: bool = False) -> tuple[str, ...]:
    if not isinstance(raw, list) or (not raw and not empty_ok):
        raise RuleFileError(
            where, "expected a non-empty list of words" if not empty_ok else "expected a list"
        )
    words: list[str] = []
    for i, word in enumerate(raw):
        if isinstance(word, int) and not isinstance(word, bool):
            word = str(word)  # "12345" written without quotes
        if not isinstance(word, str) or not word.strip():
            raise RuleFileError(f"{where}[{i}]", f"expected a non-empty word, got {word!r}")
        word = half_width(word.strip())
        if word.startswith("@") and (not placeholders or word not in PLACEHOLDERS):
            allowed = ", ".join(PLACEHOLDERS) if placeholders else "none here"
            raise RuleFileError(f"{where}[{i}]", f"unknown placeholder {word!r}; allowed: {allowed}")
        if word not in words:
            words.append(word)
    return tuple(words)


def _marks(raw: object, where: str) -> str:
    return half_width(expect_str(raw, where))


def _int(raw: object, where: str, *, low: int, high: int | None = None) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low or (high is not None and raw > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise RuleFileError(where, f"expected a whole number {bound}, got {raw!r}")
    return raw


# --- reading -------------------------------------------------------------------------------------


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _finder(words: Iterable[str]) -> re.Pattern[str] | None:
    words = [w for w in words if not w.startswith("@")]
    return re.compile(_alternation(words)) if words else None


Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Found:
    spans: tuple[Span, ...]
    hearsay: bool


class _Text:
    """One text part prepared for reading: half-width, with its clause and sentence boundaries."""

    def __init__(
        self, part: TextPart, clause_marks: re.Pattern[str], sentence_marks: re.Pattern[str]
    ) -> None:
        self.part = part
        self.text = half_width(part.text)
        self.clauses = [m.start() for m in clause_marks.finditer(self.text)]
        self.sentences = [m.start() for m in sentence_marks.finditer(self.text)]
        self.threat_zones: list[tuple[int, tuple[Span, ...]]] | None = None  # read when first needed

    def scope_id(self, pos: int, scope: str) -> int:
        if scope == "text":
            return 0
        return bisect.bisect_right(self.clauses if scope == "clause" else self.sentences, pos)

    def start_of(self, pos: int, scope: str) -> int:
        marks = self.clauses if scope == "clause" else self.sentences
        index = bisect.bisect_right(marks, pos) - 1
        return marks[index] + 1 if index >= 0 else 0

    def end_of(self, pos: int, scope: str) -> int:
        marks = self.clauses if scope == "clause" else self.sentences
        index = bisect.bisect_right(marks, pos)
        return marks[index] if index < len(marks) else len(self.text)

    def span(self, span: Span) -> EvidenceSpan:
        start, end = span
        return EvidenceSpan(
            source=self.part.source,
            note_no=self.part.note_no,
            start=start,
            end=end,
            text=self.part.text[start:end],
        )

    def quote(self, spans: Sequence[Span]) -> str:
        out = self.part.text[spans[0][0] : spans[0][1]]
        for (_, prev_end), (start, end) in itertools.pairwise(spans):
            out += ("" if start <= prev_end else "…") + self.part.text[max(start, prev_end) : end]
        return out


class _CompiledSignal:
    def __init__(self, rule: SignalRule) -> None:
        self.rule = rule
        self.key = flag_key(rule.flag.value)
        self.terms = _finder(rule.terms)
        self.excepted = _finder(rule.excepted)
        self.unless = _finder(rule.unless)
        self.threatened = _finder(rule.threatened)
        self.pairs = [
            (pair, _finder(pair.first), _finder(pair.then), _finder(pair.also)) for pair in rule.pairs
        ]


class SignalReader:
    """Reads TextFacts from a case's texts under one SignalRules (regular expressions compiled once)."""

    def __init__(self, rules: SignalRules) -> None:
        self.rules = rules
        self._signals = [_CompiledSignal(rule) for rule in rules.signals]
        cues = _alternation(rules.negation_cues)
        fillers = _alternation(rules.negation_fillers)
        self._negation = re.compile(f"(?:{cues})(?P<gap>(?:{fillers})*)$" if fillers else f"(?:{cues})()$")
        self._negation_reach = rules.negation_max_gap + max(len(c) for c in rules.negation_cues)
        self._hearsay = _finder(rules.hearsay_cues)
        self._refuted = _finder(rules.hearsay_refuted)
        self._hypothetical = _finder(rules.hypothetical_cues)
        threats = rules.threats
        self._threat_cue = _finder(threats.cues)
        self._resigned = _finder(threats.resigned)
        self._conditional = None
        if threats.conditions and threats.consequences:
            # The nearest condition before its consequence marker: "再不还钱就", "敢报警就".
            condition = _alternation(threats.conditions)
            self._conditional = re.compile(
                f"(?P<if>{condition})(?:(?!{condition})[^{re.escape(rules.sentence_marks)}])"
                f"{{0,{threats.condition_within}}}?(?P<then>{_alternation(threats.consequences)})"
            )
        self._clause_marks = re.compile(f"[{re.escape(rules.clause_marks)}]")
        self._sentence_marks = re.compile(f"[{re.escape(rules.sentence_marks)}]")
        # Numbers are looked for only where a numeral starts (a pattern opening with optional
        # prefixes would be tried at every character); the prefix is then read backwards.
        self._numeral = re.compile(f"[0-9{CN_NUMERAL_CHARS}]+")
        number = _number_pattern(rules.numbers)
        self._prefix_set = frozenset({*rules.numbers.near_prefixes, *rules.numbers.prefixes})
        self._prefix_lengths = sorted({len(p) for p in self._prefix_set}, reverse=True)
        people = rules.people
        nouns = f"(?:{_alternation(people.nouns)})" if people.nouns else "(?!)"
        # A noun for people after a counting word: listed, or up to three characters ending in a
        # character of `noun_endings` ("十几个商贩").
        endings = f"[\\u4e00-\\u9fff]{{0,2}}?[{re.escape(people.noun_endings)}]"
        counted = f"|(?:{_alternation(people.counters)})(?:{nouns}|{endings})" if people.counters else ""
        self._people = re.compile(
            f"{number}(?P<unit>(?:{_alternation(people.measures)})(?:{nouns})?{counted})"
        )
        self._background = re.compile(_alternation(people.background)) if people.background else None
        # "张某、李某、赵某": parties named one by one (a surname and a mark), joined into a list.
        name = f"[\\u4e00-\\u9fff](?:{_alternation(people.named_marks)})" if people.named_marks else "(?!)"
        self._name = re.compile(name)
        self._named = re.compile(f"{name}(?:[{re.escape(people.named_joiners)}]{name})+")
        self._collective = _finder(word for word, _ in people.collectives)
        self._collective_value = dict(people.collectives)
        self._collective_involved = _finder(people.collective_involved)
        self._involved = _finder(people.involved)
        self._not_after = _finder(people.not_after)
        self._not_before = (
            re.compile(f"(?:{_alternation(people.not_before)})$") if people.not_before else None
        )
        self._ages = re.compile(f"{number}(?:周岁|岁)")
        self._decades = re.compile("([一二三四五六七八九])旬")  # "七旬老人": in their seventies
        amounts = rules.amounts
        self._amount = re.compile(f"{number}(?P<cur>{_alternation(amounts.currency)})?")
        self._not_money = _finder(amounts.not_followed_by)
        self._per_person = _finder(amounts.per_person)
        rep = rules.repeats
        boundary = re.escape(rules.clause_marks)
        gap = (
            f"(?:(?:{_alternation(rep.fillers)}){{0,3}}"
            + (f"|(?:{_alternation(rep.lead_ins)})[^{boundary}]{{0,{rep.within}}}?" if rep.lead_ins else "")
            + ")"
        )
        count = f"(?P<n>\\d+|[{CN_NUMERAL_CHARS}]+)"
        verbs = f"(?:{_alternation(rep.verbs)})"
        units = f"(?:{_alternation(rep.units)})"
        # (pattern, how many earlier reports it says: "ordinal" N-1, "after" N, "again" 1, "several")
        forms: list[tuple[str, str]] = [
            (f"第{count}{units}{gap}{verbs}", "ordinal"),  # 第三次反映: the third
            (f"{count}{units}{gap}{verbs}", "ordinal"),  # 三次来电: three, this one included
            (f"{verbs}(?:了|过)?{count}(?:多|余)?{units}", "after"),  # 已反映过两次: two before this
        ]
        if rep.again:
            forms.append((f"(?:{_alternation(rep.again)}){gap}{verbs}", "again"))
        if rep.again_phrases:
            forms.append((_alternation(rep.again_phrases), "again"))
        if rep.past:  # "之前打过12345反映过", "上个星期反映过", "之前也打过电话": one report before this one
            done = [verb for verb in rep.verbs if "过" in verb]  # verbs that already say it is past
            past_verb = f"{verbs}过" + (f"|{_alternation(done)}" if done else "")
            forms.append(
                (f"(?:{_alternation(rep.past)})[^{boundary}]{{0,{rep.within}}}?(?:{past_verb})", "again")
            )
        if rep.several:
            several = _alternation(rep.several)
            forms += [
                (f"(?:{several}){gap}{verbs}", "several"),
                # "反映过好几次", "来过中心好几次": the place may stand between
                (f"{verbs}(?:了|过)?[^{boundary}]{{0,{rep.object_within}}}?(?:{several})", "several"),
            ]
        self._repeats = [(re.compile(form), kind) for form, kind in forms]
        self._other_party = _finder(rep.other_party)
        self._addressed = (
            re.compile(f"(?:给|向|找)(?:{_alternation(rep.other_party)})") if rep.other_party else None
        )

    # -- the whole case ---------------------------------------------------------------------------

    def read(self, parts: Sequence[TextPart]) -> TextFacts:
        texts = [_Text(part, self._clause_marks, self._sentence_marks) for part in parts if part.text]
        # A title restates its description (12345's is often the description's first words): words
        # of the title that the description also has are read there, negation and context included.
        description = next((t.text for t in texts if t.part.source == "description"), "")
        evidence: dict[str, list[Evidence]] = {}
        flags: set[RiskFlag] = set()
        for signal in self._signals:
            key = signal.key
            for text in texts:
                for found in self._signal_in(signal, text):
                    if text.part.source == "title" and all(
                        text.text[a:b] in description for a, b in found.spans
                    ):
                        continue
                    flags.add(signal.rule.flag)
                    found_list = evidence.setdefault(key, [])
                    if len(found_list) < self.rules.max_quotes:
                        found_list.append(self._flag_evidence(signal.rule, text, found))
        people = self._best([e for text in texts for e in self._people_in(text)], evidence, "people_involved")
        count = int(people) if people is not None else None
        amount = self._best(
            [e for text in texts for e in self._amounts_in(text, count)], evidence, "amount_yuan"
        )
        repeats = self._best(
            [e for text in texts for e in self._repeats_in(text)], evidence, "repeat_count_30d"
        )
        return TextFacts(
            people_involved=int(people) if people is not None else None,
            amount_yuan=amount,
            repeat_count=int(repeats) if repeats is not None else None,
            flags=frozenset(flags),
            evidence={key: tuple(found) for key, found in evidence.items()},
        )

    def _best(
        self, found: list[tuple[Decimal, Evidence]], evidence: dict[str, list[Evidence]], key: str
    ) -> Decimal | None:
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

    # -- risk flags -------------------------------------------------------------------------------

    def _signal_in(self, signal: _CompiledSignal, text: _Text) -> Iterator[_Found]:
        # Terms first (they are specific), then pairs; words already quoted are not quoted twice.
        candidates: list[tuple[Span, ...]] = (
            [(m.span(),) for m in signal.terms.finditer(text.text)] if signal.terms else []
        )
        taken: set[Span] = set()
        for pair, first, then, also in signal.pairs:
            firsts = self._occurrences(first, pair.first, text)
            thens = self._near(then, pair, firsts, text) if firsts else []
            for a in firsts:
                b = self._partner(a, thens, pair, text)
                if b is not None and also is not None:
                    start, end = text.start_of(a[0], "sentence"), text.end_of(a[0], "sentence")
                    if also.search(text.text, start, end) is None:
                        continue
                if b is not None and b not in taken:
                    taken.add(b)
                    candidates.append(tuple(sorted((a, b))))
        if signal.threatened:
            for match in signal.threatened.finditer(text.text):
                markers = self._threat_frame(text, match.start())
                if markers is not None:
                    candidates.append((*markers, match.span()))
        if not candidates:
            return
        excepted = [m.span() for m in signal.excepted.finditer(text.text)] if signal.excepted else []
        unless = [m.start() for m in signal.unless.finditer(text.text)] if signal.unless else []
        covered: set[int] = set()  # characters of words already quoted
        for spans in candidates:
            if any(i in covered for start, end in spans for i in range(start, end)):
                continue
            if any(s <= start and end <= e for start, end in spans for s, e in excepted):
                continue
            if any(self._negated(text, span) for span in spans):
                continue
            if unless and self._cancelled(text, spans[0], unless):
                continue
            if signal.rule.hypothetical == "ignore" and any(self._supposed(text, span) for span in spans):
                continue
            hearsay = self._is_hearsay(text, spans[0])
            if hearsay and (signal.rule.hearsay == "ignore" or self._refuted_after(text, spans[-1])):
                continue
            covered.update(i for start, end in spans for i in range(start, end))
            yield _Found(spans, hearsay)

    def _threat_frame(self, text: _Text, at: int) -> tuple[Span, ...] | None:
        """The words that make what is said at `at` a threat: a cue ("扬言"), a condition and its
        consequence marker ("不…就"), or resignation ("大不了") at most `within` characters before it,
        in its sentence. None when nothing does."""
        zones = text.threat_zones
        if zones is None:
            zones = text.threat_zones = self._threat_zones(text)
        if not zones:
            return None
        sentence = text.scope_id(at, "sentence")
        index = bisect.bisect_right(zones, (at, ((at + 1, at + 1),))) - 1
        while index >= 0:
            start, markers = zones[index]
            if at - start > self.rules.threats.within:
                return None
            if text.scope_id(start - 1, "sentence") == sentence:
                return markers
            index -= 1
        return None

    def _threat_zones(self, text: _Text) -> list[tuple[int, tuple[Span, ...]]]:
        """Where threatened words may follow: (where the zone starts, the words that open it)."""
        zones: list[tuple[int, tuple[Span, ...]]] = []
        for finder in (self._threat_cue, self._resigned):
            if finder is not None:
                zones += [(m.end(), (m.span(),)) for m in finder.finditer(text.text)]
        if self._conditional is not None:
            zones += [
                (m.end(), (m.span("if"), m.span("then"))) for m in self._conditional.finditer(text.text)
            ]
        zones.sort()
        return zones

    def _supposed(self, text: _Text, span: Span) -> bool:
        """A supposition cue ("万一", "假如") earlier in the clause: "万一孩子摔伤了，谁负责"."""
        if self._hypothetical is None:
            return False
        return self._hypothetical.search(text.text, text.start_of(span[0], "clause"), span[0]) is not None

    def _refuted_after(self, text: _Text, span: Span) -> bool:
        """A rumour the text then says was checked and found untrue ("…经核实没有这回事")."""
        return self._refuted is not None and self._refuted.search(text.text, span[1]) is not None

    def _occurrences(self, finder: re.Pattern[str] | None, words: Sequence[str], text: _Text) -> list[Span]:
        found = [m.span() for m in finder.finditer(text.text)] if finder else []
        if "@elderly" in words or "@minor" in words:
            for span, age in self._ages_in(text):
                if ("@elderly" in words and age >= self.rules.elderly_from) or (
                    "@minor" in words and age < self.rules.minor_below
                ):
                    found.append(span)
            found.sort()
        return found

    def _near(
        self, finder: re.Pattern[str] | None, pair: Pair, firsts: list[Span], text: _Text
    ) -> list[Span]:
        """A pair's second words, looked for only where they could pair with a first one (most of a
        long report is far from any first word; scanning it all for a long word list is the cost)."""
        if finder is None or "@elderly" in pair.then or "@minor" in pair.then:
            return self._occurrences(finder, pair.then, text)
        reach = pair.within + max(len(word) for word in pair.then)
        windows: list[list[int]] = []
        for start, end in firsts:
            low = max(0, start - reach) if pair.any_order else end
            if windows and low <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], end + reach)
            else:
                windows.append([low, end + reach])
        return [m.span() for low, high in windows for m in finder.finditer(text.text, low, high)]

    def _partner(self, a: Span, thens: list[Span], pair: Pair, text: _Text) -> Span | None:
        scope = text.scope_id(a[0], pair.scope)
        after = bisect.bisect_left(thens, (a[1], -1))
        for b in thens[after:]:
            if b[0] - a[1] > pair.within:
                break
            if text.scope_id(b[0], pair.scope) == scope:
                return b
        if pair.any_order:
            before = bisect.bisect_left(thens, (a[0], -1))
            for b in reversed(thens[:before]):
                if b[1] > a[0]:
                    continue  # overlapping words are one word, not a pair
                if a[0] - b[1] > pair.within:
                    break
                if text.scope_id(b[0], pair.scope) == scope:
                    return b
        return None

    def _negated(self, text: _Text, span: Span) -> bool:
        start = max(text.start_of(span[0], "clause"), span[0] - self._negation_reach)
        found = self._negation.search(text.text, start, span[0])
        return found is not None and len(found.group("gap") or "") <= self.rules.negation_max_gap

    def _cancelled(self, text: _Text, span: Span, unless: list[int]) -> bool:
        """A word of the signal's `unless` list in the same sentence ("拉横幅" … "开业宣传")."""
        start, end = text.start_of(span[0], "sentence"), text.end_of(span[0], "sentence")
        index = bisect.bisect_left(unless, start)
        return index < len(unless) and unless[index] < end

    def _is_hearsay(self, text: _Text, span: Span) -> bool:
        if self._hearsay is None:
            return False
        return self._hearsay.search(text.text, text.start_of(span[0], "sentence"), span[0]) is not None

    def _flag_evidence(self, rule: SignalRule, text: _Text, found: _Found) -> Evidence:
        quote = text.quote(found.spans)
        label = self.rules.hearsay_label_zh if found.hearsay else ""
        return Evidence(
            fact="flags",
            value=rule.flag.value,
            signal=rule.id,
            quote=quote,
            spans=[text.span(s) for s in found.spans],
            reason_zh=f"文本含“{quote}”：{rule.reason_zh}{label}",
            hearsay=found.hearsay,
        )

    # -- numbers ----------------------------------------------------------------------------------

    def _numbers(self, text: _Text, pattern: re.Pattern[str]) -> Iterator[tuple[re.Match[str], str, int]]:
        """Each number `pattern` reads where a numeral starts, with the prefix before it ("近", "数")."""
        last_end = 0
        for run in self._numeral.finditer(text.text):
            at = run.start()
            if at < last_end:
                continue  # the rest of a range or of a number already read ("20-30人")
            match = pattern.match(text.text, at)
            if match is None:
                continue
            last_end = match.end()
            pre = next(
                (
                    text.text[at - n : at]
                    for n in self._prefix_lengths
                    if n <= at and text.text[at - n : at] in self._prefix_set
                ),
                "",
            )
            if text.text[at - 1 : at] == "数" and match.group("body")[0] in "十百千万亿":
                pre = "数"
            yield match, pre, at

    def _value(self, text: _Text, match: re.Match[str], pre: str, at: int) -> tuple[Decimal, int] | None:
        """A number's lower bound, and where its quote starts (at a prefix that changed the value:
        "近百名", "数十户", "上百人")."""
        words = self.rules.numbers
        body = "几" + match.group("body") if pre == "数" else match.group("body")
        near = pre in words.near_prefixes and not _inside_word(text.text, at - len(pre))
        if body[0] in "百千万亿" and not (pre or match.group("suf") or match.group("suf2")):
            return None  # "千家万户", "千万不要", "万一": words, not numbers
        value = number_value(body, words.vague_digit, words.vague_count)
        scale = magnitude(match.group("mag") or "")
        if value is None or scale is None:
            return None
        value *= scale
        if near:
            value *= words.near_factor
        return value, at - len(pre) if near or pre in ("数", "上") else at

    def _people_in(self, text: _Text) -> Iterator[tuple[Decimal, Evidence]]:
        for match, pre, at in self._numbers(text, self._people):
            if self._not_after and self._not_after.match(text.text, match.start("unit")):
                continue
            read = self._value(text, match, pre, at)
            if read is None or read[0] < 1:
                continue
            value, start = read
            if self._not_before and self._not_before.search(text.text, max(0, start - 4), start):
                continue
            if (
                self._background
                and self._background.search(text.text, max(0, start - 5), start)
                and not (
                    self._involved
                    and self._involved.search(text.text, match.end(), text.end_of(match.end() - 1, "clause"))
                )
            ):
                continue  # "单位有300多名员工，只有他一个人…": the setting, not the people involved
            start, extra = self._one_more(text, start)
            yield self._head_count(text, (start, match.end()), min(int(value) + extra, MAX_PEOPLE))
        for match in self._named.finditer(text.text):
            yield self._head_count(text, match.span(), len(set(self._name.findall(match.group()))))
        if self._collective is not None:
            for match in self._collective.finditer(text.text):
                # "整栋楼都停水了": the whole building is involved; "全村都通了自来水" says no trouble.
                end = text.end_of(match.start(), "clause")
                if self._collective_involved and self._collective_involved.search(
                    text.text, match.end(), end
                ):
                    yield self._head_count(text, match.span(), self._collective_value[match.group()])

    def _head_count(self, text: _Text, span: Span, count: int) -> tuple[Decimal, Evidence]:
        quote = text.part.text[span[0] : span[1]]
        return (
            Decimal(count),
            Evidence(
                fact="people_involved",
                value=count,
                signal="people",
                quote=quote,
                spans=[text.span(span)],
                reason_zh=f"文本含“{quote}”：{self.rules.people.reason_zh}按{count}人计",
            ),
        )

    def _one_more(self, text: _Text, start: int) -> tuple[int, int]:
        """ "另外9名工友", "我和两个老乡": the people counted are besides someone, who is involved too.
        Returns where the quote starts and the one more (0 or 1)."""
        people = self.rules.people
        for word in people.others:
            if text.text.endswith(word, 0, start):
                return start - len(word), 1
        for word in people.together:
            at = start - len(word)
            if text.text.endswith(word, 0, start) and any(
                subject in text.text[max(0, at - 4) : at] for subject in people.subjects
            ):
                return at, 1
        return start, 0

    def _ages_in(self, text: _Text) -> Iterator[tuple[Span, int]]:
        for match, pre, at in self._numbers(text, self._ages):
            read = self._value(text, match, pre, at)
            if read is not None:
                yield (read[1], match.end()), int(read[0])
        for match in self._decades.finditer(text.text):
            yield match.span(), ("一二三四五六七八九".index(match.group(1)) + 1) * 10

    def _amounts_in(self, text: _Text, people: int | None) -> Iterator[tuple[Decimal, Evidence]]:
        amounts = self.rules.amounts
        for match, pre, at in self._numbers(text, self._amount):
            end = match.end()
            if not match.group("cur") and not any(
                ch in "万亿" for ch in match.group("body") + (match.group("mag") or "")
            ):
                continue  # a bare number is money only with a currency word
            if self._not_money and self._not_money.match(text.text, end):
                continue
            read = self._value(text, match, pre, at)
            if read is None or read[0] <= 0:
                continue
            value, start = read
            spans: list[Span] = [(start, end)]
            each = ""
            per = (
                self._per_person.search(text.text, max(0, start - amounts.per_person_within), start)
                if (self._per_person and people and people > 1)
                else None
            )
            if (
                per is not None
                and people
                and text.scope_id(per.start(), "clause") == text.scope_id(start, "clause")
            ):
                each = f"每人{_shown(value)}元×{people}人="
                value *= people
                spans.insert(0, per.span())
            value = min(value, MAX_AMOUNT).quantize(Decimal("0.01")).normalize()
            shown = _shown(value)
            quote = text.quote(spans)
            yield (
                value,
                Evidence(
                    fact="amount_yuan",
                    value=shown,
                    signal="amount",
                    quote=quote,
                    spans=[text.span(span) for span in spans],
                    reason_zh=f"文本含“{quote}”：{amounts.reason_zh}按{each}{shown}元计",
                ),
            )

    def _to_other_party(self, text: _Text, match: re.Match[str]) -> bool:
        """The reports were made to the other party: named in or just before the words, or addressed
        just after them ("多次打电话给物业"; not "反映邻居在楼道堆物", where the neighbour is the matter)."""
        if self._other_party is None:
            return False
        start, end = text.start_of(match.start(), "clause"), text.end_of(match.start(), "clause")
        if self._other_party.search(text.text, max(start, match.start() - 6), match.end()):
            return True
        return self._addressed is not None and bool(
            self._addressed.match(text.text, match.end(), min(end, match.end() + 6))
        )

    def _repeats_in(self, text: _Text) -> Iterator[tuple[Decimal, Evidence]]:
        rep = self.rules.repeats
        found: list[tuple[Span, int]] = []
        for pattern, kind in self._repeats:
            for match in pattern.finditer(text.text):
                if kind == "again":
                    earlier = 1
                elif kind == "several":
                    earlier = rep.several_times - 1
                else:
                    value = number_value(match.group("n"), self.rules.numbers.vague_digit)
                    if value is None:
                        continue
                    earlier = int(value) - (1 if kind == "ordinal" else 0)
                if earlier < 1 or self._negated(text, match.span()):
                    continue
                if self._to_other_party(text, match):
                    continue  # "多次向物业反映", "给物业打了十几次电话": not reports to the hub
                found.append((match.span(), earlier))
        found.sort(key=lambda item: (item[0][0], -item[0][1]))
        last_end = 0
        for span, earlier in found:
            if span[0] < last_end:
                continue  # "第三次反映" is not also "三次反映"
            last_end = span[1]
            quote = text.part.text[span[0] : span[1]]
            yield (
                Decimal(earlier),
                Evidence(
                    fact="repeat_count_30d",
                    value=earlier,
                    signal="repeat",
                    quote=quote,
                    spans=[text.span(span)],
                    reason_zh=f"文本含“{quote}”：{rep.reason_zh}，此前至少已反映{earlier}次",
                ),
            )


def _number_pattern(words: NumberWords) -> str:
    """A number from where its numeral starts: body, "多/余" and a trailing 万/亿 ("二十多万")."""
    suffix = _alternation(words.suffixes) if words.suffixes else "(?!)"
    arabic = r"\d+(?:,\d{3})*(?:\.\d+)?(?:\s*[-~～—–至到]\s*\d+(?:\.\d+)?)?[十百千万亿]*"
    return (
        f"(?P<body>{arabic}|[{CN_NUMERAL_CHARS}]+)"
        f"(?P<suf>{suffix})?(?P<mag>[万亿]+|[百千]万)?(?P<suf2>{suffix})?"
    )


def _shown(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _inside_word(text: str, at: int) -> bool:
    """近 in 最近 / 附近 is not "nearly": a near-prefix right after these characters is part of a word."""
    return at > 0 and text[at - 1] in "最附邻靠就"


@cache
def default_signal_reader() -> SignalReader:
    """Reader over the packaged rules/signals.yaml (read on first use)."""
    return SignalReader(load_signal_rules(read_rule_text("signals.yaml")))


def read_text_facts(parts: Sequence[TextPart], reader: SignalReader | None = None) -> TextFacts:
    return (reader or default_signal_reader()).read(parts)
