"""Numbers in a report's words, at their lower bound, with the prefix that changed them ("近百名",
"数十户", "上百人"), and ages ("八十多岁", "7岁", "七旬老人"). The counting readers (signal_counts.py)
build their patterns on `NumberReader.pattern`; the flags read ages for "@elderly" and "@minor"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

from .numerals import CN_NUMERAL_CHARS, magnitude, number_value
from .signal_rules import NumberWords
from .signal_text import PreparedText, Span, alternation


def number_pattern(words: NumberWords) -> str:
    """A number from where its numeral starts: body, "多/余" and a trailing 万/亿 ("二十多万")."""
    suffix = alternation(words.suffixes) if words.suffixes else "(?!)"
    arabic = r"\d+(?:,\d{3})*(?:\.\d+)?(?:\s*[-~～—–至到]\s*\d+(?:\.\d+)?)?[十百千万亿]*"
    return (
        f"(?P<body>{arabic}|[{CN_NUMERAL_CHARS}]+)"
        f"(?P<suf>{suffix})?(?P<mag>[万亿]+|[百千]万)?(?P<suf2>{suffix})?"
    )


class NumberReader:
    """Reads numbers where a numeral starts, under one NumberWords (patterns compiled once)."""

    def __init__(self, words: NumberWords) -> None:
        self.words = words
        # Numbers are looked for only where a numeral starts (a pattern opening with optional
        # prefixes would be tried at every character); the prefix is then read backwards.
        self._numeral = re.compile(f"[0-9{CN_NUMERAL_CHARS}]+")
        self.pattern = number_pattern(words)
        self._prefix_set = frozenset({*words.near_prefixes, *words.prefixes})
        self._prefix_lengths = sorted({len(p) for p in self._prefix_set}, reverse=True)
        self._ages = re.compile(f"{self.pattern}(?:周岁|岁)")
        self._decades = re.compile("([一二三四五六七八九])旬")  # "七旬老人": in their seventies

    def numbers(
        self, text: PreparedText, pattern: re.Pattern[str]
    ) -> Iterator[tuple[re.Match[str], str, int]]:
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

    def value(
        self, text: PreparedText, match: re.Match[str], pre: str, at: int
    ) -> tuple[Decimal, int] | None:
        """A number's lower bound, and where its quote starts (at a prefix that changed the value:
        "近百名", "数十户", "上百人")."""
        words = self.words
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

    def ages_in(self, text: PreparedText) -> Iterator[tuple[Span, int]]:
        for match, pre, at in self.numbers(text, self._ages):
            read = self.value(text, match, pre, at)
            if read is not None:
                yield (read[1], match.end()), int(read[0])
        for match in self._decades.finditer(text.text):
            yield match.span(), ("一二三四五六七八九".index(match.group(1)) + 1) * 10


def shown(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _inside_word(text: str, at: int) -> bool:
    """近 in 最近 / 附近 is not "nearly": a near-prefix right after these characters is part of a word."""
    return at > 0 and text[at - 1] in "最附邻靠就"
