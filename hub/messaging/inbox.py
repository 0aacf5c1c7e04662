"""Idempotent consumers: the processed event id is recorded in the same transaction as the effect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.upsert import upsert


async def claim(session: AsyncSession, inbox: Table, consumer: str, event_id: str, event_type: str) -> bool:
    """Record the event as processed by `consumer`; False if it already was (one statement, race-safe).

    A concurrent replica inserting the same id waits on the key and then sees the conflict.
    """
    values = {
        "consumer": consumer,
        "event_id": event_id,
        "event_type": event_type,
        "processed_at": datetime.now(UTC),
    }
    stmt = upsert(session, inbox, ["consumer", "event_id"], values).returning(inbox.c.event_id)
    return (await session.execute(stmt)).first() is not None


async def claim_many(
    session: AsyncSession, inbox: Table, consumer: str, events: list[tuple[str, str]]
) -> set[str]:
    """Record several (event id, event type) as processed by `consumer` in one statement; the ids newly
    recorded (an id already there, or twice in `events`, is recorded once)."""
    now = datetime.now(UTC)
    rows = {
        event_id: {"consumer": consumer, "event_id": event_id, "event_type": event_type, "processed_at": now}
        for event_id, event_type in events
    }
    stmt = upsert(session, inbox, ["consumer", "event_id"]).values(list(rows.values()))
    return {row[0] for row in await session.execute(stmt.returning(inbox.c.event_id))}


async def seen_before(session: AsyncSession, inbox: Table, consumer: str, event_id: str) -> bool:
    found = await session.execute(
        select(inbox.c.event_id).where(inbox.c.consumer == consumer, inbox.c.event_id == event_id)
    )
    return found.first() is not None
