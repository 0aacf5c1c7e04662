"""A case's texts as the signal reader sees them: the parts (title, description, notes), folded to
half-width, cut at clause and sentence marks, with spans and quotes into the original words.

Also the two helpers every reader's patterns are built with (`alternation`, `finder`).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .signal_evidence import EvidenceSpan

Span = tuple[int, int]  # character offsets, end exclusive

# Full-width ASCII (U+FF01…FF5E) and the ideographic space to half-width, one character for one, so
# offsets stay the text's own. (re.sub touches only those characters; str.translate with a table
# walks every character of a long report in Python.)
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")


def half_width(text: str) -> str:
    return _FULL_WIDTH.sub(lambda m: " " if m.group() == "\u3000" else chr(ord(m.group()) - 0xFEE0), text)


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


def alternation(words: Iterable[str]) -> str:
    """A regular expression matching any of the words, the longest first."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def finder(words: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for the words (placeholders such as "@elderly" left out); None when there are none."""
    words = [w for w in words if not w.startswith("@")]
    return re.compile(alternation(words)) if words else None


class PreparedText:
    """One text part prepared for reading: half-width, with its clause and sentence boundaries."""

    def __init__(
        self, part: TextPart, clause_marks: re.Pattern[str], sentence_marks: re.Pattern[str]
    ) -> None:
        self.part = part
        self.text = half_width(part.text)
        self.clauses = [m.start() for m in clause_marks.finditer(self.text)]
        self.sentences = [m.start() for m in sentence_marks.finditer(self.text)]
        # Where threatened words may follow (signal_flags.py), read when first needed.
        self.threat_zones: list[tuple[int, tuple[Span, ...]]] | None = None

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
