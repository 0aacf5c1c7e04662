"""Queries over the delivery ledger shared by the handlers (creating rows) and the sender (re-checking)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notification.tables import deliveries, opt_outs


async def opted_out(session: AsyncSession, hashes: Collection[str]) -> set[str]:
    if not hashes:
        return set()
    rows = await session.execute(select(opt_outs.c.phone_hash).where(opt_outs.c.phone_hash.in_(list(hashes))))
    return set(rows.scalars())


async def send_history(
    session: AsyncSession,
    hashes: Collection[str],
    *,
    now: datetime,
    window: timedelta,
    include_scheduled: bool,
    exclude: Collection[str] = (),
) -> dict[str, list[datetime]]:
    """Per phone hash: when SMS were handed to a provider within `window` before `now`, and (with
    `include_scheduled`) when the pending ones are due, a past due time counting as `now`."""
    history: dict[str, list[datetime]] = {h: [] for h in hashes}
    if not hashes:
        return history
    t = deliveries
    since = now - window
    handed = await session.execute(
        select(t.c.id, t.c.recipient_hash, t.c.sent_at, t.c.status).where(
            t.c.recipient_hash.in_(list(hashes)), t.c.sent_at > since
        )
    )
    for row in handed:
        if row.id not in exclude:
            history[row.recipient_hash].append(row.sent_at)
    statuses = ["pending", "sending"] if include_scheduled else ["sending"]
    queued = await session.execute(
        select(t.c.id, t.c.recipient_hash, t.c.not_before, t.c.status, t.c.sent_at).where(
            t.c.recipient_hash.in_(list(hashes)), t.c.status.in_(statuses)
        )
    )
    for item in queued:
        if item.id in exclude or item.sent_at is not None:
            continue  # a resend already counted by its earlier hand-off
        history[item.recipient_hash].append(max(item.not_before, now))
    return history
