"""SMS segment counting and splitting for Chinese (UCS-2) messages.

Chinese text forces UCS-2 encoding: one SMS holds 70 code units; a concatenated SMS loses room to
its header, leaving 67 units per part. A character outside the BMP (emoji, rare CJK extension
characters used in some names) is a surrogate pair: two units, and never split across parts,
which is what handsets and SMSCs do too.
"""

from __future__ import annotations

SINGLE_LIMIT = 70
PART_LIMIT = 67


def char_units(char: str) -> int:
    """UCS-2 code units taken by one code point."""
    return 2 if ord(char) > 0xFFFF else 1


def ucs2_length(text: str) -> int:
    """Length of `text` in UCS-2 code units (what providers bill by)."""
    return sum(char_units(c) for c in text)


def split_segments(text: str, *, single_limit: int = SINGLE_LIMIT, part_limit: int = PART_LIMIT) -> list[str]:
    """Split `text` into the parts a provider would send; an empty text has no parts."""
    if not text:
        return []
    if ucs2_length(text) <= single_limit:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        units = char_units(char)
        if used + units > part_limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += units
    parts.append("".join(current))
    return parts


def segment_count(text: str, *, single_limit: int = SINGLE_LIMIT, part_limit: int = PART_LIMIT) -> int:
    """Number of billed segments: 1 up to 70 units, else ceil(units / 67).

    Counted from the actual split, so a surrogate pair pushed to the next part is accounted for
    (it can cost one more segment than the plain formula).
    """
    return len(split_segments(text, single_limit=single_limit, part_limit=part_limit))
