"""Risk flags read from the words: threats of violence or self-harm, a mass gathering, 民转刑 and a
vulnerable person, each from the signals of rules/signals.yaml.

A signal fires on its terms, on pairs of words within a clause or a sentence (`pairs`, "@elderly" and
"@minor" standing for ages read from the text), or on a threat's everyday consequence words inside a
threat frame (a cue, "不…就…", "大不了…": `threatened`), unless a near miss says otherwise
(signal_filters.py, and the signal's own `except` phrases).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .enums import RiskFlag
from .signal_evidence import Evidence, EvidenceSpan, flag_key
from .signal_filters import NearMisses
from .signal_numbers import NumberReader
from .signal_rules import Pair, SignalRule, SignalRules, ThreatFrames
from .signal_text import PreparedText, Span, alternation, finder, half_width

# Placeholders for an age read from the text (signal_numbers.py), usable as a pair's words.
AGE_WORDS = frozenset({"@elderly", "@minor"})


@dataclass(frozen=True, slots=True)
class _Found:
    spans: tuple[Span, ...]
    hearsay: bool
    # The words a near miss judged no fact (negated, supposed, refuted): the find is then no signal.
    no_fact: tuple[Span, ...] = ()

    @property
    def live(self) -> bool:
        return not self.no_fact


class _CompiledSignal:
    def __init__(self, rule: SignalRule) -> None:
        self.rule = rule
        self.key = flag_key(rule.flag.value)
        self.terms = finder(rule.terms)
        self.excepted = finder(rule.excepted)
        self.unless = finder(rule.unless)
        self.threatened = finder(rule.threatened)
        self.pairs = [(pair, finder(pair.first), finder(pair.then), finder(pair.also)) for pair in rule.pairs]
        # Every find starts at a term, a pair's first words or a threatened word: a text with none of
        # them (most texts, for most signals) is passed over in one search. An age ("@elderly") leading
        # a pair is no word to search for: such a signal always reads the text in full.
        self.trigger = finder([*rule.terms, *(w for p in rule.pairs for w in p.first), *rule.threatened])
        self.by_age = any(w in AGE_WORDS for p in rule.pairs for w in p.first)

    def may_fire(self, text: str) -> bool:
        return self.by_age or (self.trigger is not None and self.trigger.search(text) is not None)


class ThreatFrameFinder:
    """Where a threat's consequence is said (ThreatFrames), its patterns compiled once."""

    def __init__(self, threats: ThreatFrames, sentence_marks: str) -> None:
        self._within = threats.within
        self._threat_cue = finder(threats.cues)
        self._resigned = finder(threats.resigned)
        self._conditional: re.Pattern[str] | None = None
        if threats.conditions and threats.consequences:
            # The nearest condition before its consequence marker: "再不还钱就", "敢报警就".
            condition = alternation(threats.conditions)
            self._conditional = re.compile(
                f"(?P<if>{condition})(?:(?!{condition})[^{re.escape(sentence_marks)}])"
                f"{{0,{threats.condition_within}}}?(?P<then>{alternation(threats.consequences)})"
            )

    def frame(self, text: PreparedText, at: int) -> tuple[Span, ...] | None:
        """The words that make what is said at `at` a threat: a cue ("扬言"), a condition and its
        consequence marker ("不…就"), or resignation ("大不了") at most `within` characters before it,
        in its sentence. None when nothing does."""
        zones = text.threat_zones
        if zones is None:
            zones = text.threat_zones = self._zones(text)
        if not zones:
            return None
        sentence = text.scope_id(at, "sentence")
        index = bisect.bisect_right(zones, (at, ((at + 1, at + 1),))) - 1
        while index >= 0:
            start, markers = zones[index]
            if at - start > self._within:
                return None
            if text.scope_id(start - 1, "sentence") == sentence:
                return markers
            index -= 1
        return None

    def _zones(self, text: PreparedText) -> list[tuple[int, tuple[Span, ...]]]:
        """Where threatened words may follow: (where the zone starts, the words that open it)."""
        zones: list[tuple[int, tuple[Span, ...]]] = []
        for opener in (self._threat_cue, self._resigned):
            if opener is not None:
                zones += [(m.end(), (m.span(),)) for m in opener.finditer(text.text)]
        if self._conditional is not None:
            zones += [
                (m.end(), (m.span("if"), m.span("then"))) for m in self._conditional.finditer(text.text)
            ]
        zones.sort()
        return zones


