"""Dead letters, handled (issue 16): each service keeps the events its own consumers dead-lettered in
its own database, and ops replay or resolve them there (docs/decisions/0017-dead-letters.md).

A consumer dead-letters through the dead-letter exchange into `<queue>.dlq` (consumer.py). The owning
service *drains* its `.dlq` queues into `dead_letter_store` (every list, show, replay and resolve
drains first): one message at a time, the row is committed, then the broker copy is acked. A crash
between the two leaves the message in the queue; the next drain sees the same death marker
(`x-hub-dead-at`) on a row that already has it and only acks. A later death of the same event (a replay
that failed again) has a new marker: the row is reopened, `deaths` counts it.

Replay goes through the queue's own retry exchange (`<queue>.retry`, key = queue name), which only
this service's broker user may write to (decision 0014): the event keeps its id (the inbox absorbs
a duplicate) and the retry headers are dropped, so it gets a full set of attempts. Three steps:
(1) the row becomes `replaying`, with who and why, committed; (2) publish, confirmed by the broker;
(3) the row becomes `resolved` (`replayed`). A crash after (1) or (2) leaves `replaying`: replaying
again is allowed and at worst publishes a duplicate the inbox absorbs. Nothing is lost at any point.

Nothing here shows the event's data: list and show give ids, type, case number, reason and times.
The body is stored as the event was (personal fields encrypted, as every event carries them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.failpoints import failpoint
from hub.messaging.dead_letter_rows import (
    FAILURE_HEADERS,
    REPLAY_HEADER,
    Actor,
    DeadLetterError,
    describe,
    public_id,
    stored_copy,
    utc_now,
)
from hub.messaging.topology import QueueSpec

__all__ = ["Actor", "DeadLetterDesk", "DeadLetterError"]

log = logging.getLogger("hub.dead_letters")


class DeadLetterDesk:
    """One service's dead letters: drained from its consumers' `.dlq` queues into its own table."""

    def __init__(
        self,
        service: str,
        db: Database,
        table: Table,
        specs: Sequence[QueueSpec],
        connection: Any,
        publish_channel: Any,
    ) -> None:
        self.service = service
        self.db = db
        self.table = table
        self.specs = {s.name: s for s in specs}
        self._connection = connection  # callables: the runtime's connection and publisher channel now
        self._publish_channel = publish_channel
        self._drain_lock = asyncio.Lock()

    # --- draining the broker copies into the table ----------------------------------------------

    async def drain(self) -> int:
        """Move every message of our `.dlq` queues into the table (commit, then ack). How many moved."""
        connection: AbstractRobustConnection | None = self._connection()
        if connection is None or connection.is_closed:
            return 0
        moved = 0
        async with self._drain_lock:
            for spec in self.specs.values():
                moved += await self._drain_queue(connection, spec)
        return moved

    async def _drain_queue(self, connection: AbstractRobustConnection, spec: QueueSpec) -> int:
        channel = await connection.channel()
        moved = 0
        try:
            try:
                queue = await channel.declare_queue(spec.dlq, passive=True)
            except Exception:
                return 0  # not declared yet: this consumer never ran here
            while True:
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    return moved
                await self.store(spec.name, message)
                failpoint(f"{self.service}.dead_letters.after_store_before_ack")
                await message.ack()
                moved += 1
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def store(self, queue: str, message: AbstractIncomingMessage) -> None:
        copy = stored_copy(message.body, dict(message.headers or {}), message.message_id)
        copy["content_type"] = message.content_type
        for _attempt in range(3):
            try:
                await self._store(queue, copy)
                return
            except IntegrityError:
                continue  # another replica inserted the same event at the same moment: update it

    async def _store(self, queue: str, copy: dict[str, Any]) -> None:
        t = self.table
        dead_at = copy.pop("dead_at")
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(t).where(t.c.queue == queue, t.c.event_id == copy["event_id"]).with_for_update()
                )
            ).first()
            entry = {"at": dead_at.isoformat(), "action": "dead_lettered", "reason": copy["reason"]}
            if row is None:
                await session.execute(
                    t.insert().values(
                        queue=queue,
                        **copy,
                        deaths=1,
                        first_dead_at=dead_at,
                        last_dead_at=dead_at,
                        status="open",
                        replays=0,
                        history=[entry],
                    )
                )
                log.warning("%s: dead letter stored from %s (%s)", self.service, queue, copy["event_type"])
                return
            if row.death_marker == copy["death_marker"]:
                return  # the same copy again (a crash between commit and ack): already stored
            await session.execute(
                t.update()
                .where(t.c.id == row.id)
                .values(
                    **copy,
                    deaths=row.deaths + 1,
                    last_dead_at=dead_at,
                    status="open",
                    resolution=None,
                    resolved_at=None,
                    history=[*(row.history or []), entry],
                )
            )
            log.warning(
                "%s: dead letter %s dead-lettered again", self.service, public_id(self.service, row.id)
            )

    # --- reading ----------------------------------------------------------------------------------

    async def list(
        self,
        *,
        queue: str | None = None,
        since: datetime | None = None,
        status: str | None = "open",
        limit: int = 200,
    ) -> tuple[int, list[dict[str, Any]]]:
        await self._drain_quietly()
        t = self.table
        where = []
        if queue:
            where.append(t.c.queue == queue)
        if since:
            where.append(t.c.last_dead_at >= since)
        if status == "open":
            where.append(t.c.status.in_(("open", "replaying")))
        elif status:
            where.append(t.c.status == status)
        async with self.db.sessions() as session:
            total = (await session.execute(select(func.count()).select_from(t).where(*where))).scalar_one()
            rows = (
                await session.execute(
                    select(t).where(*where).order_by(t.c.last_dead_at.desc(), t.c.id.desc()).limit(limit)
                )
            ).all()
        return int(total), [describe(r, self.service) for r in rows]

    async def get(self, row_id: int) -> dict[str, Any]:
        await self._drain_quietly()
        async with self.db.sessions() as session:
            row = (await session.execute(select(self.table).where(self.table.c.id == row_id))).first()
        if row is None:
            raise self._not_found(row_id)
        return describe(row, self.service, with_history=True)

    async def open_counts(self) -> dict[str, int]:
        """Open dead letters per queue (the depth gauge adds them to what still waits in the broker)."""
        t = self.table
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(t.c.queue, func.count()).where(t.c.status != "resolved").group_by(t.c.queue)
                )
            ).all()
        return {q: int(n) for q, n in rows}

    # --- acting -----------------------------------------------------------------------------------

    async def _open_row(self, session: AsyncSession, row_id: int) -> Row[Any]:
        """The dead letter, locked for this transaction; 404 if unknown, 409 if already resolved."""
        t = self.table
        row = (await session.execute(select(t).where(t.c.id == row_id).with_for_update())).first()
        if row is None:
            raise self._not_found(row_id)
        self._refuse_resolved(row)
        return row

    async def replay(self, row_id: int, actor: Actor, reason: str) -> dict[str, Any]:
        await self._drain_quietly()
        t = self.table
        now = utc_now()
        async with self.db.transaction() as session:
            row = await self._open_row(session, row_id)
            if row.event_type is None:
                raise DeadLetterError(
                    409,
                    "无法重放",
                    f"死信 {public_id(self.service, row_id)} 不是可读的事件，不能重放；请核实后标记为已处理",
                    "dead-letter-not-replayable",
                )
            spec = self.specs.get(row.queue)
            if spec is None:
                raise DeadLetterError(
                    409,
                    "无法重放",
                    f"队列 {row.queue} 已不由本服务消费，不能重放",
                    "dead-letter-not-replayable",
                )
            deaths = row.deaths
            entry = {"at": now.isoformat(), "action": "replay_requested", "by": actor.label, "reason": reason}
            await session.execute(
                t.update()
                .where(t.c.id == row_id)
                .values(
                    status="replaying",
                    resolved_by=actor.label,
                    resolve_reason=reason,
                    history=[*(row.history or []), entry],
                )
            )
        await self._publish(spec, row)
        failpoint(f"{self.service}.dead_letters.after_replay_publish_before_mark")
        async with self.db.transaction() as session:
            current = (await session.execute(select(t).where(t.c.id == row_id).with_for_update())).first()
            assert current is not None
            # Died again already (the replay failed at once, and a drain saw it): leave it open.
            if current.status == "replaying" and current.deaths == deaths:
                done = utc_now()
                await session.execute(
                    t.update()
                    .where(t.c.id == row_id)
                    .values(
                        status="resolved",
                        resolution="replayed",
                        resolved_at=done,
                        replays=current.replays + 1,
                        history=[
                            *(current.history or []),
                            {
                                "at": done.isoformat(),
                                "action": "replayed",
                                "by": actor.label,
                                "reason": reason,
                            },
                        ],
                    )
                )
        log.warning("%s: dead letter %s replayed", self.service, public_id(self.service, row_id))
        return await self._described(row_id)

    async def resolve(self, row_id: int, actor: Actor, reason: str) -> dict[str, Any]:
        await self._drain_quietly()
        t = self.table
        now = utc_now()
        async with self.db.transaction() as session:
            row = await self._open_row(session, row_id)
            await session.execute(
                t.update()
                .where(t.c.id == row_id)
                .values(
                    status="resolved",
                    resolution="dismissed",
                    resolved_at=now,
                    resolved_by=actor.label,
                    resolve_reason=reason,
                    history=[
                        *(row.history or []),
                        {"at": now.isoformat(), "action": "resolved", "by": actor.label, "reason": reason},
                    ],
                )
            )
        log.warning(
            "%s: dead letter %s resolved without replay", self.service, public_id(self.service, row_id)
        )
        return await self._described(row_id)

    async def _publish(self, spec: QueueSpec, row: Row[Any]) -> None:
        channel = self._publish_channel()
        if channel is None:
            raise DeadLetterError(
                503, "消息中间件不可用", "RabbitMQ 暂不可用，请稍后重放", "broker-unavailable"
            )
        exchange = await channel.get_exchange(spec.retry_exchange)
        headers = {k: v for k, v in (row.headers or {}).items() if k not in FAILURE_HEADERS}
        headers[REPLAY_HEADER] = public_id(self.service, row.id)
        message = aio_pika.Message(
            row.body.encode("utf-8"),
            content_type=row.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=row.event_id,
            type=row.event_type,
            headers=headers,
        )
        await exchange.publish(message, routing_key=spec.name, mandatory=True, timeout=30)

    async def _described(self, row_id: int) -> dict[str, Any]:
        async with self.db.sessions() as session:
            row = (await session.execute(select(self.table).where(self.table.c.id == row_id))).first()
        assert row is not None
        return describe(row, self.service, with_history=True)

    async def _drain_quietly(self) -> None:
        try:
            await self.drain()
        except Exception as exc:  # the broker away: what is stored is still shown and handled
            log.warning("%s: dead-letter queues not drained (%s)", self.service, type(exc).__name__)

    def _not_found(self, row_id: int) -> DeadLetterError:
        return DeadLetterError(
            404, "未找到", f"没有编号为 {public_id(self.service, row_id)} 的死信", "dead-letter-not-found"
        )

    def _refuse_resolved(self, row: Row[Any]) -> None:
        if row.status == "resolved":
            how = "已重放" if row.resolution == "replayed" else "已标记为处理完毕"
            raise DeadLetterError(
                409,
                "死信已处理",
                f"死信 {public_id(self.service, row.id)} {how}（{row.resolved_by}，"
                f"{row.resolved_at.isoformat() if row.resolved_at else ''}），不再重复处理",
                "dead-letter-resolved",
            )
