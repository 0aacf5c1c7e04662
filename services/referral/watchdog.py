"""The deadline watchdog (督办): finds the deadlines due now and hands each to its use case.

It only polls and claims; what a due row means lives with the use cases: the supervision ladder's step
(:meth:`services.referral.usecases.supervision.Supervision.climb`) and a closed case's follow-up
(:meth:`services.referral.usecases.followups.FollowUps.fire`). A background loop of the referral
service (``runtime.background``), safe with any number of replicas:

1. **claim**: one short transaction selects the due rows of `deadlines` (``next_check_at <= now``,
   read through the partial index that holds only rows still to be looked at, so closed cases cost
   nothing) whose lease is free, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and stamps them with
   this round's claim token and a lease (``claimed_until``) — on SQLite, which has one writer, the lease
   alone keeps replicas apart;
2. **fire**: each claimed row in its own transaction, locking case → referral → deadline (the order
   every writer uses), re-checking that the claim is still ours and the row still due, then letting
   the use case fire it — one ``referral.supervision_raised.v1`` per ladder step reached (reminder at
   80% → ordinary at the deadline → yellow card 1 working day past → red card 3 working days past),
   or one ``case.follow_up_due.v1`` and the follow-up's task on the centre's worklist — and releasing
   the claim.

A firing starts a new trace (days may have passed since dispatch) with a span link to the case's trace.
Business time comes from the injected clock; leases use the real clock (they are about processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
from sqlalchemy import Select, Update, or_, select, update

from hub.db import Database
from hub.tracing import tracer
from services.referral import store
from services.referral.clock import Clock, system_clock
from services.referral.store import Record
from services.referral.tables import deadlines
from services.referral.usecases.wiring import ReferralUseCases

log = logging.getLogger("hub.referral.watchdog")


class Watchdog:
    def __init__(
        self,
        db: Database,
        usecases: ReferralUseCases,
        *,
        batch: int = 500,
        lease_s: float = 30.0,
        interval_s: float = 1.0,
        lease_clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self.usecases = usecases
        self.clock = usecases.context.clock  # business time
        self.batch = batch
        self.lease = timedelta(seconds=lease_s)
        self.interval_s = interval_s
        self.lease_clock = lease_clock
        self._wake = asyncio.Event()
        # One round at a time in a process: a round driven from outside (a test, `wake`) waits for the
        # background one rather than skipping the rows it holds and reporting nothing due.
        self._round = asyncio.Lock()
        self.fired = 0
        self.ticks = 0

    def wake(self) -> None:
        """Look now rather than at the next interval (tests after moving the clock, or a fresh commit)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.tick()
            except Exception as exc:  # database away: keep the rows, try again at the next interval
                log.warning("watchdog round failed: %s", type(exc).__name__)
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=self.interval_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def tick(self) -> int:
        """Claim and fire everything due now; returns how many rows fired."""
        async with self._round:
            return await self._tick()

    async def _tick(self) -> int:
        try:  # a schedule another replica loaded (`hub calendar load`) is used here from now on
            await self.usecases.schedules.refresh(self.db)
        except Exception as exc:
            log.error("watchdog: reading loaded holiday schedules failed: %s", type(exc).__name__)
        fired = 0
        while True:
            claimed = await self.claim_due(self.batch)
            for deadline_id, token in claimed:
                try:
                    if await self.fire(deadline_id, token):
                        fired += 1
                except Exception as exc:  # the claim lapses with its lease and the row is tried again
                    log.error("watchdog: deadline %s failed to fire: %s", deadline_id, type(exc).__name__)
            if len(claimed) < self.batch:
                break
        self.ticks += 1
        self.fired += fired
        return fired

    @staticmethod
    def due_query(now: datetime, real_now: datetime, limit: int) -> Select[Any]:
        """Due rows whose lease is free, oldest first: read through the partial `ix_deadlines_next_check`
        index only (rows still to look at); rows another replica holds are skipped, not waited for."""
        due = deadlines.alias("due")
        return (
            select(due.c.id)
            .where(due.c.next_check_at.is_not(None), due.c.next_check_at <= now)
            .where(or_(due.c.claimed_until.is_(None), due.c.claimed_until < real_now))
            .order_by(due.c.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

    def claim_statement(self, now: datetime, real_now: datetime, limit: int, token: str) -> Update:
        """One statement: claim the due rows (token + lease) and return their ids."""
        return (
            update(deadlines)
            .where(deadlines.c.id.in_(self.due_query(now, real_now, limit)))
            .values(claim_token=token, claimed_until=real_now + self.lease)
            .returning(deadlines.c.id)
        )

    async def claim_due(self, limit: int) -> list[tuple[int, str]]:
        """Find and claim up to ``limit`` due rows (the step the benchmark times)."""
        token = str(uuid.uuid4())
        claim = self.claim_statement(self.clock(), self.lease_clock(), limit, token)
        async with self.db.transaction() as session:
            ids = list((await session.execute(claim)).scalars())
        return [(i, token) for i in ids]

    async def fire(self, deadline_id: int, token: str) -> bool:
        d = deadlines
        async with self.db.transaction() as session:
            peek = (
                await session.execute(
                    select(d.c.case_no, d.c.referral_id, d.c.claim_token).where(d.c.id == deadline_id)
                )
            ).first()
            if peek is None or peek.claim_token != token:
                return False
            case = await store.lock_case(session, peek.case_no)
            referral = await store.lock_referral(session, peek.referral_id) if peek.referral_id else None
            row = (await session.execute(select(d).where(d.c.id == deadline_id).with_for_update())).first()
            if row is None or row.claim_token != token:
                return False  # our lease ran out and another replica took the row
            now = self.clock()
            fired = False
            if (
                case is not None
                and row.status == "open"
                and row.next_check_at is not None
                and row.next_check_at <= now
            ):
                with tracer("hub.referral.watchdog").start_as_current_span(
                    f"referral.watchdog {row.kind}",
                    context=Context(),  # a new trace: this work resumes days after the case's own
                    kind=SpanKind.INTERNAL,
                    links=_case_links(case),
                    attributes={
                        "hub.case_no": row.case_no,
                        "hub.department": row.department or "",
                        "hub.deadline_kind": row.kind,
                        "hub.case_trace_id": case.trace_id or "",
                    },
                ):
                    if row.kind == store.FOLLOW_UP:
                        fired = await self.usecases.followups.fire(session, case, row, now)
                    else:
                        fired = await self.usecases.supervision.climb(session, case, referral, row, now)
            await session.execute(
                update(d)
                .where(d.c.id == deadline_id, d.c.claim_token == token)
                .values(claim_token=None, claimed_until=None)
            )
        return fired

    async def release_all_claims(self) -> None:
        """Benchmarks only: forget every claim so the same due rows can be claimed again."""
        async with self.db.transaction() as session:
            await session.execute(
                update(deadlines)
                .where(deadlines.c.claim_token.is_not(None))
                .values(claim_token=None, claimed_until=None)
            )


def _case_links(case: Record) -> list[Link]:
    """A link to the case's trace, from the traceparent stored at registration."""
    parts = (case.traceparent or "").split("-")
    if len(parts) != 4:
        return []
    with contextlib.suppress(ValueError):
        context = SpanContext(
            trace_id=int(parts[1], 16),
            span_id=int(parts[2], 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        if context.is_valid:
            return [Link(context, {"hub.link": "case"})]
    return []
