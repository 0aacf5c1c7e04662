"""Is the hub at rest? No message waiting in or held unacknowledged from any work queue, no outbox row or
SMS delivery pending, on three looks in a row.

Counting duplicates, or comparing rows before and after, only means something once nothing is in flight.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from urllib.parse import unquote, urlsplit

import aio_pika
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.ops.dead_letters import WATCHED_QUEUES
from hub.config import SERVICES, Settings
from hub.db import normalise_url
from tests.kit.waiting import eventually

# Every queue a service consumes its work from: the ones whose dead letters the gateway records.
WORK_QUEUES = WATCHED_QUEUES


def _listed_by_rabbitmqctl(amqp_url: str) -> dict[str, int]:
    """Ready plus unacknowledged messages, read live from the queues (the management API's counts are
    sampled every few seconds). A message a consumer holds unacknowledged is work in flight."""
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    counts = dict(line.rsplit(None, 1) for line in listed.splitlines() if line.strip())
    return {name: int(counts.get(name, 0)) for name in WORK_QUEUES}


async def queue_depths(amqp_url: str) -> dict[str, int]:
    if shutil.which("rabbitmqctl"):
        return await asyncio.to_thread(_listed_by_rabbitmqctl, amqp_url)
    # Without rabbitmqctl (a remote broker): ready messages only, over AMQP.
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
    # Three looks in a row: one look reads the queues, then the tables, so a message can move from one to
    # the other between its two halves (each rabbitmqctl look takes a few hundred ms).
    for _ in range(3):
        await eventually(lambda: _at_rest(settings), what="hub at rest", timeout=timeout, interval=0.2)
