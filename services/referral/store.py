"""Rows ↔ domain values for the referral service: locking loads, deadline rows, next check times.

Lock order in every write transaction: the case row, then its referrals, then their deadlines. Handlers,
HTTP actions and the watchdog all follow it, so two replicas acting on one case queue instead of
deadlocking (PostgreSQL `FOR UPDATE`; SQLite serialises writers anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.referral.config import ReferralConfig
from services.referral.domain.calendar import ClockKind, Pause
from services.referral.domain.deadlines import Deadline, DeadlineKind, ExternalLimit, ProcedureRef, TimeLimit
from services.referral.domain.lifecycle import ReferralState, ReferralStatus
from services.referral.domain.supervision import Level, due_level, next_step_at
from services.referral.tables import cases, deadlines, referrals, suspensions

# Deadlines with a supervision ladder; the return window only limits when a return is allowed.
LADDER_KINDS = (
    DeadlineKind.acknowledge.value,
    DeadlineKind.handling.value,
    DeadlineKind.meeting.value,
    DeadlineKind.acceptance.value,
)
FOLLOW_UP = "follow_up"
OPEN_REFERRAL_STATES = (
    ReferralState.created.value,
    ReferralState.dispatched.value,
    ReferralState.acknowledged.value,
    ReferralState.in_progress.value,
    ReferralState.extension_requested.value,
)


async def lock_case(session: AsyncSession, case_no: str) -> Row[Any] | None:
    query = select(cases).where(cases.c.case_no == case_no).with_for_update()
    return (await session.execute(query)).first()


async def lock_referral(session: AsyncSession, referral_id: str) -> Row[Any] | None:
    query = select(referrals).where(referrals.c.id == referral_id).with_for_update()
    return (await session.execute(query)).first()


async def find_referral(session: AsyncSession, referral_id: str) -> Row[Any] | None:
    return (await session.execute(select(referrals).where(referrals.c.id == referral_id))).first()


async def open_referrals(session: AsyncSession, case_no: str, *, round_: int | None = None) -> list[Row[Any]]:
    query = (
        select(referrals)
        .where(referrals.c.case_no == case_no, referrals.c.status.in_(OPEN_REFERRAL_STATES))
        .order_by(referrals.c.dispatched_at, referrals.c.id)
        .with_for_update()
    )
    if round_ is not None:
        query = query.where(referrals.c.round == round_)
    return list((await session.execute(query)).all())


def status_of(referral: Row[Any]) -> ReferralStatus:
    return ReferralStatus(ReferralState(referral.status), bool(referral.suspended))


# --- deadlines ---------------------------------------------------------------------------------------


def deadline_values(
    deadline: Deadline,
    *,
    case_no: str,
    referral_id: str | None,
    department: str | None,
    next_check_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "case_no": case_no,
        "referral_id": referral_id,
        "department": department,
        "kind": deadline.kind.value,
        "procedure_id": deadline.procedure.id,
        "procedure_version": deadline.procedure.version,
        "limit_text": str(deadline.limit),
        "started_at": deadline.started_at,
        "due_at": deadline.due_at,
        "extension": deadline.extension,
        "provisional": deadline.provisional,
        "provisional_years": sorted(deadline.provisional_years),
        "status": "open",
        "supervision_level": Level.none.value,
        "follow_up_seq": 0,
        "next_check_at": next_check_at,
        "updated_at": now,
        **external_values(deadline),
    }


def external_values(deadline: Deadline) -> dict[str, Any]:
    """The columns that explain a deadline under an external limit (all NULL without one)."""
    external = deadline.external
    return {
        "own_due_at": deadline.own_due_at if external is not None else None,
        "external_due_at": external.due_at if external is not None else None,
        "external_source": external.source if external is not None else None,
        "floor_at": deadline.floor if external is not None else None,
    }


def to_domain(row: Row[Any], pauses: Sequence[Pause] = ()) -> Deadline:
    external = (
        ExternalLimit(row.external_due_at, row.external_source)
        if row.external_due_at is not None and row.external_source
        else None
    )
    return Deadline(
        kind=DeadlineKind(row.kind),
        procedure=ProcedureRef(row.procedure_id, row.procedure_version),
        limit=TimeLimit.parse(row.limit_text),
        started_at=row.started_at,
        due_at=row.due_at,
        provisional=bool(row.provisional),
        provisional_years=frozenset(row.provisional_years or ()),
        extension=row.extension,
        pauses=tuple(pauses),
        external=external,
        floor=row.floor_at,
        own_due_at=row.own_due_at,
    )


def clock_of(row: Row[Any]) -> ClockKind:
    return TimeLimit.parse(row.limit_text).clock


def next_check(
    config: ReferralConfig,
    started_at: datetime,
    due_at: datetime,
    now: datetime,
    level: Level,
    clock: ClockKind,
) -> datetime | None:
    """When the watchdog must look again: now if a step is already due above ``level`` (e.g. a
    deadline that passed while its clock was paused), else the next step's time; None at the top."""
    policy = config.book.supervision
    reached = due_level(started_at, due_at, now, config.calendar, clock=clock, policy=policy)
    if reached.rank > level.rank:
        return now
    return next_step_at(started_at, due_at, now, config.calendar, current=level, clock=clock, policy=policy)


