"""Is the hub at rest? No message waiting in any work queue, no outbox row or SMS delivery pending.

Counting duplicates only means something once nothing is left in flight.
"""

from __future__ import annotations

import aio_pika
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub.config import SERVICES, Settings
from hub.db import normalise_url
from tests.kit.waiting import eventually

WORK_QUEUES = ("referral.case-events", "notification.events", "gateway.timeline")


async def queue_depths(amqp_url: str) -> dict[str, int]:
    connection = await aio_pika.connect(amqp_url)
    try:
        depths = {}
        for name in WORK_QUEUES:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
                depths[name] = queue.declaration_result.message_count or 0
            except aio_pika.exceptions.ChannelClosed:
                depths[name] = 0
        return depths
    finally:
        await connection.close()


async def pending_rows(settings: Settings) -> dict[str, int]:
    pending: dict[str, int] = {}
    for service in SERVICES:
        url = normalise_url(settings.database_url_for(service))
        kwargs = (
            {"connect_args": {"server_settings": {"search_path": service}}}
            if url.startswith("postgresql")
            else {}
        )
        engine = create_async_engine(url, **kwargs)
        try:
            async with engine.connect() as conn:
                n = (
                    await conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
                ).scalar_one()
                if service == "notification":
                    n += (
                        await conn.execute(
                            text("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')")
                        )
                    ).scalar_one()
                pending[service] = int(n)
        finally:
            await engine.dispose()
    return pending


async def _at_rest(settings: Settings) -> bool:
    depths = await queue_depths(settings.amqp_url)
    rows = await pending_rows(settings)
    return not any(depths.values()) and not any(rows.values())


async def wait_quiescent(settings: Settings, timeout: float = 60) -> None:
    # Twice in a row: a message can be between a queue and a table at the first look.
    for _ in range(2):
        await eventually(lambda: _at_rest(settings), what="hub at rest", timeout=timeout, interval=0.2)
