"""Inbound SMS (上行短信): callback answers (回访 1/2/3) and opt-outs (TD/退订).

A reply is matched to the most recent callback invitation sent to the same phone (by keyed hash;
the number itself is never stored in the clear or logged) within the reply window and not answered
yet; a recognised answer emits sms.reply_received.v1 through the outbox in the same transaction.
Every inbound message is recorded (content encrypted); unrecognised ones and ones with no open
invitation change nothing else. The provider's (dest_code, sequence_id) makes a repeated push a no-op.

A provider that gives a message no id (SMPP: a deliver_sm carries none, and the SMSC delivers it
again when our answer was lost) is deduplicated by a keyed fingerprint of (our number, the sender,
the SMSC's user_message_reference if any, the text): the same fingerprint within the redelivery
window is the same message. Without a reference, a citizen who sends the very same text twice
within the window is therefore counted once; the window is a setting
(HUB_SMS_INBOUND_REDELIVERY_WINDOW_S).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select

from hub.contracts.notification import SmsReplyReceivedV1
from hub.crypto import keyed_hash
from hub.runtime import ServiceRuntime
from hub.upsert import upsert
from services.notification.domain.phones import NotAMobile, normalise_mobile
from services.notification.domain.replies import is_opt_out, parse_reply
from services.notification.tables import deliveries, inbound_aad, inbound_replies, opt_outs

log = logging.getLogger("hub.notification.inbound")

REPLY_WINDOW = timedelta(days=15)
REDELIVERY_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class InboundSms:
    phone: str
    content: str
    dest_code: str
    # The provider's id for this message; None when it gives none (SMPP), see the module docstring.
    sequence_id: str | None
    sent_at: datetime | None = None
    reference: str = ""  # without an id: what else tells two identical texts apart


class InboundReplies:
    def __init__(
        self,
        rt: ServiceRuntime,
        clock: Callable[[], datetime],
        *,
        window: timedelta = REPLY_WINDOW,
        redelivery_window: timedelta = REDELIVERY_WINDOW,
    ) -> None:
        self.rt = rt
        self.clock = clock
        self.window = window
        self.redelivery_window = redelivery_window

    async def opt_out(self, phone: str, source: str = "api") -> None:
        """Record an opt-out by the keyed hash of the number (raises NotAMobile for a non-mobile)."""
        phone_hash = keyed_hash(self.rt.settings.hash_key, normalise_mobile(phone))
        async with self.rt.db.transaction() as session:
            await self._opt_out(session, phone_hash, source)

    async def _opt_out(self, session: Any, phone_hash: str, source: str) -> None:
        values = {"phone_hash": phone_hash, "source": source, "created_at": self.clock()}
        await session.execute(upsert(session, opt_outs, ["phone_hash"], values))

    async def receive(self, message: InboundSms) -> str:
        """Record one inbound SMS; returns the outcome (never the number or the text)."""
        now = self.clock()
        try:
            phone_hash = keyed_hash(self.rt.settings.hash_key, normalise_mobile(message.phone))
        except NotAMobile:
            log.info("inbound SMS from a number that is not a mainland mobile: ignored")
            return "invalid_sender"
        dedup_key, earlier_key = self._dedup_keys(message, phone_hash, now)
        async with self.rt.db.transaction() as session:
            if earlier_key is not None and await self._seen_since(session, earlier_key, now):
                return "duplicate"
            record_id = str(uuid.uuid4())
            inserted = await session.execute(
                upsert(session, inbound_replies, ["dedup_key"])
                .values(
                    id=record_id,
                    dedup_key=dedup_key,
                    phone_hash=phone_hash,
                    content_enc=self.rt.cipher.encrypt(message.content, aad=inbound_aad(record_id)) or "",
                    outcome="pending",
                    sent_at=message.sent_at,
                    received_at=now,
                )
                .returning(inbound_replies.c.id)
            )
            if inserted.first() is None:
                return "duplicate"
            outcome, values = await self._decide(session, phone_hash, message, now)
            await session.execute(
                inbound_replies.update()
                .where(inbound_replies.c.id == record_id)
                .values(outcome=outcome, **values)
            )
        log.info("inbound SMS %s: %s (case %s)", record_id, outcome, values.get("case_no") or "-")
        return outcome

    def _dedup_keys(self, message: InboundSms, phone_hash: str, now: datetime) -> tuple[str, str | None]:
        """The row's unique key and, for a message without an id, the key the same message would
        have had in the previous window (the window is cut into buckets to keep the key unique)."""
        if message.sequence_id is not None:
            return f"{message.dest_code}:{message.sequence_id}"[:200], None
        fingerprint = keyed_hash(
            self.rt.settings.hash_key,
            "\x1f".join(("inbound-v1", message.dest_code, phone_hash, message.reference, message.content)),
        )
        bucket = int(now.timestamp() // self.redelivery_window.total_seconds())
        return f"fp:{fingerprint}:{bucket}", f"fp:{fingerprint}:{bucket - 1}"

    async def _seen_since(self, session: Any, key: str, now: datetime) -> bool:
        row = (
            await session.execute(
                select(inbound_replies.c.received_at).where(inbound_replies.c.dedup_key == key)
            )
        ).first()
        return row is not None and row.received_at > now - self.redelivery_window

    async def _decide(
        self, session: Any, phone_hash: str, message: InboundSms, now: datetime
    ) -> tuple[str, dict[str, Any]]:
        if is_opt_out(message.content):
            await self._opt_out(session, phone_hash, "sms")
            return "opt_out", {}
        invitation = await self._open_invitation(session, phone_hash, now)
        if invitation is None:
            return "no_open_callback", {}
        link = {"case_no": invitation.case_no, "delivery_id": invitation.id}
        satisfaction = parse_reply(message.content)
        if satisfaction is None:
            return "unrecognised", link  # kept for staff to read; the invitation stays open
        event = SmsReplyReceivedV1(
            case_no=invitation.case_no,
            satisfaction=satisfaction.value,
            received_at=message.sent_at or now,
            delivery_id=invitation.id,
        )
        await self.rt.outbox.emit(session, event.TYPE, invitation.case_no, event.model_dump(mode="json"))
        return "matched", {**link, "satisfaction": satisfaction.value}

    async def _open_invitation(self, session: Any, phone_hash: str, now: datetime) -> Any:
        t = deliveries
        latest = (
            await session.execute(
                select(t.c.id, t.c.case_no, t.c.sent_at)
                .where(
                    t.c.recipient_hash == phone_hash,
                    t.c.template == "callback_invitation",
                    t.c.sent_at.is_not(None),
                    t.c.status.in_(["sent", "delivered"]),
                )
                .order_by(t.c.sent_at.desc())
                .limit(1)
            )
        ).first()
        if latest is None or latest.sent_at < now - self.window:
            return None
        answered = (
            await session.execute(
                select(inbound_replies.c.id).where(
                    and_(inbound_replies.c.delivery_id == latest.id, inbound_replies.c.outcome == "matched")
                )
            )
        ).first()
        return None if answered else latest