def ladder_start(
    config: ReferralConfig, started_at: datetime, clock: ClockKind, pauses: Sequence[Pause]
) -> datetime:
    """Where the supervision ladder counts from: the start moved out by the time the clock was paused,
    so "80% of the deadline" means 80% of the time that actually counted."""
    if not pauses:
        return started_at
    paused = sum((config.calendar.elapsed(p.start, p.end, clock) for p in pauses), timedelta(0))
    if clock is ClockKind.working:
        return config.calendar.add_working_time(started_at, paused).due
    return started_at + paused


async def ladder_start_of(session: AsyncSession, config: ReferralConfig, row: Row[Any]) -> datetime:
    """The ladder start of a deadline row (handling deadlines pause while the referral is suspended)."""
    if row.kind != DeadlineKind.handling.value or row.referral_id is None:
        return row.started_at
    return ladder_start(config, row.started_at, clock_of(row), await pauses_of(session, row.referral_id))


async def referral_deadlines(
    session: AsyncSession, referral_id: str, *, kinds: Sequence[str] | None = None, open_only: bool = True
) -> list[Row[Any]]:
    query = select(deadlines).where(deadlines.c.referral_id == referral_id).order_by(deadlines.c.id)
    if open_only:
        query = query.where(deadlines.c.status == "open")
    if kinds is not None:
        query = query.where(deadlines.c.kind.in_(kinds))
    return list((await session.execute(query.with_for_update())).all())


async def close_deadlines(
    session: AsyncSession,
    referral_id: str,
    now: datetime,
    *,
    kinds: Sequence[str] | None = None,
    status: str = "closed",
) -> None:
    """Finish a referral's open deadlines: `met` (the step was done) or `closed` (no longer relevant)."""
    stmt = (
        update(deadlines)
        .where(deadlines.c.referral_id == referral_id, deadlines.c.status == "open")
        .values(
            status=status,
            met_at=now if status == "met" else None,
            next_check_at=None,
            updated_at=now,
        )
    )
    if kinds is not None:
        stmt = stmt.where(deadlines.c.kind.in_(kinds))
    await session.execute(stmt)


async def pauses_of(session: AsyncSession, referral_id: str) -> list[Pause]:
    """The referral's finished suspensions (a running one is added when it ends)."""
    rows = await session.execute(
        select(suspensions.c.started_at, suspensions.c.ended_at)
        .where(suspensions.c.referral_id == referral_id, suspensions.c.ended_at.is_not(None))
        .order_by(suspensions.c.started_at)
    )
    return [Pause(start, end) for start, end in rows]