class FlagReader:
    """Reads the risk flags of a case's texts under one SignalRules, with their evidence."""

    def __init__(self, rules: SignalRules, near_misses: NearMisses, numbers: NumberReader) -> None:
        self.rules = rules
        self._near_misses = near_misses
        self._numbers = numbers
        self._signals = [_CompiledSignal(rule) for rule in rules.signals]
        self._threat_frames = ThreatFrameFinder(rules.threats, rules.sentence_marks)

    def read(
        self, texts: Sequence[PreparedText]
    ) -> tuple[set[RiskFlag], dict[str, list[Evidence]], list[EvidenceSpan]]:
        """The flags the texts raise, their evidence keyed `flags.<flag>` (in the signals' order, at
        most `max_quotes` each), and the clauses whose risk words are near misses (`no_fact_clauses`)."""
        # A title restates its description (12345's is often the description's first words): words
        # of the title that the description also has are read there, negation and context included.
        description = next((t.text for t in texts if t.part.source == "description"), "")
        evidence: dict[str, list[Evidence]] = {}
        flags: set[RiskFlag] = set()
        read: dict[int, list[_Found]] = {id(text): [] for text in texts}
        for signal in self._signals:
            key = signal.key
            for text in texts:
                for found in self._signal_in(signal, text):
                    read[id(text)].append(found)
                    if not found.live:
                        continue
                    if text.part.source == "title" and all(
                        text.text[a:b] in description for a, b in found.spans
                    ):
                        continue
                    flags.add(signal.rule.flag)
                    found_list = evidence.setdefault(key, [])
                    if len(found_list) < self.rules.max_quotes:
                        found_list.append(self._flag_evidence(signal.rule, text, found))
        return flags, evidence, no_fact_clauses(texts, read)

    def _signal_in(self, signal: _CompiledSignal, text: PreparedText) -> Iterator[_Found]:
        if not signal.may_fire(text.text):
            return
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
                markers = self._threat_frames.frame(text, match.start())
                if markers is not None:
                    candidates.append((*markers, match.span()))
        if not candidates:
            return
        excepted = [m.span() for m in signal.excepted.finditer(text.text)] if signal.excepted else []
        unless = [m.start() for m in signal.unless.finditer(text.text)] if signal.unless else []
        near_misses = self._near_misses
        covered: set[int] = set()  # characters of words already quoted
        for spans in candidates:
            if any(i in covered for start, end in spans for i in range(start, end)):
                continue
            if any(s <= start and end <= e for start, end in spans for s, e in excepted):
                continue
            # The words are there but said not to be a fact: yielded as such (the text model must not
            # read them either), unlike `except` and `unless`, which say they are another matter.
            negated = tuple(span for span in spans if near_misses.negated(text, span))
            if negated:
                yield _Found(spans, hearsay=False, no_fact=negated)
                continue
            if unless and near_misses.cancelled(text, spans[0], unless):
                continue
            if signal.rule.hypothetical == "ignore":
                supposed = tuple(span for span in spans if near_misses.supposed(text, span))
                if supposed:
                    yield _Found(spans, hearsay=False, no_fact=supposed)
                    continue
            if near_misses.refuted_in_clause(text, spans[-1]):
                yield _Found(spans, hearsay=False, no_fact=spans)
                continue
            hearsay = near_misses.hearsay(text, spans[0])
            if hearsay and (signal.rule.hearsay == "ignore" or near_misses.refuted_after(text, spans[-1])):
                yield _Found(spans, hearsay=True, no_fact=spans)
                continue
            covered.update(i for start, end in spans for i in range(start, end))
            yield _Found(spans, hearsay)

    def _occurrences(
        self, pattern: re.Pattern[str] | None, words: Sequence[str], text: PreparedText
    ) -> list[Span]:
        found = [m.span() for m in pattern.finditer(text.text)] if pattern else []
        if not AGE_WORDS.isdisjoint(words):
            for span, age in self._numbers.ages_in(text):
                if ("@elderly" in words and age >= self.rules.elderly_from) or (
                    "@minor" in words and age < self.rules.minor_below
                ):
                    found.append(span)
            found.sort()
        return found

    def _near(
        self, then: re.Pattern[str] | None, pair: Pair, firsts: list[Span], text: PreparedText
    ) -> list[Span]:
        """A pair's second words, looked for only where they could pair with a first one (most of a
        long report is far from any first word; scanning it all for a long word list is the cost)."""
        if then is None or not AGE_WORDS.isdisjoint(pair.then):
            return self._occurrences(then, pair.then, text)
        reach = pair.within + max(len(word) for word in pair.then)
        windows: list[list[int]] = []
        for start, end in firsts:
            low = max(0, start - reach) if pair.any_order else end
            if windows and low <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], end + reach)
            else:
                windows.append([low, end + reach])
        return [m.span() for low, high in windows for m in then.finditer(text.text, low, high)]

    @staticmethod
    def _partner(a: Span, thens: list[Span], pair: Pair, text: PreparedText) -> Span | None:
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

    def _flag_evidence(self, rule: SignalRule, text: PreparedText, found: _Found) -> Evidence:
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


# A title clause this long that its description's no-fact clause contains restates it (a 12345 title is
# the description's first 30 characters, often cut inside that clause).
_RESTATED_MIN = 4


def no_fact_clauses(texts: Sequence[PreparedText], read: dict[int, list[_Found]]) -> list[EvidenceSpan]:
    """The clauses of the risk words the reader judged no fact (negated, a supposition, refuted), less
    those that also hold words it read as a fact; and a title's clauses that restate one of them. What
    the text model must not read (second_opinion.py)."""
    out: list[EvidenceSpan] = []
    for text in texts:
        found = read[id(text)]
        if all(f.live for f in found):
            continue  # most texts: nothing judged no fact
        live = [span for f in found if f.live for span in f.spans]
        clauses: list[list[int]] = []
        for a0, b0 in (span for f in found for span in f.no_fact):
            start, end = text.start_of(a0, "clause"), text.end_of(b0 - 1, "clause")
            if not any(start < b and a < end for a, b in live):
                clauses.append([start, end])
        out += [text.span((start, end)) for start, end in _merged(clauses)]
    restated = [half_width(span.text) for span in out if span.source != "title"]
    for text in texts:
        if text.part.source != "title" or not restated:
            continue
        bounds = [-1, *text.clauses, len(text.text)]
        for start, end in zip([b + 1 for b in bounds[:-1]], bounds[1:], strict=True):
            words = text.text[start:end].strip()
            if len(words) >= _RESTATED_MIN and any(words in clause for clause in restated):
                span = text.span((start, end))
                if span not in out:
                    out.append(span)
    return out


def _merged(spans: list[list[int]]) -> list[tuple[int, int]]:
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]
