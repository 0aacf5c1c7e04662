"""The outbound delivery ledger: our status changes, pushed to each external system that knows the case.

A consumer of our status events (`gateway.adapter-sync`) writes one row per (case, system, update of
a round) in the same transaction as its inbox record. A sender loop claims rows and pushes them:

- **in order per case and system**: a row is claimed only when every earlier row of its case and
  system is `sent` or `skipped`; a failed one holds the rest back until it is repaired;
- **with back-off** while the system is down, and `failed` after `adapter_max_attempts` (listed for
  ops, `external.delivery_failed.v1` in the same transaction);
- **never twice**: `sending` is recorded (with a lease) before the call, our update id is the
  system's request id, and each system (and its simulator) ignores a request id it has applied; a
  crash between their answer and our record re-sends the same id;
- **never backwards**: an update ranked lower than the last one the system got (or than what it
  showed when its history was imported) is `skipped`, not sent. A request (12345's 延期申请) is not
  a state: it is never skipped as behind, and the link keeps remembering the last state.
- **merged cases**: the links of a case merged into another follow it (`follows_case_no`); the
  surviving case's updates are written for them too, under their own case number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.common import EVENT_UPDATES, RANK, REQUESTS, SYSTEMS, Delivery, Outcome, SystemClient
from gateway.adapters.inbound import upsert_link
from gateway.adapters.security import purge_nonces
from gateway.tables import adapter_cases, adapter_deliveries, adapter_links
from hub.contracts.gateway import ExternalDeliveryFailedV1, ExternalUpdateDeliveredV1
from hub.contracts.intake import CaseMergedV1
from hub.db import Database
from hub.messaging.consumer import Handler, HandlerContext, RetryLater
from hub.runtime import ServiceRuntime
from hub.tracing import context_from, current_traceparent, tracer

log = logging.getLogger("hub.gateway.adapters")

TOPIC = "adapter-deliveries"
QUEUE = "gateway.adapter-sync"
FINAL = ("sent", "skipped")
# A status event of a case whose registration this consumer has not seen yet is retried while
# young (the registration overtook it in flight); an old one belongs to a case registered before
# the adapters existed and is left alone.
UNSEEN_GRACE = timedelta(hours=1)
# Rounds of handling are numbered from 1, as referral numbers them (a reopen starts the next one).
FIRST_ROUND = 1


class StatusEvent(BaseModel):
    """Only the fields the adapters need, from any of the status events; unknown fields ignored."""

    model_config = ConfigDict(extra="ignore")

    case_no: str
    channel: str | None = None
    source_ref: str | None = None
    lead: str | None = None
    department: str | None = None
    department_name: str | None = None
    lead_department_name: str | None = None
    role: str | None = None
    outcome: str | None = None
    summary: str | None = None
    reason: str | None = None
    title: str | None = None
    category: str | None = None
    court: str | None = None
    to: str | None = None  # case.referred_to_court.v1: court | arbitration
    round: int | None = None  # referral's round of handling, where the event says it
    colour: str | None = None
    reason_code: str | None = None  # case.returned_to_channel.v1
    # referral.extension_requested.v1: which request, how much, and what it asks of the channel
    extension_id: int | None = None
    amount: int | None = None
    unit: str | None = None
    requested_external_due_at: str | None = None
    external_due_at: str | None = None


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _data(event: StatusEvent, at: datetime) -> dict[str, Any]:
    values = {
        "at": at.isoformat(),
        "department": event.lead_department_name or event.department_name or event.lead or event.department,
        "role": event.role,
        "outcome": event.outcome,
        "summary": event.summary,
        "reason": event.reason,
        "title": event.title,
        "category": event.category,
        "court": event.court,
        "colour": event.colour,
        "reason_code": event.reason_code,
        "amount": event.amount,
        "unit": event.unit,
        "requested_external_due_at": event.requested_external_due_at,
        "external_due_at": event.external_due_at,
    }
    return {k: v for k, v in values.items() if v is not None}


def _update_key(update_name: str, round_: int, event: StatusEvent, event_id: str) -> str:
    """One row per update of a round; an extension request is one per request (there may be several)."""
    if update_name == "extension_requested":
        return f"{update_name}#{event.extension_id or event_id}@{round_}"
    return f"{update_name}@{round_}"


class Ledger:
    """Turns status events into ledger rows for the systems that know the case and take the update."""

    def __init__(
        self,
        outbound: Mapping[str, frozenset[str]],
        not_for_merged: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        # system → the updates it takes; only systems with a configured URL are here.
        self.outbound = outbound
        # system → updates a work order merged into another case does not take from it
        self.not_for_merged = dict(not_for_merged or {})

    def handlers(self) -> dict[str, Handler]:
        return {**dict.fromkeys(EVENT_UPDATES, self.on_event), CaseMergedV1.TYPE: self.on_merged}

    async def on_merged(self, ctx: HandlerContext) -> None:
        """A case merged into another: its links (and those of cases merged into it before) follow the
        surviving case, so each merged work order keeps hearing every status of the case (RULES.md
        "each channel's own reply and callback duties survive a merge")."""
        merged = CaseMergedV1.model_validate(ctx.event.data)
        numbers = {merged.case_no, *(d.case_no for d in merged.duties)}
        await ctx.session.execute(
            update(adapter_links)
            .where(adapter_links.c.case_no.in_(numbers))
            .values(follows_case_no=merged.into, updated_at=datetime.now(UTC))
        )

    async def on_event(self, ctx: HandlerContext) -> None:
        update_name = EVENT_UPDATES[ctx.event.type]
        event = StatusEvent.model_validate(ctx.event.data)
        session = ctx.session
        case_no = event.case_no
        now = datetime.now(UTC)
        if update_name == "extension_requested" and event.role != "lead":
            return  # the lead answers for the case; an assisting department's request stays inside
        if update_name == "registered":
            await session.execute(
                _insert(session)(adapter_cases)
                .values(case_no=case_no, channel=event.channel or "", round=FIRST_ROUND, seen_at=now)
                .on_conflict_do_nothing(index_elements=["case_no"])
            )
            if event.channel in SYSTEMS and event.source_ref:
                await upsert_link(
                    session,
                    system=event.channel,
                    external_ref=event.source_ref,
                    case_no=case_no,
                    origin="event",
                )
        known = (
            await session.execute(select(adapter_cases.c.round).where(adapter_cases.c.case_no == case_no))
        ).first()
        if known is None:
            if now - ctx.event.time < UNSEEN_GRACE:
                raise RetryLater("case registration not seen yet")
            return
        # Referral numbers its rounds of handling (a dissatisfied callback starts the next one); an
        # event that says its round is placed in it, even when it arrives late.
        round_ = max(event.round, FIRST_ROUND) if event.round is not None else known.round
        if update_name == "reopened" and event.round is None:
            round_ = known.round + 1
        if round_ > known.round:
            await session.execute(
                update(adapter_cases).where(adapter_cases.c.case_no == case_no).values(round=round_)
            )
        if update_name == "referred_to_court":
            if event.to not in (None, "court"):
                return  # arbitration has no adapter
            await upsert_link(session, system="court", external_ref=None, case_no=case_no, origin="referral")
        # The case's own links, and those of work orders merged into it (delivered under their own
        # case number: in order with what they were told before the merge, never twice).
        links = (
            await session.execute(
                select(adapter_links.c.system, adapter_links.c.case_no).where(
                    or_(adapter_links.c.case_no == case_no, adapter_links.c.follows_case_no == case_no)
                )
            )
        ).all()
        traceparent, _ = current_traceparent()
        created = False
        data = _data(event, ctx.event.time)
        for link in links:
            if update_name not in self.outbound.get(link.system, frozenset()):
                continue
            follower = link.case_no != case_no
            if follower and update_name in self.not_for_merged.get(link.system, frozenset()):
                continue
            result = await session.execute(
                _insert(session)(adapter_deliveries)
                .values(
                    update_id=str(uuid.uuid4()),
                    case_no=link.case_no,
                    system=link.system,
                    update_name=update_name,
                    update_key=_update_key(update_name, round_, event, ctx.event.id),
                    round=round_,
                    rank=RANK[update_name],
                    data={**data, "merged_into": case_no} if follower else data,
                    event_id=ctx.event.id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    traceparent=traceparent or ctx.event.traceparent,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["case_no", "system", "update_key"])
                .returning(adapter_deliveries.c.id)
            )
            created = created or result.first() is not None
        if created:
            Database.flag(session, TOPIC)


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


# --- Ops queries and repairs -------------------------------------------------------------------


def delivery_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "update_id": row.update_id,
        "case_no": row.case_no,
        "system": row.system,
        "update": row.update_name,
        "round": row.round,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "external_state": row.external_state,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at if row.status in ("pending", "sending") else None,
        "finished_at": row.finished_at,
    }


async def list_deliveries(
    db: Database,
    *,
    status: str | None = None,
    system: str | None = None,
    case_no: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    d = adapter_deliveries
    conditions = []
    if status:
        conditions.append(d.c.status == status)
    if system:
        conditions.append(d.c.system == system)
    if case_no:
        conditions.append(d.c.case_no == case_no)
    async with db.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(d).where(*conditions))).scalar_one()
        rows = (
            await session.execute(select(d).where(*conditions).order_by(d.c.id).limit(limit).offset(offset))
        ).all()
    return int(total), [delivery_out(r) for r in rows]


async def case_sync(db: Database, case_no: str) -> list[dict[str, Any]]:
    """Each update of the case across every system that knows it: `sent` only when all of them got it."""
    d = adapter_deliveries
    async with db.sessions() as session:
        rows = (await session.execute(select(d).where(d.c.case_no == case_no).order_by(d.c.id))).all()
    grouped: dict[tuple[str, int], dict[str, str]] = {}
    for r in rows:
        grouped.setdefault((r.update_name, r.round), {})[r.system] = r.status
    out = []
    for (update_name, round_), systems in grouped.items():
        statuses = set(systems.values())
        overall = (
            "sent"
            if statuses <= set(FINAL)
            else "failed"
            if "failed" in statuses
            else "partly_sent"
            if statuses & set(FINAL)
            else "pending"
        )
        out.append({"update": update_name, "round": round_, "status": overall, "systems": systems})
    return out


async def retry_failed(db: Database, system: str, case_no: str | None = None) -> int:
    """Put failed updates back in line (after the system or our configuration was fixed)."""
    d = adapter_deliveries
    conditions = [d.c.status == "failed", d.c.system == system]
    if case_no:
        conditions.append(d.c.case_no == case_no)
    async with db.transaction() as session:
        result = await session.execute(
            update(d)
            .where(*conditions)
            .values(status="pending", attempts=0, next_attempt_at=datetime.now(UTC), finished_at=None)
        )
        Database.flag(session, TOPIC)
    return int(getattr(result, "rowcount", 0) or 0)
