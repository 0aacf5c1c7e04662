"""Delivery receipts: a provider's status report applied to its delivery row.

Delivered → `delivered` and notification.delivered.v1; not delivered → sent again later (the same
out-id, through the same failover order) until the attempts run out, then `failed`. A report about
an earlier attempt, or one already applied, changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from hub.contracts.notification import NotificationDeliveredV1
from hub.db import Database
from services.notification.delivery_records import DeliveryRecords
from services.notification.tables import deliveries


async def apply_receipt(
    records: DeliveryRecords,
    *,
    out_id: str | None,
    biz_id: str | None,
    success: bool,
    code: str,
    at: datetime | None,
    max_attempts: int,
) -> str:
    """Returns what happened: delivered | resend | failed | duplicate | stale | unknown | busy (the
    row is mid-send: the provider should push again)."""
    t = deliveries
    rt = records.rt
    now = records.clock()
    async with rt.db.transaction() as session:
        row = None
        if out_id:
            row = (await session.execute(select(t).where(t.c.id == out_id).with_for_update())).first()
        if row is None and biz_id:
            row = (
                await session.execute(select(t).where(t.c.provider_ref == biz_id).with_for_update())
            ).first()
        if row is None:
            return "unknown"
        if row.status == "sending":
            return "busy"
        ref_known = row.provider_ref is None or row.provider_ref.startswith("out:")
        current = ref_known or not biz_id or row.provider_ref == biz_id
        receipt = {"receipt_code": code[:64], "receipt_at": at or now}
        if ref_known and biz_id:
            receipt["provider_ref"] = biz_id
        if success:
            if row.status == "delivered":
                return "duplicate"
            await session.execute(
                update(t)
                .where(t.c.id == row.id)
                .values(status="delivered", receipt_status="delivered", claimed_until=None, **receipt)
            )
            event = NotificationDeliveredV1(
                delivery_id=row.id,
                case_no=row.case_no,
                template=row.template,
                recipient_kind=row.recipient_kind,
                provider=row.provider,
                delivered_at=at or now,
            )
            await rt.outbox.emit(session, event.TYPE, row.case_no, event.model_dump(mode="json"))
            records.outcomes.labels("sms", "delivered").inc()
            return "delivered"
        if row.status != "sent" or not current:
            return "stale"  # about an earlier attempt, or already settled
        records.outcomes.labels("sms", "undelivered").inc()
        reason = f"undelivered: {code}"[:300]
        if row.attempts >= max_attempts:
            await session.execute(
                update(t)
                .where(t.c.id == row.id)
                .values(status="failed", receipt_status="undelivered", last_error=reason, **receipt)
            )
            await records.emit_failed(session, row, reason)
            return "failed"
        # Not delivered: send again later (the same out-id), through the same failover order.
        await session.execute(
            update(t)
            .where(t.c.id == row.id)
            .values(
                status="pending",
                not_before=now + records.retry_delay(row.attempts),
                receipt_status="undelivered",
                last_error=reason,
                **receipt,
            )
        )
        Database.flag(session, "deliveries")
        return "resend"
