"""The baseline: a raw 3-hop aio-pika pipeline with OpenTelemetry instrumentation (TARGETS.md).

Each hop parses the message, republishes it persistent with a publisher confirm, then acks:
the least any hub hop does, without a database. The hub's figure is reported as a ratio to this.
"""

from __future__ import annotations

import asyncio
import json
import time

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

HOPS = 3


async def run_pipeline(amqp_url: str, messages: int, *, prefetch: int = 64) -> float:
    """Messages per second through all hops (first publish to last arrival)."""
    connection = await aio_pika.connect(amqp_url)
    done = asyncio.Event()
    arrived = 0
    try:
        setup = await connection.channel()
        names = [f"bench.hop{i}" for i in range(HOPS + 1)]
        for name in names:
            await setup.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})

        async def hop(source: str, target: str) -> None:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.set_qos(prefetch_count=prefetch)
            queue = await channel.get_queue(source)

            async def handle(message: AbstractIncomingMessage) -> None:
                body = json.loads(message.body)
                body["hops"] = body.get("hops", 0) + 1
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        json.dumps(body).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                    ),
                    routing_key=target,
                )
                await message.ack()

            await queue.consume(handle)

        for i in range(HOPS):
            await hop(names[i], names[i + 1])
        sink = await connection.channel()
        await sink.set_qos(prefetch_count=prefetch)

        async def count(message: AbstractIncomingMessage) -> None:
            nonlocal arrived
            await message.ack()
            arrived += 1
            if arrived >= messages:
                done.set()

        await (await sink.get_queue(names[-1])).consume(count)
        producer = await connection.channel(publisher_confirms=True)
        payload = json.dumps({"case_no": "ZZ-20261122-000001", "pad": "x" * 900}).encode()
        started = time.perf_counter()
        batch = 200
        for offset in range(0, messages, batch):
            await asyncio.gather(
                *(
                    producer.default_exchange.publish(
                        aio_pika.Message(payload, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=names[0],
                    )
                    for _ in range(min(batch, messages - offset))
                )
            )
        await asyncio.wait_for(done.wait(), timeout=600)
        return messages / (time.perf_counter() - started)
    finally:
        await connection.close()
