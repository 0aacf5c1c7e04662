"""Consuming events: parse → trace → inbox + handler + outbox in one transaction → ack.

With `batch_size` > 1, deliveries that are ready together share that transaction (one inbox statement,
each handler's effects and outbox rows, one commit), each still acked, traced and counted on its own;
a batch that fails is handled again one message at a time, as without batching (batching.py).

Failures are sorted, never dropped: malformed or rejected events go to the dead-letter queue with
the reason; transient failures wait in a TTL queue and come back, and after the last delay they are
dead-lettered too. A consumer never stops consuming because of one message. An unreachable database
is not the message's failure: the consumer holds its messages and pauses until the database answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from hub.config import Settings
from hub.db import Database, is_connection_error
from hub.failpoints import failpoint
from hub.messaging import inbox
from hub.messaging.batching import ALONE, Batcher
from hub.messaging.envelope import Event, MalformedEvent, parse_event
from hub.messaging.outbox import Outbox
from hub.messaging.publisher import Publisher
from hub.messaging.topology import DLX, QueueSpec, declare_consumer_queue
from hub.tracing import context_from, tracer

log = logging.getLogger("hub.consumer")

RETRY_HEADER = "x-hub-retries"
REASON_HEADER = "x-hub-death-reason"


class Reject(Exception):
    """The event can never be handled (bad content): dead-letter it with this reason."""


class RetryLater(Exception):
    """The event cannot be handled yet (e.g. an earlier event not seen): retry after a delay."""


@dataclass
class HandlerContext:
    session: AsyncSession
    event: Event
    outbox: Outbox

    async def emit(self, type_: str, subject: str | None, data: dict[str, Any]) -> Event:
        return await self.outbox.emit(self.session, type_, subject, data)


Handler = Callable[[HandlerContext], Awaitable[None]]


class EventConsumer:
    def __init__(
        self,
        *,
        spec: QueueSpec,
        handlers: Mapping[str, Handler],
        db: Database,
        inbox_table: Table,
        outbox: Outbox,
        publisher: Publisher,
        settings: Settings,
        service: str,
        consumed: Callable[[str, str], None] | None = None,
        batch_size: int = 1,
        batch_window_s: float = 0.0,
        committed: Callable[[str, int], None] | None = None,
    ) -> None:
        self.spec = spec
        # Told (consumer name, outcome) for every message: processed, duplicate, retried, dead_lettered.
        self._consumed = consumed or (lambda _consumer, _outcome: None)
        self.handlers = handlers
        self.db = db
        self.inbox_table = inbox_table
        self.outbox = outbox
        self.publisher = publisher
        self.settings = settings
        self.service = service
        self.queue: AbstractQueue | None = None
        self.processed = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.retried = 0
        # Up to `batch_size` deliveries ready together share one transaction (1: one each, as ever).
        self.batcher = (
            Batcher(
                db,
                size=batch_size,
                window_s=batch_window_s,
                claim_many=lambda session, events: inbox.claim_many(session, inbox_table, spec.name, events),
                handle_one=self._handle_in,
                before_commit=lambda: failpoint(f"{service}.consumer.after_effect_before_commit"),
                committed=(lambda size: committed(spec.name, size)) if committed else None,
            )
            if batch_size > 1 and not spec.in_order
            else None
        )

    async def start(self) -> None:
        channel = await self.publisher.connection.channel()
        await channel.set_qos(prefetch_count=1 if self.spec.in_order else self.settings.prefetch)
        self.queue = await declare_consumer_queue(channel, self.spec, self.settings)
        # queue.consume(callback) (not iterator) so the aio-pika instrumentation wraps our handler.
        await self.queue.consume(self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = parse_event(message.body)
        except MalformedEvent as exc:
            await self._dead_letter(message, str(exc))
            return
        handler = self.handlers.get(event.type) or self.handlers.get("#")
        if handler is None:
            await self._dead_letter(message, f"no handler for event type {event.type!r} in {self.spec.name}")
            return
        span_ctx = trace.get_current_span().get_span_context()
        parent = None if span_ctx.is_valid else _parent_context(message, event)
        with tracer("hub.consumer").start_as_current_span(
            f"{self.spec.name} handle {event.type}",
            context=parent,
            kind=SpanKind.CONSUMER if parent is not None else SpanKind.INTERNAL,
            attributes={
                "hub.case_no": event.subject or "",
                "hub.event_type": event.type,
                "hub.service": self.service,
            },
        ) as span:
            while True:
                try:
                    handled = await self._attempt(event, handler)
                    break
                except (Reject, ValidationError) as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await self._dead_letter(message, _reason(exc))
                    return
                except Exception as exc:
                    if await self._held_while_database_away(message, exc):
                        continue  # the database answers again: the same message, no attempt counted
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await self._retry(message, _reason(exc))
                    return
            failpoint(f"{self.service}.consumer.after_commit_before_ack")
            await message.ack()
            if handled:
                self.processed += 1
            else:
                self.duplicates += 1
            self._consumed(self.spec.name, "processed" if handled else "duplicate")

    async def _attempt(self, event: Event, handler: Handler) -> bool:
        """True if handled now; False if this consumer had already handled the event (a redelivery)."""
        if self.batcher is None:
            return await self._handle(event, handler)
        outcome = await self.batcher.handle(event, _runner(handler, self.outbox))
        if outcome is ALONE:  # its batch failed (maybe not because of it): on its own, as without batching
            return await self._handle(event, handler)
        return outcome

    async def _handle(self, event: Event, handler: Handler) -> bool:
        async with self.db.transaction() as session:
            return await self._handle_in(session, event, _runner(handler, self.outbox))

    async def _handle_in(
        self, session: AsyncSession, event: Event, run: Callable[[AsyncSession, Event], Awaitable[None]]
    ) -> bool:
        if not await inbox.claim(session, self.inbox_table, self.spec.name, event.id, event.type):
            return False
        await run(session, event)
        failpoint(f"{self.service}.consumer.after_effect_before_commit")
        return True

    async def _held_while_database_away(self, message: AbstractIncomingMessage, exc: Exception) -> bool:
        """An error with the database unreachable is the infrastructure's, not the event's: it is no
        attempt. The message is held, unacknowledged (no retry, no redelivery counted by the broker), until
        the database answers; with every prefetched message held alike, the broker sends no more, so the
        consumer pauses instead of retrying its backlog into the dead-letter queue. An error of the
        connection itself (refused, cut, no pooled connection free in time under load) is the
        infrastructure's too, even when the database answers by the time it is asked: the same message is
        tried again after a short back-off, no attempt counted. False: the error was the handler's."""
        if await self._database_answers():
            if not is_connection_error(exc):
                return False
            log.warning(
                "%s: %s on the database connection; trying %s again",
                self.spec.name,
                type(exc).__name__,
                message.message_id,
            )
            self._consumed(self.spec.name, "held")
            await asyncio.sleep(0.5)  # a back-off before the same message again, not a synchronisation
            return True
        log.warning(
            "%s: database unreachable; holding %s until it answers", self.spec.name, message.message_id
        )
        self._consumed(self.spec.name, "held")
        delay = 0.5
        while not await self._database_answers():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        return True

    async def _database_answers(self) -> bool:
        return await self.db.answers(timeout=5)

    async def _retry(self, message: AbstractIncomingMessage, reason: str) -> None:
        delays = self.settings.retry_delays_ms
        raw = (message.headers or {}).get(RETRY_HEADER, 0)
        attempt = raw if isinstance(raw, int) else 0
        if attempt >= len(delays):
            await self._dead_letter(message, f"gave up after {attempt} retries: {reason}")
            return
        log.warning("%s: retry %d of %s: %s", self.spec.name, attempt + 1, message.message_id, reason)
        await self._republish(
            message,
            self.spec.retry_exchange,
            self.spec.wait_queue(delays[attempt]),
            {RETRY_HEADER: attempt + 1},
        )
        await message.ack()
        self.retried += 1
        self._consumed(self.spec.name, "retried")

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        log.error("%s: dead-lettered %s: %s", self.spec.name, message.message_id, reason)
        await self._republish(
            message,
            DLX,
            self.spec.name,
            {
                REASON_HEADER: reason[:500],
                "x-hub-dead-at": datetime.now(UTC).isoformat(),
                "x-hub-routing-key": message.routing_key or "",
            },
        )
        await message.ack()
        self.dead_lettered += 1
        self._consumed(self.spec.name, "dead_lettered")

    async def _republish(
        self, message: AbstractIncomingMessage, exchange_name: str, routing_key: str, extra: dict[str, Any]
    ) -> None:
        channel = self.publisher.channel
        exchange = await channel.get_exchange(exchange_name)
        copy = aio_pika.Message(
            message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
            headers={**(message.headers or {}), **extra},
        )
        await exchange.publish(copy, routing_key=routing_key, mandatory=True, timeout=30)


def _runner(handler: Handler, outbox: Outbox) -> Callable[[AsyncSession, Event], Awaitable[None]]:
    async def run(session: AsyncSession, event: Event) -> None:
        await handler(HandlerContext(session, event, outbox))

    return run


def _parent_context(message: AbstractIncomingMessage, event: Event) -> Any:
    headers = {k: v for k, v in (message.headers or {}).items() if isinstance(v, str)}
    if "traceparent" in headers:
        return propagate.extract(headers)
    return context_from(event.traceparent, event.tracestate)


def _reason(exc: BaseException) -> str:
    # Only the exception type and our own message: payload values (personal data) stay out of logs.
    if isinstance(exc, ValidationError):
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return f"invalid event data: {fields}"
    if isinstance(exc, (Reject, RetryLater)):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__
