"""Dead-lettered events, each with its case number (issue 7): a copy of every message sent to the
dead-letter exchange lands in the gateway's own queue and is recorded in `dead_letters`.

The dead-letter exchange is direct, keyed by the consumer queue's name, so the record queue is bound
once per consumer queue of the hub (WATCHED_QUEUES; a test checks the list against the running
services). The original stays in `<queue>.dlq` for inspection and replay; nothing is consumed from it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.tables import dead_letters
from hub.messaging.consumer import REASON_HEADER
from hub.messaging.topology import DLX, declare_exchanges
from hub.runtime import ServiceRuntime
from hub.tracing import split_traceparent

log = logging.getLogger("hub.gateway.dead_letters")

RECORD_QUEUE = "gateway.dead-letter-records"
WATCHED_QUEUES = (
    "intake.case-status",
    "referral.case-events",
    "notification.events",
    "gateway.timeline",
    "gateway.adapter-sync",
)


def describe(message_body: bytes, headers: dict[str, Any], queue: str) -> dict[str, Any]:
    """What is recorded about one dead-lettered message: ids, codes and the reason, never the data."""
    try:
        body = json.loads(message_body)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = (
        headers.get(REASON_HEADER) or headers.get("x-first-death-reason") or "dead-lettered by the broker"
    )
    dead_at = headers.get("x-hub-dead-at")
    try:
        when = datetime.fromisoformat(str(dead_at)) if dead_at else None
    except ValueError:
        when = None
    subject = body.get("subject")
    return {
        "queue": queue[:100],
        "event_id": str(body["id"])[:64] if body.get("id") else None,
        "event_type": str(body["type"])[:100] if body.get("type") else None,
        "case_no": str(subject)[:32] if subject else None,
        "reason": str(reason)[:500],
        "dead_at": when,
        "trace_id": split_traceparent(
            body.get("traceparent") if isinstance(body.get("traceparent"), str) else None
        )[0],
    }


class DeadLetterRecorder:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.recorded = 0

    async def start(self, connection: AbstractRobustConnection) -> None:
        """Declared and bound before the gateway reports its broker ready: no dead letter is missed."""
        channel = await connection.channel()
        settings = self.runtime.settings
        await declare_exchanges(channel, settings)
        args: dict[str, Any] = {"x-queue-type": "quorum"} if settings.quorum_queues else {}
        queue = await channel.declare_queue(RECORD_QUEUE, durable=True, arguments=args)
        for name in WATCHED_QUEUES:
            await queue.bind(DLX, routing_key=name)
        await queue.consume(self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        row = describe(message.body, dict(message.headers or {}), message.routing_key or "")
        try:
            async with self.runtime.db.transaction() as session:
                if row["event_id"]:
                    seen = (
                        await session.execute(
                            select(
                                dead_letters.c.id, dead_letters.c.dead_at, dead_letters.c.resolved_at
                            ).where(
                                dead_letters.c.queue == row["queue"],
                                dead_letters.c.event_id == row["event_id"],
                            )
                        )
                    ).first()
                    if seen is not None:
                        if seen.resolved_at is not None and row["dead_at"] and row["dead_at"] != seen.dead_at:
                            # Dead again after a replay: a stall again (issue 16).
                            await session.execute(
                                dead_letters.update()
                                .where(dead_letters.c.id == seen.id)
                                .values(reason=row["reason"], dead_at=row["dead_at"], resolved_at=None)
                            )
                        await message.ack()
                        return
                await session.execute(dead_letters.insert().values(**row, recorded_at=datetime.now(UTC)))
        except IntegrityError:
            pass  # recorded by a concurrent delivery of the same copy
        except Exception as exc:
            log.error("dead letter not recorded (%s); will be redelivered", type(exc).__name__)
            await message.nack(requeue=True)
            return
        log.warning("dead letter recorded: %s %s from %s", row["event_type"], row["case_no"], row["queue"])
        self.recorded += 1
        await message.ack()


async def open_dead_letters(runtime: ServiceRuntime, limit: int = 500) -> list[Any]:
    t = dead_letters
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(t.c.queue, t.c.event_id, t.c.event_type, t.c.case_no, t.c.reason, t.c.dead_at)
            .add_columns(t.c.trace_id, t.c.recorded_at)
            .where(t.c.resolved_at.is_(None), t.c.case_no.is_not(None))
            .order_by(t.c.recorded_at)
            .limit(limit)
        )
        return list(rows)


def install(runtime: ServiceRuntime) -> DeadLetterRecorder:
    recorder = DeadLetterRecorder(runtime)
    runtime.broker_hooks.append(recorder.start)
    return recorder
