"""A service's moving parts in one object: database, broker, outbox relay, consumers, background loops.

Built by each service's `bootstrap(settings)`; nothing is created at import time. Tests build the
same runtime, so what they exercise is what production runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic

from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import MetaData
from typing_extensions import TypeVar

from hub import failpoints
from hub.config import ServiceName, Settings
from hub.crypto import field_cipher
from hub.db import Database, create_engine_for, wait_for_database
from hub.messaging.consumer import EventConsumer
from hub.messaging.dead_letters import DeadLetterDesk
from hub.messaging.handlers import Handlers
from hub.messaging.outbox import Outbox, OutboxRelay, pending_count
from hub.messaging.publisher import Publisher, connect
from hub.messaging.tables import KitTables
from hub.messaging.topology import QueueSpec
from hub.metrics import KitMetrics

log = logging.getLogger("hub.runtime")

Loop = Callable[[asyncio.Event], Awaitable[None]]

# The service's own settings class (gateway/settings.py, services/<name>/settings.py: subclasses of the
# shared Settings); a bare `ServiceRuntime` is one over the shared settings only.
SettingsT = TypeVar("SettingsT", bound=Settings, default=Settings, covariant=True)


class ServiceRuntime(Generic[SettingsT]):
    def __init__(self, service: ServiceName, settings: SettingsT, metadata: MetaData, kit: KitTables) -> None:
        self.service = service
        self.settings = settings
        self.metadata = metadata
        self.kit = kit
        self.db = Database(create_engine_for(settings, service))
        self.outbox = Outbox(kit.outbox, source=f"hub/{service}")
        self.metrics = KitMetrics(service)
        self.cipher = field_cipher(settings)
        self.connection: AbstractRobustConnection | None = None
        self.publisher: Publisher | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self._consumer_specs: list[tuple[QueueSpec, Handlers]] = []
        self._loops: list[tuple[str, Loop]] = []
        # Extra metrics a service computes at each scrape (its own gauges over its own tables).
        self.metric_sources: list[Callable[[], Awaitable[None]]] = []
        # Extra broker set-up (queues of its own a service consumes), done before it reports ready.
        self.broker_hooks: list[Callable[[AbstractRobustConnection], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.stop_event = asyncio.Event()
        self.broker_ready = asyncio.Event()

    def consume(self, queue: str, handlers: Handlers, *, in_order: bool = False) -> None:
        """Register a consumer queue bound to the event types it handles; `in_order` handles one message
        at a time (otherwise up to `prefetch` run concurrently and may commit out of order)."""
        self._consumer_specs.append((QueueSpec(queue, tuple(handlers), in_order), handlers))

    @functools.cached_property
    def dead_letters(self) -> DeadLetterDesk:
        """This service's dead letters (its consumers' `.dlq` queues, drained into its own table)."""
        return DeadLetterDesk(
            self.service,
            self.db,
            self.kit.dead_letter_store,
            [spec for spec, _handlers in self._consumer_specs],
            connection=lambda: self.connection,
            publish_channel=lambda: self.publisher.channel if self.publisher is not None else None,
        )

    def background(self, name: str, loop: Loop) -> None:
        self._loops.append((name, loop))

    async def start(self) -> None:
        failpoints.configure(self.settings.failpoints, self.settings.data_dir / "failpoints" / self.service)
        await wait_for_database(self.db)
        self._tasks.append(asyncio.create_task(self._connect_broker(), name=f"{self.service}-broker"))
        for name, loop in self._loops:
            self._tasks.append(asyncio.create_task(self._guard(name, loop), name=f"{self.service}-{name}"))

    async def _connect_broker(self) -> None:
        """The HTTP side serves (and the outbox fills) while the broker is away; we connect when it is back."""
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                self.connection = await connect(self.settings)
                break
            except Exception as exc:
                log.warning("%s: broker not reachable (%s); retrying", self.service, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
        if self.connection is None:
            return
        self.publisher = Publisher(self.connection, self.settings)
        await self.publisher.start()
        self.relay = OutboxRelay(
            self.db,
            self.kit.outbox,
            self.publisher,
            service=self.service,
            batch=self.settings.relay_batch,
            lease_s=self.settings.lease_s,
            idle_poll_s=self.settings.relay_idle_poll_s,
        )
        self.db.on_commit("outbox", self.relay.wake)
        for spec, handlers in self._consumer_specs:
            consumer = EventConsumer(
                spec=spec,
                handlers=handlers,
                db=self.db,
                inbox_table=self.kit.inbox,
                outbox=self.outbox,
                publisher=self.publisher,
                settings=self.settings,
                service=self.service,
                consumed=lambda name, outcome: self.metrics.events_consumed.labels(name, outcome).inc(),
            )
            await consumer.start()
            self.consumers.append(consumer)
        for hook in self.broker_hooks:
            await hook(self.connection)
        self.broker_ready.set()
        await self._guard("outbox-relay", self.relay.run)

    async def _guard(self, name: str, loop: Loop) -> None:
        """Background loops restart after an unexpected error instead of dying silently."""
        while not self.stop_event.is_set():
            try:
                await loop(self.stop_event)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("%s: background %s failed (%s); restarting", self.service, name, type(exc).__name__)
                await asyncio.sleep(1)

    async def stop(self) -> None:
        self.stop_event.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
        await self.db.dispose()

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await self.db.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        broker_ok = (
            self.broker_ready.is_set() and self.connection is not None and not self.connection.is_closed
        )
        checks["broker"] = "ok" if broker_ok else "unreachable"
        return checks

    async def refresh_metrics(self) -> None:
        count, oldest = await pending_count(self.db, self.kit.outbox)
        self.metrics.outbox_pending.set(count)
        if oldest is not None:  # aware: min() reads through the column's UtcDateTime
            self.metrics.outbox_lag_seconds.set((datetime.now(UTC) - oldest).total_seconds())
        else:
            self.metrics.outbox_lag_seconds.set(0)
        await self._refresh_dead_letter_depth()
        for source in self.metric_sources:
            await source()

    async def _refresh_dead_letter_depth(self) -> None:
        """Dead letters waiting for ops, per consumer queue: still in its `.dlq` (a passive declare:
        nothing is consumed) plus drained into the store and not resolved yet."""
        if self.connection is None or self.connection.is_closed:
            return
        try:
            stored = await self.dead_letters.open_counts()
        except Exception:
            stored = {}
        try:
            channel = await self.connection.channel()
        except Exception:
            return
        try:
            for spec, _handlers in self._consumer_specs:
                try:
                    queue = await channel.declare_queue(spec.dlq, passive=True)
                except Exception:
                    channel = await self.connection.channel()  # a failed passive declare closes it
                    continue
                self.metrics.dead_letter_depth.labels(spec.dlq).set(
                    (queue.declaration_result.message_count or 0) + stored.get(spec.name, 0)
                )
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
