"""The deliver_sm bodies the simulated SMSC writes to the account: delivery receipts and citizens'
own messages (mobile originated)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from services.notification.sms.smpp.simulator.pdu import (
    MAX_SHORT_MESSAGE,
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_USER_MESSAGE_REFERENCE,
    Address,
    ShortMessage,
    c_string,
    encode_short_message,
)

ReceiptStat = Literal["DELIVRD", "UNDELIV", "EXPIRED", "DELETED", "UNKNOWN", "REJECTD", "ACCEPTD"]

_RECEIPT_ESM_CLASS = 0x04
_MESSAGE_STATE = {
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}


def receipt_body(message: ShortMessage, message_id: str, stat: ReceiptStat, zone: ZoneInfo) -> bytes:
    """The receipt for one submitted part, in the SMPP 3.4 appendix B text (dates in the SMSC's
    local time, no zone) and the receipted_message_id and message_state parameters."""
    local = datetime.now(zone).strftime("%y%m%d%H%M")
    text = (
        f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
        f"submit date:{local} done date:{local} stat:{stat} err:{0 if stat == 'DELIVRD' else 1:03d} text:"
    )
    return encode_short_message(
        ShortMessage(
            source=message.destination,
            destination=message.source,
            esm_class=_RECEIPT_ESM_CLASS,
            registered_delivery=0,
            data_coding=0,
            short_message=text.encode("ascii"),
            tlvs={
                TAG_RECEIPTED_MESSAGE_ID: c_string(message_id),
                TAG_MESSAGE_STATE: bytes([_MESSAGE_STATE[stat]]),
            },
        )
    )


def mobile_originated_body(phone: str, text: str, *, to: str, reference: int | None) -> bytes:
    """A citizen's SMS from `phone` to our number `to`, in one SMS.

    Text that is all ASCII goes in the default alphabet (data_coding 0), anything else in UCS2,
    as a handset's SMSC would deliver it; `reference` becomes user_message_reference.
    """
    digits = phone.strip().lstrip("+")
    if len(digits) == 11 and digits.startswith("1"):
        digits = "86" + digits  # a mainland mobile, as SMSCs report senders: international
    coding = 0 if text.isascii() else 8
    payload = text.encode("ascii") if coding == 0 else text.encode("utf-16-be")
    if len(payload) > MAX_SHORT_MESSAGE[coding]:
        raise ValueError("deliver_mo sends one SMS; the text does not fit in one")
    tlvs = {} if reference is None else {TAG_USER_MESSAGE_REFERENCE: reference.to_bytes(2, "big")}
    return encode_short_message(
        ShortMessage(
            source=Address(1 if digits.startswith("86") else 0, 1, digits),
            destination=Address(0, 1, to),
            esm_class=0,  # default message type: mobile originated
            registered_delivery=0,
            data_coding=coding,
            short_message=payload,
            tlvs=tlvs,
        )
    )
