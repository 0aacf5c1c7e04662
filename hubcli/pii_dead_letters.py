"""`hub pii rotate` over the dead-letter queues: the copies of events no table holds.

A dead-lettered message stays in RabbitMQ's `<queue>.dlq` (gateway's `dead_letters` table records only
ids and reasons). Each message whose event carries an encrypted field is taken, rewritten like an
outbox row (`Rotation.event_data`: bound to `event_aad(type, subject, path)`, hashes beside it), and
published back to the same queue (default exchange, publisher confirms) before the original is acked:
a crash in between leaves a duplicate, never a loss (replays go through the inbox: at most once).
Messages with nothing to change are returned to the queue untouched at the end.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aiormq.exceptions import ChannelNotFoundEntity

from hub.config import Settings
from hub.messaging.publisher import connect
from hubcli.pii_rotation import Rotation, TableRotation

TABLE = "dead-letter queues"


async def rotate_dead_letters(
    rotation: Rotation, settings: Settings, queues: tuple[str, ...]
) -> TableRotation:
    stats = TableRotation(TABLE, [f"{q}.dlq" for q in queues])
    connection = await connect(settings)
    try:
        for name in stats.columns:
            await _rotate_queue(rotation, connection, name, stats)
    finally:
        await connection.close()
    return stats


async def _rotate_queue(rotation: Rotation, connection: Any, name: str, stats: TableRotation) -> None:
    channel = await connection.channel(publisher_confirms=True)
    try:
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            return  # never declared: no consumer of that queue has run here
        count = queue.declaration_result.message_count or 0
        untouched: list[AbstractIncomingMessage] = []
        for done in range(count):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            body = _rewritten(rotation, message.body, stats)
            if body is None or rotation.dry_run:
                untouched.append(message)  # held unacked, so the next get is the next message
            else:
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        body,
                        headers=dict(message.headers or {}),
                        content_type=message.content_type,
                        message_id=message.message_id,
                        correlation_id=message.correlation_id,
                        timestamp=message.timestamp,
                        type=message.type,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=name,
                )
                await message.ack()
            rotation.progress(name, done + 1, count)
        for message in untouched:
            await message.nack(requeue=True)
    finally:
        with contextlib.suppress(Exception):  # already closed by a refused passive declare
            await channel.close()


def _rewritten(rotation: Rotation, raw: bytes, stats: TableRotation) -> bytes | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    before = (stats.values, stats.hashes)
    rotation.event_data(str(body.get("type") or ""), body.get("subject"), data, "", stats)
    if (stats.values, stats.hashes) == before:
        return None
    stats.rows += 1
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
