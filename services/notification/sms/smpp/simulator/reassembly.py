"""The simulated SMSC's checks on a submit_sm, and the joining of a long message's parts.

A part is checked as an SMSC would (mainland mobile destination, default message type, at most
one SMS of short_message) and given its own message_id; parts joined by UDH or by SAR parameters
are kept until the last one arrives, and then the whole message is what the handset would show.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from services.notification.sms.smpp.simulator.pdu import (
    ESME_RINVDSTADR,
    ESME_RINVESMCLASS,
    ESME_RINVMSGLEN,
    MAX_SHORT_MESSAGE,
    TAG_MESSAGE_PAYLOAD,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    Concatenation,
    PduError,
    ShortMessage,
    decode_text,
    split_udh,
    whole_text,
)

_UDHI = 0x40
_MAINLAND_MOBILE = re.compile(r"(?:86)?1[3-9]\d{9}")


@dataclass(frozen=True)
class ReceivedSms:
    """One complete message as the handset would show it."""

    system_id: str
    source: str
    destination: str
    text: str
    parts: tuple[str, ...]
    message_ids: tuple[str, ...]  # one per submit_sm, in part order
    data_coding: int
    concatenation: Literal["none", "udh", "sar", "payload"]
    received_at: datetime


@dataclass
class _Part:
    message_id: str
    raw: bytes


@dataclass
class _Assembly:
    total: int
    method: Literal["udh", "sar"]
    data_coding: int
    parts: dict[int, _Part] = field(default_factory=dict)


class Reassembler:
    """Parts waiting for the rest of their message, per account, sender, destination and reference."""

    def __init__(self) -> None:
        self._assemblies: dict[tuple[str, str, str, int], _Assembly] = {}

    def accept(self, system_id: str, message: ShortMessage) -> tuple[str, ReceivedSms | None]:
        """The part's message_id, and the whole message once this part completes it.

        Raises PduError with the status to answer the submit_sm with.
        """
        if not _MAINLAND_MOBILE.fullmatch(message.destination.digits) or (
            message.destination.ton == 1 and not message.destination.digits.startswith("86")
        ):
            raise PduError(ESME_RINVDSTADR, "destination is not a mainland mobile number")
        if message.esm_class & 0x3C:
            raise PduError(ESME_RINVESMCLASS, "only default message type may be submitted")
        limit = MAX_SHORT_MESSAGE.get(message.data_coding, 140)
        if len(message.short_message) > limit:
            raise PduError(
                ESME_RINVMSGLEN, f"short_message is {len(message.short_message)} octets, limit {limit}"
            )

        payload = message.tlvs.get(TAG_MESSAGE_PAYLOAD)
        user_data = message.short_message
        concat: Concatenation | None = None
        method: Literal["udh", "sar"] = "udh"
        if message.esm_class & _UDHI:
            concat, user_data = split_udh(user_data)
        elif TAG_SAR_MSG_REF_NUM in message.tlvs:
            try:
                concat = Concatenation(
                    int.from_bytes(message.tlvs[TAG_SAR_MSG_REF_NUM], "big"),
                    message.tlvs[TAG_SAR_TOTAL_SEGMENTS][0],
                    message.tlvs[TAG_SAR_SEGMENT_SEQNUM][0],
                )
            except (KeyError, IndexError):
                raise PduError(ESME_RINVMSGLEN, "incomplete SAR parameters") from None
            method = "sar"
        if payload is not None:
            if user_data:
                raise PduError(ESME_RINVMSGLEN, "both short_message and message_payload")
            user_data = payload
        decode_text(message.data_coding, user_data)  # rejects an unsupported coding now

        message_id = f"sim{uuid.uuid4().hex[:13]}"
        now = datetime.now(UTC)
        if concat is None or concat.total == 1:
            text = whole_text(message.data_coding, [user_data])
            return message_id, _received(system_id, message, text, [user_data], [message_id], payload, now)
        if not 1 <= concat.seq <= concat.total:
            raise PduError(ESME_RINVMSGLEN, "segment number outside 1..total")
        key = (system_id, message.source.digits, message.destination.digits, concat.ref)
        assembly = self._assemblies.setdefault(key, _Assembly(concat.total, method, message.data_coding))
        assembly.parts[concat.seq] = _Part(message_id, user_data)
        if len(assembly.parts) < assembly.total:
            return message_id, None
        del self._assemblies[key]
        ordered = [assembly.parts[i] for i in sorted(assembly.parts)]
        raw = [p.raw for p in ordered]
        whole = _received(
            system_id,
            message,
            whole_text(assembly.data_coding, raw),
            raw,
            [p.message_id for p in ordered],
            None,
            now,
            method=assembly.method,
        )
        return message_id, whole


def _received(
    system_id: str,
    message: ShortMessage,
    text: str,
    raw_parts: list[bytes],
    message_ids: list[str],
    payload: bytes | None,
    at: datetime,
    method: Literal["udh", "sar"] | None = None,
) -> ReceivedSms:
    concatenation: Literal["none", "udh", "sar", "payload"] = (
        "payload" if payload is not None else (method or "none")
    )
    return ReceivedSms(
        system_id=system_id,
        source=message.source.digits,
        destination=message.destination.digits,
        text=text,
        parts=tuple(decode_text(message.data_coding, p) for p in raw_parts),
        message_ids=tuple(message_ids),
        data_coding=message.data_coding,
        concatenation=concatenation,
        received_at=at,
    )
