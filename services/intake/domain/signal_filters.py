"""Near misses in the words around a signal: negation ("没有人扬言…", "并未动手"), a signal's `unless`
words in its sentence, suppositions ("万一…"), hearsay ("听说…"), a rumour the text refutes, and a claim
its own clause calls untrue ("扬言报复系误会")."""

from __future__ import annotations

import bisect
import re

from .signal_rules import SignalRules
from .signal_text import PreparedText, Span, alternation, finder

# "扬言报复一事系误会", "要跳楼的说法不实": a refutation this close after a claim, in its clause, is about it.
REFUTED_WITHIN = 6


class NearMisses:
    """The cue patterns of one SignalRules, compiled once."""

    def __init__(self, rules: SignalRules) -> None:
        cues = alternation(rules.negation_cues)
        fillers = alternation(rules.negation_fillers)
        self._negation = re.compile(f"(?:{cues})(?P<gap>(?:{fillers})*)$" if fillers else f"(?:{cues})()$")
        self._negation_max_gap = rules.negation_max_gap
        self._negation_reach = rules.negation_max_gap + max(len(c) for c in rules.negation_cues)
        self._hearsay = finder(rules.hearsay_cues)
        self._refuted = finder(rules.hearsay_refuted)
        self._refuted_longest = max((len(w) for w in rules.hearsay_refuted), default=0)
        self._hypothetical = finder(rules.hypothetical_cues)

    def negated(self, text: PreparedText, span: Span) -> bool:
        """A negation cue before the words in their clause, at most `max_gap` filler characters away."""
        start = max(text.start_of(span[0], "clause"), span[0] - self._negation_reach)
        found = self._negation.search(text.text, start, span[0])
        return found is not None and len(found.group("gap") or "") <= self._negation_max_gap

    @staticmethod
    def cancelled(text: PreparedText, span: Span, unless: list[int]) -> bool:
        """A word of the signal's `unless` list in the same sentence ("拉横幅" … "开业宣传")."""
        start, end = text.start_of(span[0], "sentence"), text.end_of(span[0], "sentence")
        index = bisect.bisect_left(unless, start)
        return index < len(unless) and unless[index] < end

    def supposed(self, text: PreparedText, span: Span) -> bool:
        """A supposition cue ("万一", "假如") earlier in the clause: "万一孩子摔伤了，谁负责"."""
        if self._hypothetical is None:
            return False
        return self._hypothetical.search(text.text, text.start_of(span[0], "clause"), span[0]) is not None

    def hearsay(self, text: PreparedText, span: Span) -> bool:
        """A hearsay cue ("听说", "据说") earlier in the sentence."""
        if self._hearsay is None:
            return False
        return self._hearsay.search(text.text, text.start_of(span[0], "sentence"), span[0]) is not None

    def refuted_in_clause(self, text: PreparedText, span: Span) -> bool:
        """A claim its own clause calls untrue, hearsay cue or not: "扬言报复系误会", "要跳楼的说法系谣传"
        (a refutation at most `REFUTED_WITHIN` characters after the words)."""
        if self._refuted is None:
            return False
        end = min(text.end_of(span[1] - 1, "clause"), span[1] + REFUTED_WITHIN + self._refuted_longest)
        found = self._refuted.search(text.text, span[1], end)
        return found is not None and found.start() - span[1] <= REFUTED_WITHIN

    def refuted_after(self, text: PreparedText, span: Span) -> bool:
        """A rumour the text then says was checked and found untrue ("…经核实没有这回事")."""
        return self._refuted is not None and self._refuted.search(text.text, span[1]) is not None
