"""What the SMSC delivers to us (deliver_sm): delivery receipts and citizens' own messages.

The esm_class message-type bits say what a deliver_sm is: a delivery receipt (type 1) goes to
``on_receipt``; a citizen's own SMS to our number (type 0, mobile originated, e.g. a 回访 answer
"3") goes to ``on_message``; anything else (SME or user acknowledgements) is acknowledged and
dropped. A citizen's message is acknowledged only once ``on_message`` has returned; if it fails,
the deliver_sm_resp says ESME_RX_T_APPN (temporary application error) and the SMSC delivers it
again later. SMPP 3.4 gives a mobile-originated message no id of its own, so a redelivery (also one
after a link drop that lost our deliver_sm_resp) arrives with the same sender, number, text and
user_message_reference: ``on_message`` must be idempotent on those, which the notification
service's inbound path is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiosmpplib import DeliverSm, DeliverSmResp, SmppCommandStatus

from services.notification.sms.smpp.addresses import sender_number

log = logging.getLogger("services.notification.sms.smpp")

ReceiptStatus = Literal["delivered", "undelivered", "expired", "rejected"]

# Final states of the SMPP 3.4 receipt text (appendix B); ACCEPTD and ENROUTE are not final.
_RECEIPT_STATUS: dict[str, ReceiptStatus] = {
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "DELETED": "undelivered",
    "UNKNOWN": "undelivered",
    "EXPIRED": "expired",
    "REJECTD": "rejected",
}
# Receipts can come days after the submit; the library keeps its side that long too.
RECEIPT_TTL = 259_200.0
# esm_class bits 2-5 of a deliver_sm (SMPP 3.4 section 5.2.12): what the SMSC is delivering.
_MESSAGE_TYPE_BITS = 0b0011_1100
_MOBILE_ORIGINATED = 0b0000_0000  # default message type: an SMS a handset sent to our number
_DELIVERY_RECEIPT = 0b0000_0100
_USER_MESSAGE_REFERENCE = 0x0204


@dataclass(frozen=True)
class DeliveryReceipt:
    provider_ref: str  # the provider_ref that send() returned
    status: ReceiptStatus
    at: datetime  # when the SMSC reached the final state (UTC)


ReceiptCallback = Callable[[DeliveryReceipt], Awaitable[None]]


@dataclass(frozen=True)
class MobileOriginated:
    """A citizen's SMS to our number (上行短信). Personal data: the sender and the text stay out of
    repr, so a stray log line or traceback cannot show them."""

    sender: str = field(repr=False)  # "+86…" when the SMSC says international, else as delivered
    destination: str  # our number (the service code the citizen replied to)
    text: str = field(repr=False)
    # user_message_reference when the SMSC passes one: two identical texts from one phone with
    # different references are two messages; "" when absent.
    reference: str = ""


MessageCallback = Callable[[MobileOriginated], Awaitable[None]]


class SmscDeliveries:
    """Hands each deliver_sm to its callback before the library acknowledges it, and says which
    ones to answer "try again later"."""

    def __init__(
        self,
        *,
        on_receipt: ReceiptCallback,
        on_message: MessageCallback | None,
        receipt_callback_timeout: float,
        message_callback_timeout: float,
        smsc_zone: ZoneInfo,
    ) -> None:
        self._on_receipt = on_receipt
        self._on_message = on_message
        self._receipt_callback_timeout = receipt_callback_timeout
        self._message_callback_timeout = message_callback_timeout
        # SMPP 3.4 receipt dates carry no zone: they are the SMSC's local time.
        self._smsc_zone = smsc_zone
        self._refs: OrderedDict[str, tuple[float, str]] = OrderedDict()  # token -> (at, provider_ref)
        self._refused: set[int] = set()  # sequence numbers of deliver_sm to answer "try again later"

    def remember_ref(self, token: str, provider_ref: str) -> None:
        """The provider_ref send() returned for our token, for the receipt that names the token."""
        if not token:
            return
        now = time.monotonic()
        self._refs[token] = (now, provider_ref)
        while self._refs:
            oldest = next(iter(self._refs.values()))
            if now - oldest[0] <= RECEIPT_TTL:
                break
            self._refs.popitem(last=False)

    def session_ended(self) -> None:
        self._refused.clear()  # sequence numbers are per session

    async def received(self, deliver: DeliverSm) -> None:
        kind = deliver.esm_class & _MESSAGE_TYPE_BITS
        if kind == _DELIVERY_RECEIPT:
            await self._on_receipt_pdu(deliver)
        elif kind == _MOBILE_ORIGINATED:
            await self._on_message_pdu(deliver)
        else:
            log.info("smpp: deliver_sm of message type 0x%02X acknowledged and ignored", kind)

    def answer_status(self, answer: DeliverSmResp) -> None:
        """Turn the library's ESME_ROK into ESME_RX_T_APPN for a message we could not record."""
        if answer.sequence_num in self._refused:
            self._refused.discard(answer.sequence_num)
            answer.command_status = SmppCommandStatus.ESME_RX_T_APPN

    async def _on_receipt_pdu(self, deliver: DeliverSm) -> None:
        fields: dict[str, Any] = deliver.parse_receipt()
        stat = str(fields.get("stat", "")).upper()
        status = _RECEIPT_STATUS.get(stat)
        if status is None:
            log.info("smpp: non-final receipt state %r ignored", stat)
            return
        # Parts of a long message each get a receipt; aiosmpplib folds them into one and tags it
        # with our token, which maps to the part id we returned. After a restart that mapping is
        # gone and the receipt's own id stands in (the same id for a one-part message).
        known = self._refs.pop(deliver.log_id, None) if deliver.log_id else None
        provider_ref = known[1] if known else str(fields.get("id", ""))
        if not provider_ref:
            log.warning("smpp: receipt without a message id ignored")
            return
        receipt = DeliveryReceipt(provider_ref, status, self._receipt_time(fields.get("done date")))
        # Awaited before the library acknowledges the deliver_sm, so a receipt is only acked
        # once recorded; bounded, because it holds up every other PDU on the session meanwhile.
        try:
            await asyncio.wait_for(self._on_receipt(receipt), self._receipt_callback_timeout)
        except Exception as exc:
            # Only the type: a database error's text can quote the values it was given.
            log.error(
                "smpp: receipt callback failed (%s); receipt for provider_ref=%s acknowledged and lost",
                type(exc).__name__,
                provider_ref,
            )

    async def _on_message_pdu(self, deliver: DeliverSm) -> None:
        if self._on_message is None:
            log.warning("smpp: a citizen's message arrived but this adapter has no on_message: dropped")
            return
        message = MobileOriginated(
            sender=sender_number(deliver.source),
            destination=deliver.destination.number,
            text=deliver.short_message or deliver.message_payload,
            reference=_user_message_reference(deliver),
        )
        # Awaited before the library answers the deliver_sm: acknowledged only once handled.
        try:
            await asyncio.wait_for(self._on_message(message), self._message_callback_timeout)
        except Exception as exc:
            # The SMSC keeps it and delivers it again; only the error's type is logged, because a
            # database error's text can quote the values (the number, the text) it was given.
            self._refused.add(deliver.sequence_num)
            log.error(
                "smpp: citizen's message not recorded (%s); answered ESME_RX_T_APPN for a redelivery",
                type(exc).__name__,
            )

    def _receipt_time(self, done: object) -> datetime:
        if isinstance(done, datetime):
            local = done if done.tzinfo else done.replace(tzinfo=self._smsc_zone)
            return local.astimezone(UTC)
        return datetime.now(UTC)


def _user_message_reference(deliver: DeliverSm) -> str:
    for param in deliver.optional_params or []:
        if param.tag == _USER_MESSAGE_REFERENCE:
            return str(param.value)
    return ""
