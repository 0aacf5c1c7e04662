"""Broker topology, declared idempotently by whoever starts first.

hub.events (topic)  ──key=event type──►  <consumer queue> (quorum, delivery limit, DLX)
hub.dlx (direct)    ──key=queue name──►  <consumer queue>.dlq
<consumer queue>.retry (direct)  ──key=wait queue──►  <consumer queue>.delay.<ms> (TTL; quorum,
                                                       dead-lettering at least once)
                                 ──key=queue name──►  <consumer queue>  (where a wait queue's
                                                       messages dead-letter when their time is up)
One wait queue per delay: per-message TTLs in one queue would block behind each other. Retries go
through the queue's own exchange, never the default one: a broker user allowed to write to the
default exchange could put a message into any queue by name, and declaring a queue that dead-letters
to an exchange takes that right (`hub setup rabbitmq-users`, decision 0014). Wait queues of earlier
versions (`<consumer queue>.retry.<ms>` through the default exchange, then the classic
`<consumer queue>.wait.<ms>` that dead-lettered at most once) drain by themselves within their delay;
delete them afterwards (deploy/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from hub.config import Settings

DLX = "hub.dlx"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    bindings: tuple[str, ...]
    # One message at a time, in the order the broker delivers them (prefetch 1): for a consumer whose
    # effects depend on the order of events (the adapters' ledger: a reply before the closure it led to).
    in_order: bool = False

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def wait_queue(self, delay_ms: int) -> str:
        return f"{self.name}.delay.{delay_ms}"

    @property
    def retry_exchange(self) -> str:
        return f"{self.name}.retry"


async def declare_exchanges(channel: AbstractChannel, settings: Settings) -> AbstractExchange:
    exchange = await channel.declare_exchange(settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.declare_exchange(DLX, aio_pika.ExchangeType.DIRECT, durable=True)
    return exchange


def work_queue_arguments(spec: QueueSpec, settings: Settings) -> dict[str, Any]:
    args: dict[str, Any] = {"x-dead-letter-exchange": DLX, "x-dead-letter-routing-key": spec.name}
    if settings.quorum_queues:
        # at-least-once dead-lettering only holds with reject-publish overflow (TARGETS.md).
        args |= {
            "x-queue-type": "quorum",
            "x-delivery-limit": settings.delivery_limit,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return args


def wait_queue_arguments(spec: QueueSpec, delay_ms: int, settings: Settings) -> dict[str, Any]:
    """A wait queue's messages go back to the work queue when their time is up. Classic queues dead-letter
    at most once (a message expiring while the broker fails over is gone); quorum queues with
    at-least-once dead-lettering keep it until the work queue has it."""
    args: dict[str, Any] = {
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": spec.retry_exchange,
        "x-dead-letter-routing-key": spec.name,
    }
    if settings.quorum_queues:
        args |= {
            "x-queue-type": "quorum",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return args


async def declare_consumer_queue(
    channel: AbstractChannel, spec: QueueSpec, settings: Settings
) -> AbstractQueue:
    exchange = await declare_exchanges(channel, settings)
    queue = await channel.declare_queue(
        spec.name, durable=True, arguments=work_queue_arguments(spec, settings)
    )
    for key in spec.bindings:
        await queue.bind(exchange, routing_key=key)
    dlq_args: dict[str, Any] = {"x-queue-type": "quorum"} if settings.quorum_queues else {}
    dlq = await channel.declare_queue(spec.dlq, durable=True, arguments=dlq_args)
    await dlq.bind(DLX, routing_key=spec.name)
    retry = await channel.declare_exchange(spec.retry_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    await queue.bind(retry, routing_key=spec.name)
    for delay in settings.retry_delays_ms:
        wait = await channel.declare_queue(
            spec.wait_queue(delay), durable=True, arguments=wait_queue_arguments(spec, delay, settings)
        )
        await wait.bind(retry, routing_key=spec.wait_queue(delay))
    return queue
