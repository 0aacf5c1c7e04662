"""Masking of personal information for roles that do not need it (PIPL). Encryption lives elsewhere."""

from __future__ import annotations

import re

MASK = "*"


def _mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    hidden = len(value) - keep_start - keep_end
    if hidden <= 0:
        return MASK * len(value)
    return value[:keep_start] + MASK * hidden + value[len(value) - keep_end :]


def mask_phone(phone: str) -> str:
    """ "13812341234" -> "138****1234"; E.164 "+8613812341234" gets the same national form.

    Landlines keep the area-code head and last four digits: "+864711234567" -> "047****4567".
    """
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+86"):
        national = digits[2:]
        # Mobiles are 11 digits starting with 1; Beijing landlines (10…) are not.
        digits = national if len(national) == 11 and national.startswith("1") else "0" + national
    if len(digits) < 8:  # too short to reveal anything safely
        return _mask_middle(digits, 0, 2)
    return _mask_middle(digits, 3, 4)


def mask_name(name: str) -> str:
    """Keep the first character (usually the surname): "张三丰" -> "张**", "张三" -> "张*"."""
    value = name.strip()
    if len(value) <= 1:
        return MASK * len(value)
    return value[0] + "".join(" " if ch == " " else MASK for ch in value[1:])


def mask_id_number(id_number: str) -> str:
    """Resident IDs keep the region code (first 6) and last 4: "110105********002X".

    Shorter documents (passports, permits) keep only 2 + 2 so most of the number stays hidden.
    """
    value = id_number.strip()
    if len(value) >= 14:
        return _mask_middle(value, 6, 4)
    return _mask_middle(value, 2, 2)


# Free text written by staff (an override reason, a merge note) may quote a phone or ID number; it
# is masked before the text is stored, audited or put into an event.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9A-Za-z])")
_LANDLINE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])0\d{2,3}-?\d{7,8}(?![0-9A-Za-z])")
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def redact_free_text(text: str) -> str:
    """Mask phone and resident ID numbers inside free text: "回电13812341234" -> "回电138****1234"."""
    text = _RESIDENT_ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
    return _LANDLINE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
