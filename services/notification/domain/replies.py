"""Parse a citizen's SMS reply to the callback (回访) invitation.

The whole reply must be one recognised answer, never a substring match: "不满意" contains "满意".
Anything else (questions, complaints, a digit and a word that disagree) is unrecognised and goes
to staff rather than being guessed.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


_DIGITS = {
    "1": Satisfaction.SATISFIED,
    "2": Satisfaction.BASICALLY_SATISFIED,
    "3": Satisfaction.DISSATISFIED,
}
_WORDS = {
    "满意": Satisfaction.SATISFIED,
    "很满意": Satisfaction.SATISFIED,
    "非常满意": Satisfaction.SATISFIED,
    "基本满意": Satisfaction.BASICALLY_SATISFIED,
    "不满意": Satisfaction.DISSATISFIED,
    "很不满意": Satisfaction.DISSATISFIED,
    "非常不满意": Satisfaction.DISSATISFIED,
}


def _is_filler(char: str) -> bool:
    # Whitespace, punctuation and symbols (including emoji) carry no answer.
    return char.isspace() or unicodedata.category(char)[0] in "PS"


def _strip(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_filler(text[start]):
        start += 1
    while end > start and _is_filler(text[end - 1]):
        end -= 1
    return text[start:end]


def parse_reply(text: str) -> Satisfaction | None:
    """Map "1"/"１"/"满意", "2"/"基本满意", "3"/"不满意" (and "1满意", "3、不满意") to a rating."""
    # NFKC folds full-width digits, letters and spaces to their ASCII forms.
    answer = _strip(unicodedata.normalize("NFKC", text))
    if answer in _DIGITS:
        return _DIGITS[answer]
    if answer in _WORDS:
        return _WORDS[answer]
    # "1满意", "1.满意", "3 不满意": accepted only when the digit and the word agree.
    digit, rest = answer[:1], _strip(answer[1:])
    if digit in _DIGITS and _WORDS.get(rest) is _DIGITS[digit]:
        return _DIGITS[digit]
    return None


# 退订: the keywords Chinese SMS recipients use to stop messages ("回复TD退订").
_OPT_OUT = frozenset({"TD", "T", "退订", "取消订阅"})


def is_opt_out(text: str) -> bool:
    """Whether the whole reply asks for no more SMS (case-insensitive, full-width folded)."""
    return _strip(unicodedata.normalize("NFKC", text)).upper() in _OPT_OUT
