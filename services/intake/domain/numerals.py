"""Numbers as reports write them, read at their lower bound: "45", "1.5万", "八十万", "二三十", "十几".

Chinese numerals are converted by cn2an (imported on first use: it builds its tables on import);
what cn2an does not take (ranges of adjacent digits, 几/数, a bare 百) is rewritten into what it
does first. Every function returns None for text that is not a number, never raises on it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

CN_DIGITS = "零〇一二两三四五六七八九壹贰叁肆伍陆柒捌玖廿"
CN_UNITS = "十百千万亿拾佰仟"
CN_NUMERAL_CHARS = CN_DIGITS + CN_UNITS + "几"
MAGNITUDE_CHARS = "十百千万亿"
_RANGE_PAIR = re.compile("([一二两三四五六七八九])[一二两三四五六七八九]")  # "二三十", "五六个"
_ARABIC = re.compile(r"\d+(?:\.\d+)?")


@cache
def _cn2an() -> Any:
    import cn2an  # deferred: importing it builds conversion tables (about 0.1 s)

    return cn2an


@lru_cache(maxsize=4096)  # reports repeat their numerals ("一名", "两户"); cn2an costs ~20 µs a call
def chinese_value(numeral: str, vague_digit: int = 2, vague_count: int = 3) -> Decimal | None:
    """A Chinese numeral's lower bound: "二三十" → 20, "十几" → 11, "几百" → 200 (几 leading a unit is
    `vague_digit`), "几" → 3 (alone it is `vague_count`), "百" → 100."""
    if not numeral or any(ch not in CN_NUMERAL_CHARS for ch in numeral):
        return None
    text = _RANGE_PAIR.sub(r"\1", numeral)
    # 几 leading a unit ("几十", "几百") is at least `vague_digit`; after one ("十几", "二十几") at least 1.
    text = re.sub(f"几(?=[{CN_UNITS}])", _digit(vague_digit), text)
    text = _digit(vague_count) if text == "几" else text.replace("几", "一")
    if text[0] in CN_UNITS and text[0] not in "十拾":
        text = "一" + text  # "百余名", "万人": one hundred, ten thousand
    try:
        value = _cn2an().cn2an(text, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return _decimal(value)


def magnitude(units: str) -> Decimal | None:
    """The multiplier a run of unit characters stands for: "万" → 10⁴, "千万" → 10⁷, "亿" → 10⁸."""
    if not units:
        return Decimal(1)
    if any(ch not in MAGNITUDE_CHARS for ch in units):
        return None
    return chinese_value("一" + units)


def number_value(body: str, vague_digit: int = 2, vague_count: int = 3) -> Decimal | None:
    """An Arabic or Chinese number, possibly Arabic with Chinese units ("1.5亿", "3万"), or a range
    ("20-30", "二三十") at its lower bound."""
    body = body.replace(",", "").replace(" ", "")
    arabic = _ARABIC.match(body)
    if arabic is None:
        return chinese_value(body, vague_digit, vague_count)
    rest = body[arabic.end() :]
    range_tail = re.match(r"[-~～—–至到]\d+(?:\.\d+)?", rest)
    if range_tail:
        rest = rest[range_tail.end() :]
    scale = magnitude(rest)
    if scale is None:
        return None
    try:
        return _tidy(Decimal(arabic.group()) * scale)
    except InvalidOperation:
        return None


def _digit(value: int) -> str:
    return "零一二三四五六七八九"[max(0, min(9, value))]


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = Decimal(str(value))
    return _tidy(result) if result.is_finite() and result >= 0 else None


def _tidy(value: Decimal) -> Decimal:
    """1.5亿 is 150000000, not 150000000.0."""
    integral = value.to_integral_value()
    return integral if value == integral else value.normalize()
