"""Each send's outcome written on its delivery row: the provider about to be called, sent (with
notification.sent.v1 in the same transaction), failed for now (back to `pending` after a backoff)
or for good (notification.failed.v1), or unsettled (a lost outcome the provider could not be asked
about yet)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.notification import NotificationFailedV1, NotificationSentV1
from hub.group_commit import GroupCommit
from hub.runtime import ServiceRuntime
from services.notification.tables import deliveries

# The sender's logger: these lines are the sender's story of each delivery.
log = logging.getLogger("hub.notification.sender")

WEBHOOK = "department_webhook"  # the recipient_kind sent to a unit's own system, not by SMS


def channel_of(row: Any) -> str:
    """The outcome counters' channel label: webhook or sms."""
    return "webhook" if row.recipient_kind == WEBHOOK else "sms"


class DeliveryRecords:
    def __init__(
        self,
        rt: ServiceRuntime,
        *,
        clock: Callable[[], datetime],
        retry_delay: Callable[[int], timedelta],
        outcomes: Counter,
    ) -> None:
        self.rt = rt
        self.clock = clock
        self.retry_delay = retry_delay  # after a failed attempt number n; read at each failure
        self.outcomes = outcomes
        # Sends that finish together (a case's notices) are recorded in one transaction where it pays.
        self.sends = GroupCommit(rt.db)

    async def provider(self, delivery_id: str, provider: str) -> None:
        """Record the provider about to be called, so a crash mid-call knows whom to ask."""
        async with self.rt.db.transaction() as session:
            await session.execute(
                update(deliveries).where(deliveries.c.id == delivery_id).values(provider=provider)
            )

    async def unsettled(self, row: Any, reason: str) -> None:
        log.warning("delivery %s attempt %d: %s", row.id, row.attempts, reason)
        async with self.rt.db.transaction() as session:
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id)
                .values(
                    status="pending",
                    recovery="unsettled",
                    not_before=self.clock() + self.retry_delay(row.attempts),
                    last_error=reason[:300],
                    claimed_until=None,
                )
            )

    async def sent(
        self,
        row: Any,
        provider: str,
        ref: str,
        segments: int,
        recovery: str | None,
        *,
        delivered: bool = False,
    ) -> None:
        now = self.clock()
        values: dict[str, Any] = {
            "status": "delivered" if delivered else "sent",
            "provider": provider,
            "provider_ref": ref[:100],
            "segments": segments,
            "sent_at": now,
            "claimed_until": None,
            "recovery": recovery,
        }
        if delivered:
            values.update(receipt_status="delivered", receipt_at=now)
        event = NotificationSentV1(
            delivery_id=row.id,
            case_no=row.case_no,
            template=row.template,
            recipient_kind=row.recipient_kind,
            provider=provider,
            segments=segments,
        )

        async def record(session: AsyncSession) -> None:
            await session.execute(update(deliveries).where(deliveries.c.id == row.id).values(**values))
            await self.rt.outbox.emit(session, event.TYPE, row.case_no, event.model_dump(mode="json"))

        await self.sends.run(record)
        self.outcomes.labels(channel_of(row), "sent").inc()

    async def failed(self, row: Any, reason: str, *, final: bool, recovery: str | None = None) -> None:
        log.warning("delivery %s attempt %d failed: %s", row.id, row.attempts, reason)
        extra: dict[str, Any] = {"recovery": recovery} if recovery else {}
        async with self.rt.db.transaction() as session:
            if not final:
                await session.execute(
                    update(deliveries)
                    .where(deliveries.c.id == row.id)
                    .values(
                        status="pending",
                        not_before=self.clock() + self.retry_delay(row.attempts),
                        last_error=reason[:300],
                        claimed_until=None,
                        **extra,
                    )
                )
                return
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id)
                .values(status="failed", last_error=reason[:300], claimed_until=None, **extra)
            )
            await self.emit_failed(session, row, reason)

    async def emit_failed(self, session: Any, row: Any, reason: str) -> None:
        # Ops are alerted by this event (on the case timeline), the metric and the error log.
        log.error(
            "delivery %s for case %s (%s) failed for good: %s", row.id, row.case_no, row.template, reason
        )
        self.outcomes.labels(channel_of(row), "failed").inc()
        event = NotificationFailedV1(
            delivery_id=row.id,
            case_no=row.case_no,
            template=row.template,
            recipient_kind=row.recipient_kind,
            reason=reason[:300],
        )
        await self.rt.outbox.emit(session, event.TYPE, row.case_no, event.model_dump(mode="json"))
