"""Phone numbers to and from SMPP addresses (type of number, numbering plan)."""

from __future__ import annotations

from aiosmpplib import NPI, TON, PhoneNumber

from services.notification.sms.port import SmsRejected


def destination_address(phone: str) -> PhoneNumber:
    """Mainland mobiles as international 86…; the SMSC judges validity (ESME_RINVDSTADR)."""
    number = phone.strip().replace(" ", "").replace("-", "")
    international = number.startswith("+")
    digits = number[1:] if international else number
    if not (digits.isascii() and digits.isdigit() and 0 < len(digits) <= 20):
        raise SmsRejected("smpp: destination is not a phone number")
    if not international and len(digits) == 11 and digits.startswith("1"):
        digits, international = "86" + digits, True
    if international:
        return PhoneNumber(digits, TON.INTERNATIONAL, NPI.ISDN)
    return PhoneNumber(digits, TON.UNKNOWN, NPI.ISDN)


def source_address(source_addr: str) -> PhoneNumber:
    """Our sender: digits (a service code) or an alphanumeric name; empty for the account's default."""
    if not source_addr:
        return PhoneNumber("")  # the SMSC's default for this account
    if source_addr.isascii() and source_addr.isdigit():
        return PhoneNumber(source_addr, TON.UNKNOWN, NPI.ISDN)
    return PhoneNumber(source_addr, TON.ALPHANUMERIC, NPI.UNKNOWN)


def sender_number(source: PhoneNumber) -> str:
    """A citizen's number as the SMSC gave it, "+86…" when it says international."""
    if source.ton == TON.INTERNATIONAL and source.number and not source.number.startswith("+"):
        return "+" + source.number
    return source.number
