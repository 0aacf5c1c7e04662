"""Transactional outbox: events are rows written in the same transaction as the state change.

The relay claims pending rows (SKIP LOCKED on PostgreSQL, a lease column on both), publishes them
with publisher confirms inside a span continuing the trace stored with the row, then marks them sent.
A crash between commit and publish loses nothing; a crash between publish and mark re-publishes the
same event id, which consumers' inboxes absorb.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import SpanKind
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.failpoints import failpoint
from hub.messaging.envelope import Event, new_event
from hub.messaging.publisher import Publisher
from hub.tracing import context_from, tracer

log = logging.getLogger("hub.outbox")


class Outbox:
    """Writes events into the current transaction; never publishes directly."""

    def __init__(self, table: Table, source: str) -> None:
        self.table = table
        self.source = source

    async def add(self, session: AsyncSession, event: Event) -> Event:
        row = {
            "event_id": event.id,
            "type": event.type,
            "subject": event.subject,
            "body": event.to_json().decode("utf-8"),
            "traceparent": event.traceparent,
            "tracestate": event.tracestate,
            "created_at": datetime.now(UTC),
        }
        await Database.insert_at_commit(session, self.table, row)
        Database.flag(session, "outbox")
        return event

    async def emit(
        self, session: AsyncSession, type_: str, subject: str | None, data: dict[str, Any]
    ) -> Event:
        return await self.add(session, new_event(type_, self.source, subject, data))


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        table: Table,
        publisher: Publisher,
        *,
        service: str,
        batch: int,
        lease_s: float,
        idle_poll_s: float,
    ) -> None:
        self.db = db
        self.table = table
        self.publisher = publisher
        self.service = service
        self.batch = batch
        self.lease = timedelta(seconds=lease_s)
        self.idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.relay_once()
            except Exception as exc:  # broker or database away: keep the rows, try again shortly
                log.warning("%s outbox relay paused: %s", self.service, type(exc).__name__)
                sent = 0
                await _wait(stop, 1.0)
            if sent == 0:
                self._wake.clear()
                await _wait_any(stop, self._wake, self.idle_poll_s)

    async def relay_once(self) -> int:
        rows = await self._claim()
        if not rows:
            return 0
        failpoint(f"{self.service}.relay.before_publish")
        results = await asyncio.gather(*(self._publish(row) for row in rows), return_exceptions=True)
        failpoint(f"{self.service}.relay.after_publish_before_mark")
        sent = [row.id for row, result in zip(rows, results, strict=True) if result is None]
        failed = [row.id for row, result in zip(rows, results, strict=True) if result is not None]
        async with self.db.transaction() as session:
            if sent:
                await session.execute(
                    update(self.table)
                    .where(self.table.c.id.in_(sent))
                    .values(published_at=datetime.now(UTC), claim_token=None, claimed_until=None)
                )
            if failed:
                # Release at once so the next attempt (here or on a replica) need not wait out the lease.
                await session.execute(
                    update(self.table)
                    .where(self.table.c.id.in_(failed))
                    .values(claim_token=None, claimed_until=None)
                )
        self.published += len(sent)
        if failed:
            first = next(r for r in results if r is not None)
            raise first if isinstance(first, Exception) else RuntimeError(str(first))
        return len(sent)

    async def _claim(self) -> list[Any]:
        """One statement claims the due rows (token + lease) and returns what publishing needs, oldest
        first (a SELECT, an UPDATE and a SELECT again before: two statements a relay round saved)."""
        t = self.table
        now = datetime.now(UTC)
        due = t.alias("due")  # not correlated with the UPDATE's own table
        due_ids = (
            select(due.c.id)
            .where(due.c.published_at.is_(None))
            .where((due.c.claimed_until.is_(None)) | (due.c.claimed_until < now))
            .order_by(due.c.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(t)
            .where(t.c.id.in_(due_ids))
            .values(claim_token=str(uuid.uuid4()), claimed_until=now + self.lease, attempts=t.c.attempts + 1)
            .returning(t.c.id, t.c.event_id, t.c.type, t.c.subject, t.c.body, t.c.traceparent, t.c.tracestate)
        )
        async with self.db.transaction() as session:
            rows = list(await session.execute(claim))
        return sorted(rows, key=lambda row: row.id)

    async def _publish(self, row: Any) -> None:
        ctx = context_from(row.traceparent, row.tracestate)
        with tracer("hub.outbox").start_as_current_span(
            f"{row.type} publish",
            context=ctx,
            kind=SpanKind.PRODUCER,
            attributes={"hub.case_no": row.subject or "", "messaging.message.id": row.event_id},
        ):
            await self.publisher.publish(row.body.encode("utf-8"), row.type, message_id=row.event_id)


async def pending_count(db: Database, table: Table) -> tuple[int, datetime | None]:
    """Rows not yet relayed and the oldest one's age: the outbox lag ops watch."""
    async with db.sessions() as session:
        result = await session.execute(
            select(func.count(), func.min(table.c.created_at)).where(table.c.published_at.is_(None))
        )
        count, oldest = result.one()
        return int(count), oldest


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
