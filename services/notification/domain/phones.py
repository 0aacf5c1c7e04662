"""Mainland mobile numbers as the notification service keys them (pure).

Intake hashes a reporter's phone in E.164 (+8613812341234); providers send and report national
numbers (13812341234). Every keyed hash here is taken over the E.164 form so an inbound reply, an
opt-out and a delivery of the same phone meet.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType


class NotAMobile(ValueError):
    """Not a mainland mobile number (the message never names the number)."""


def normalise_mobile(raw: str) -> str:
    """E.164 of a mainland mobile number given as 138…, +86 138…, 86138… or with spaces/dashes."""
    text = raw.strip()
    digits = "".join(c for c in text if c.isdigit())
    if not text.startswith("+") and len(digits) == 13 and digits.startswith("86"):
        text = "+" + digits  # 8613812341234 as some gateways report it
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise NotAMobile("not a phone number") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise NotAMobile("not a valid mainland number")
    if phonenumbers.number_type(number) not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise NotAMobile("not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national(e164: str) -> str:
    """13812341234 for +8613812341234 (what Aliyun's PhoneNumber(s) parameters take)."""
    return e164[3:] if e164.startswith("+86") else e164
