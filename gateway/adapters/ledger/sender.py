"""The sender loop: claims the head update of each case and system (in order, with a lease) and
pushes it through the system's client, with back-off; `failed` after the policy's last attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import SpanKind
from sqlalchemy import and_, or_, select, update

from gateway.adapters.common import REQUESTS, Delivery, Outcome, SystemClient
from gateway.adapters.ledger.recording import FINAL, TOPIC
from gateway.adapters.security import purge_nonces
from gateway.tables import adapter_deliveries, adapter_links
from hub.contracts.gateway import ExternalDeliveryFailedV1, ExternalUpdateDeliveredV1
from hub.db import Database
from hub.runtime import ServiceRuntime
from hub.tracing import context_from, tracer

log = logging.getLogger("hub.gateway.adapters")


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    base_s: float
    max_s: float
    batch: int
    lease: timedelta

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.base_s * 2 ** max(attempts - 1, 0), self.max_s))


class Sender:
    """Claims the head update of each case and system and pushes it; see the module docstring."""

    def __init__(self, rt: ServiceRuntime, clients: Mapping[str, SystemClient], policy: Policy) -> None:
        self.rt = rt
        self.clients = dict(clients)
        self.policy = policy
        self._wake = asyncio.Event()
        self.delivered = 0
        self._last_purge = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._maybe_purge()
            done = await self.send_due() if self.clients else 0
            if done == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.rt.settings.relay_idle_poll_s)

    async def _maybe_purge(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_purge > 60:
            self._last_purge = loop.time()
            with contextlib.suppress(Exception):
                await purge_nonces(self.rt.db)

    async def send_due(self) -> int:
        rows = await self._claim()
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _claim(self) -> list[Any]:
        now = datetime.now(UTC)
        d = adapter_deliveries
        p = adapter_deliveries.alias("earlier")
        earlier_open = (
            select(p.c.id)
            .where(p.c.case_no == d.c.case_no, p.c.system == d.c.system, p.c.id < d.c.id)
            .where(p.c.status.not_in(FINAL))
            .exists()
        )
        async with self.rt.db.transaction() as session:
            due = (
                select(d.c.id)
                .where(
                    or_(
                        and_(d.c.status == "pending", d.c.next_attempt_at <= now),
                        and_(d.c.status == "sending", d.c.claimed_until < now),
                    ),
                    d.c.system.in_(list(self.clients)),
                    ~earlier_open,
                )
                .order_by(d.c.id)
                .limit(self.policy.batch)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return []
            await session.execute(
                update(d)
                .where(d.c.id.in_(ids))
                .values(status="sending", claimed_until=now + self.policy.lease, attempts=d.c.attempts + 1)
            )
            rows = await session.execute(
                select(
                    d,
                    adapter_links.c.external_ref,
                    adapter_links.c.delivered_round,
                    adapter_links.c.delivered_rank,
                    adapter_links.c.delivered_update,
                    adapter_links.c.external_state.label("link_state"),
                    adapter_links.c.id.label("link_id"),
                )
                .select_from(
                    d.outerjoin(
                        adapter_links,
                        and_(adapter_links.c.case_no == d.c.case_no, adapter_links.c.system == d.c.system),
                    )
                )
                .where(d.c.id.in_(ids))
                .order_by(d.c.id)
            )
            return list(rows)

    async def _deliver(self, row: Any) -> None:
        with tracer("hub.gateway.adapters").start_as_current_span(
            f"{row.system} push {row.update_name}",
            context=context_from(row.traceparent),
            kind=SpanKind.CLIENT,
            attributes={"hub.case_no": row.case_no, "hub.system": row.system, "hub.update": row.update_name},
        ):
            if row.link_id is None:
                await self._finish(row, Outcome(ok=False, retryable=False, detail="no link to the system"))
                return
            behind = (row.round, row.rank) < (row.delivered_round, row.delivered_rank)
            already = row.delivered_update == "history" and (row.round, row.rank) <= (
                row.delivered_round,
                row.delivered_rank,
            )
            if (behind or already) and row.update_name not in REQUESTS:
                await self._skip(row, f"{row.system} is already at {row.delivered_update} ({row.link_state})")
                return
            if row.external_ref is None and row.update_name != "referred_to_court":
                await self._finish(row, Outcome(ok=False, retryable=False, detail="no external reference"))
                return
            delivery = Delivery(
                id=row.id,
                update_id=row.update_id,
                case_no=row.case_no,
                system=row.system,
                update=row.update_name,
                round=row.round,
                data=dict(row.data or {}),
                external_ref=row.external_ref,
            )
            try:
                outcome = await self.clients[row.system].deliver(delivery)
            except Exception as exc:  # a client bug or an unexpected answer: retried, never lost
                outcome = Outcome(ok=False, retryable=True, detail=f"client error: {type(exc).__name__}")
            await self._finish(row, outcome)

    async def _finish(self, row: Any, outcome: Outcome) -> None:
        """Record the outcome; a success must be recorded (else it would be sent again), so retry that."""
        delay = 0.2
        deadline = asyncio.get_running_loop().time() + 10 * self.policy.lease.total_seconds()
        while True:
            try:
                await self._record(row, outcome)
                return
            except Exception as exc:
                if not outcome.ok or asyncio.get_running_loop().time() > deadline:
                    raise
                log.warning(
                    "delivery %s done but not yet recorded (%s); retrying", row.id, type(exc).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _record(self, row: Any, outcome: Outcome) -> None:
        now = datetime.now(UTC)
        d = adapter_deliveries
        async with self.rt.db.transaction() as session:
            if outcome.ok:
                await session.execute(
                    update(d)
                    .where(d.c.id == row.id)
                    .values(
                        status="sent",
                        finished_at=now,
                        claimed_until=None,
                        external_state=outcome.external_state,
                        last_error="duplicate request id (already applied)" if outcome.duplicate else None,
                    )
                )
                link_values: dict[str, Any] = {
                    "delivered_round": row.round,
                    "delivered_rank": row.rank,
                    "delivered_update": row.update_name,
                    "external_state": outcome.external_state,
                    "updated_at": now,
                }
                if outcome.external_ref and row.external_ref is None:
                    link_values["external_ref"] = outcome.external_ref
                if row.update_name not in REQUESTS:
                    await session.execute(
                        update(adapter_links).where(adapter_links.c.id == row.link_id).values(**link_values)
                    )
                delivered = ExternalUpdateDeliveredV1(
                    case_no=row.case_no,
                    system=row.system,
                    update=row.update_name,
                    status=outcome.external_state,
                    attempts=row.attempts,
                )
                await self.rt.outbox.emit(
                    session, delivered.TYPE, row.case_no, delivered.model_dump(mode="json")
                )
                Database.flag(session, TOPIC)
                self.delivered += 1
                return
            final = not outcome.retryable or row.attempts >= self.policy.max_attempts
            reason = (outcome.detail or "failed")[:300]
            log.warning(
                "%s %s of %s: attempt %d failed (%s)",
                row.system,
                row.update_name,
                row.case_no,
                row.attempts,
                reason,
            )
            if not final:
                await session.execute(
                    update(d)
                    .where(d.c.id == row.id)
                    .values(
                        status="pending",
                        next_attempt_at=now + self.policy.backoff(row.attempts),
                        claimed_until=None,
                        last_error=reason,
                    )
                )
                return
            await session.execute(
                update(d)
                .where(d.c.id == row.id)
                .values(status="failed", finished_at=now, claimed_until=None, last_error=reason)
            )
            failed = ExternalDeliveryFailedV1(
                case_no=row.case_no,
                system=row.system,
                update=row.update_name,
                attempts=row.attempts,
                reason=reason,
            )
            await self.rt.outbox.emit(session, failed.TYPE, row.case_no, failed.model_dump(mode="json"))

    async def _skip(self, row: Any, reason: str) -> None:
        async with self.rt.db.transaction() as session:
            await session.execute(
                update(adapter_deliveries)
                .where(adapter_deliveries.c.id == row.id)
                .values(
                    status="skipped",
                    finished_at=datetime.now(UTC),
                    claimed_until=None,
                    last_error=reason[:300],
                )
            )
            Database.flag(session, TOPIC)
