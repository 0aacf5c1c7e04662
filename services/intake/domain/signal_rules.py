"""The rule file of the text signals (rules/signals.yaml) as typed data, and its loader.

The lexicon and patterns the readers use are all here: each signal's terms, pairs, threatened words
and near misses; threat frames; the words that count people, amounts and repeats; negation, hearsay
and supposition cues; clause and sentence marks. A faulty file is refused with a DataFileError that
names the entry at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hub.datafile import DataFileError, expect_mapping, expect_str, expect_version, parse_mapping

from .enums import RiskFlag
from .signal_text import half_width

SCOPES = ("clause", "sentence", "text")
PLACEHOLDERS = ("@elderly", "@minor")  # stand for ages read from the text ("八十多岁", "7岁")
HEARSAY_EFFECTS = ("mark", "ignore")
HYPOTHETICAL_EFFECTS = ("keep", "ignore")


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
    """Parse and validate signals.yaml; raise DataFileError naming the faulty entry."""
    data = parse_mapping(text, "signals")
    expect_mapping(
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
    bounds = expect_mapping(data["boundaries"], "boundaries", required={"clause", "sentence"})
    negation = expect_mapping(data["negation"], "negation", required={"cues", "fillers", "max_gap"})
    hearsay = expect_mapping(data["hearsay"], "hearsay", required={"cues", "label_zh"}, optional={"refuted"})
    hypothetical = expect_mapping(
        data.get("hypothetical", {}), "hypothetical", required=set(), optional={"cues"}
    )
    ages = expect_mapping(data["ages"], "ages", required={"elderly_from", "minor_below"})
    raw_signals = data["signals"]
    if not isinstance(raw_signals, list) or not raw_signals:
        raise DataFileError("signals", "expected a non-empty list of signals")
    signals: list[SignalRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_signals):
        rule = _signal(raw, f"signals[{i}]")
        if rule.id in seen:
            raise DataFileError(f"signals[{i}].id", f"duplicate signal id {rule.id!r}")
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
    node = expect_mapping(
        raw,
        where,
        required={"id", "flag", "reason_zh"},
        optional={"terms", "pairs", "threatened", "except", "unless", "hearsay", "hypothetical"},
    )
    flag = node["flag"]
    if flag not in RiskFlag.__members__:
        allowed = ", ".join(RiskFlag)
        raise DataFileError(f"{where}.flag", f"unknown flag {flag!r}; allowed: {allowed}")
    raw_pairs = node.get("pairs") or []
    if not isinstance(raw_pairs, list):
        raise DataFileError(f"{where}.pairs", "expected a list of pairs")
    pairs = tuple(_pair(p, f"{where}.pairs[{j}]") for j, p in enumerate(raw_pairs))
    terms = _words(node.get("terms") or [], f"{where}.terms", empty_ok=True)
    threatened = _words(node.get("threatened") or [], f"{where}.threatened", empty_ok=True)
    if not terms and not pairs and not threatened:
        raise DataFileError(where, "a signal needs terms, pairs or threatened words")
    hearsay = node.get("hearsay", "mark")
    if hearsay not in HEARSAY_EFFECTS:
        raise DataFileError(
            f"{where}.hearsay", f"expected one of {', '.join(HEARSAY_EFFECTS)}, got {hearsay!r}"
        )
    hypothetical = node.get("hypothetical", "keep")
    if hypothetical not in HYPOTHETICAL_EFFECTS:
        raise DataFileError(
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
    node = expect_mapping(
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
    node = expect_mapping(
        raw, where, required={"first", "then", "within", "scope"}, optional={"any_order", "also"}
    )
    scope = node["scope"]
    if scope not in SCOPES:
        raise DataFileError(f"{where}.scope", f"expected one of {', '.join(SCOPES)}, got {scope!r}")
    any_order = node.get("any_order", False)
    if not isinstance(any_order, bool):
        raise DataFileError(f"{where}.any_order", f"expected true or false, got {any_order!r}")
    return Pair(
        first=_words(node["first"], f"{where}.first", placeholders=True),
        then=_words(node["then"], f"{where}.then", placeholders=True),
        within=_int(node["within"], f"{where}.within", low=0),
        scope=scope,
        any_order=any_order,
        also=_words(node.get("also") or [], f"{where}.also", empty_ok=True),
    )


def _numbers(raw: object) -> NumberWords:
    node = expect_mapping(
        raw,
        "numbers",
        required={"vague_digit", "vague_count", "near_prefixes", "near_factor", "prefixes", "suffixes"},
    )
    factor = node["near_factor"]
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= 1:
        raise DataFileError("numbers.near_factor", f"expected a number above 0 and at most 1, got {factor!r}")
    return NumberWords(
        vague_digit=_int(node["vague_digit"], "numbers.vague_digit", low=1, high=9),
        vague_count=_int(node["vague_count"], "numbers.vague_count", low=1, high=9),
        near_prefixes=_words(node["near_prefixes"], "numbers.near_prefixes", empty_ok=True),
        near_factor=Decimal(str(factor)),
        prefixes=_words(node["prefixes"], "numbers.prefixes", empty_ok=True),
        suffixes=_words(node["suffixes"], "numbers.suffixes", empty_ok=True),
    )


def _people(raw: object) -> PeopleWords:
    node = expect_mapping(
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
    named = expect_mapping(
        node.get("named", {"marks": [], "joiners": "、"}), "people.named", required={"marks", "joiners"}
    )
    collectives = expect_mapping(
        node.get("collectives", {"words": {}, "involved": []}),
        "people.collectives",
        required={"words", "involved"},
    )
    words = collectives["words"]
    if not isinstance(words, dict):
        raise DataFileError("people.collectives.words", "expected a mapping of each word to its least number")
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
    node = expect_mapping(
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
    node = expect_mapping(
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
        raise DataFileError(
            where, "expected a non-empty list of words" if not empty_ok else "expected a list"
        )
    words: list[str] = []
    for i, word in enumerate(raw):
        if isinstance(word, int) and not isinstance(word, bool):
            word = str(word)  # "12345" written without quotes
        if not isinstance(word, str) or not word.strip():
            raise DataFileError(f"{where}[{i}]", f"expected a non-empty word, got {word!r}")
        word = half_width(word.strip())
        if word.startswith("@") and (not placeholders or word not in PLACEHOLDERS):
            allowed = ", ".join(PLACEHOLDERS) if placeholders else "none here"
            raise DataFileError(f"{where}[{i}]", f"unknown placeholder {word!r}; allowed: {allowed}")
        if word not in words:
            words.append(word)
    return tuple(words)


def _marks(raw: object, where: str) -> str:
    return half_width(expect_str(raw, where, strip=False))  # a newline is a mark too


def _int(raw: object, where: str, *, low: int, high: int | None = None) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low or (high is not None and raw > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise DataFileError(where, f"expected a whole number {bound}, got {raw!r}")
    return raw
