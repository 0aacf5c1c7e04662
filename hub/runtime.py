"""A service's moving parts in one object: database, broker, outbox relay, consumers, background loops.

Built by each service's `bootstrap(settings)`; nothing is created at import time. Tests build the
same runtime, so what they exercise is what production runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
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
from hub.messaging.retention import run_retention
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
        self._batched: set[str] = set()  # consumer queues whose deliveries may share a transaction
        self._consumer_specs: list[tuple[QueueSpec, Handlers]] = []
        self._loops: list[tuple[str, Loop]] = [("retention", self._retention)]
        # Extra metrics a service computes at each scrape (its own gauges over its own tables).
        self.metric_sources: list[Callable[[], Awaitable[None]]] = []
        # Extra broker set-up (queues of its own a service consumes), done before it reports ready.
        self.broker_hooks: list[Callable[[AbstractRobustConnection], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.stop_event = asyncio.Event()
        self.broker_ready = asyncio.Event()
        self.broker_problem: str | None = None  # why the broker is not usable, for /readyz
        self._setup_failing_since: float | None = None
        # More readiness checks a process adds (name → "ok" or why not), e.g. the gateway's upstreams.
        self.readiness_checks: list[Callable[[], Awaitable[tuple[str, str]]]] = []

    def consume(self, queue: str, handlers: Handlers, *, in_order: bool = False, batch: bool = False) -> None:
        """Register a consumer queue bound to the event types it handles; `in_order` handles one message
        at a time (otherwise up to `prefetch` run concurrently and may commit out of order). `batch`:
        deliveries ready together share one transaction (up to HUB_CONSUMER_BATCH); only for handlers
        that lock nothing beyond their own event's rows (no audit chain, no advisory lock), or a batch
        would hold one event's locks while taking the next one's, and could deadlock a request."""
        self._consumer_specs.append((QueueSpec(queue, tuple(handlers), in_order), handlers))
        if batch and not in_order:
            self._batched.add(queue)

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
        """The HTTP side serves (and the outbox fills) while the broker is away; we connect when it is back.

        Setting up on the connection (publisher, consumer queues, hooks) is retried as well: one error
        there (a queue declared elsewhere with other arguments) must not leave a process that answers
        `/healthz` and silently does nothing. Failing past HUB_BROKER_SETUP_GRACE_S, liveness fails."""
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                await self._set_up_broker()
                break
            except Exception as exc:
                if self.connection is not None:  # the broker answered; what we declare on it failed
                    self.metrics.broker_setup_failures.inc()
                    self._setup_failing_since = self._setup_failing_since or time.monotonic()
                    self.broker_problem = f"set-up failing ({type(exc).__name__}: {str(exc)[:200]})"
                    log.error("%s: broker set-up failed (%s); retrying", self.service, self.broker_problem)
                    await self._drop_broker()
                else:
                    self.broker_problem = f"unreachable ({type(exc).__name__})"
                    log.warning("%s: broker not reachable (%s); retrying", self.service, type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), timeout=delay)
                delay = min(delay * 2, 10)
        if self.relay is None or not self.broker_ready.is_set():
            return
        self.broker_problem = None
        self._setup_failing_since = None
        await self._guard("outbox-relay", self.relay.run)

    async def _set_up_broker(self) -> None:
        self.connection = await connect(self.settings)
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
                batch_size=self.settings.consumer_batch if spec.name in self._batched else 1,
                batch_window_s=self.settings.consumer_batch_window_ms / 1000,
                committed=lambda name, size: self.metrics.consumer_transactions.labels(name).observe(size),
            )
            await consumer.start()
            self.consumers.append(consumer)
        for hook in self.broker_hooks:
            await hook(self.connection)
        self.broker_ready.set()

    async def _drop_broker(self) -> None:
        """Forget a half set-up connection so the next try starts clean."""
        connection, self.connection = self.connection, None
        self.publisher, self.relay, self.consumers = None, None, []
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    def broker_state(self) -> str:
        """ "ok" only while the connection is actually usable (connected, its transport open) and set up;
        otherwise what is going on. Never a readiness failure: the outbox holds events meanwhile."""
        connection = self.connection
        usable = (
            connection is not None
            and not connection.is_closed
            and connection.connected.is_set()
            and connection.transport is not None
            and not connection.transport.connection.is_closed
        )
        if usable and self.broker_ready.is_set():
            return "ok"
        if self.broker_problem:
            return self.broker_problem
        if usable:
            return "setting up"
        return "reconnecting" if connection is not None else "connecting"

    def liveness(self) -> str | None:
        """Why this process should be restarted, or None: set-up on the broker failing for too long."""
        since = self._setup_failing_since
        if since is not None and time.monotonic() - since > self.settings.broker_setup_grace_s:
            return f"broker {self.broker_problem or 'set-up failing'} for {time.monotonic() - since:.0f}s"
        return None

    async def _retention(self, stop: asyncio.Event) -> None:
        settings = self.settings
        await run_retention(
            self.db,
            self.kit,
            stop,
            outbox_days=settings.outbox_retention_days,
            inbox_days=settings.inbox_retention_days,
            interval_s=settings.retention_interval_s,
        )

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
        checks["broker"] = self.broker_state()
        self.metrics.broker_connected.set(1 if checks["broker"] == "ok" else 0)
        for check in self.readiness_checks:
            name, state = await check()
            checks[name] = state
        return checks

    async def refresh_metrics(self) -> None:
        self.metrics.broker_connected.set(1 if self.broker_state() == "ok" else 0)
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
