"""Retention of the messaging tables: relayed outbox rows and inbox records are deleted after an age.

An outbox row is only needed until it is published (and a while after, for ops to look at); an inbox
record only while the same event may still arrive again. Dead letters can be replayed later than
broker redeliveries: HUB_INBOX_RETENTION_DAYS must outlast the oldest dead letter anyone may still
replay (a replay of an event whose inbox record is gone would be handled a second time).
Unpublished outbox rows are never deleted, whatever their age.
Deleted in small batches (short transactions beside the live traffic), by every replica alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from hub.db import Database
from hub.messaging.tables import KitTables

log = logging.getLogger("hub.retention")

BATCH = 1000


@dataclass(frozen=True)
class Purged:
    outbox: int
    inbox: int


async def purge_once(
    db: Database, kit: KitTables, *, outbox_days: float, inbox_days: float, now: datetime | None = None
) -> Purged:
    now = now or datetime.now(UTC)
    outbox, inbox = kit.outbox, kit.inbox
    published_before = now - timedelta(days=outbox_days)
    processed_before = now - timedelta(days=inbox_days)
    counts = {"outbox": 0, "inbox": 0}
    while True:
        async with db.transaction() as session:
            old = (
                select(outbox.c.id)
                .where(outbox.c.published_at.is_not(None), outbox.c.published_at < published_before)
                .order_by(outbox.c.id)
                .limit(BATCH)
            )
            result = await session.execute(delete(outbox).where(outbox.c.id.in_(old.scalar_subquery())))
            done = int(getattr(result, "rowcount", 0) or 0)
        counts["outbox"] += done
        if done < BATCH:
            break
    while True:
        async with db.transaction() as session:
            keys = (
                await session.execute(
                    select(inbox.c.consumer, inbox.c.event_id)
                    .where(inbox.c.processed_at < processed_before)
                    .limit(BATCH)
                )
            ).all()
            for consumer in {k.consumer for k in keys}:
                ids = [k.event_id for k in keys if k.consumer == consumer]
                await session.execute(
                    delete(inbox).where(inbox.c.consumer == consumer, inbox.c.event_id.in_(ids))
                )
        counts["inbox"] += len(keys)
        if len(keys) < BATCH:
            break
    return Purged(**counts)


async def run_retention(
    db: Database,
    kit: KitTables,
    stop: asyncio.Event,
    *,
    outbox_days: float,
    inbox_days: float,
    interval_s: float,
) -> None:
    """The runtime's background loop: purge, then wait `interval_s` (or until stopped)."""
    while not stop.is_set():
        purged = await purge_once(db, kit, outbox_days=outbox_days, inbox_days=inbox_days)
        if purged.outbox or purged.inbox:
            log.info("retention: deleted %d outbox and %d inbox rows", purged.outbox, purged.inbox)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
