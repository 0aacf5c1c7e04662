"""Rows ↔ domain values for the referral service: locking loads, the case record, deadline rows.

Lock order in every write transaction: the case row, then its referrals, then their deadlines. Handlers,
HTTP actions and the watchdog all follow it, so two replicas acting on one case queue instead of
deadlocking (PostgreSQL `FOR UPDATE`; SQLite serialises writers anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.referral.domain.calendar import ClockKind, Pause
from services.referral.domain.deadlines import Deadline, DeadlineKind, ExternalLimit, ProcedureRef, TimeLimit
from services.referral.domain.lifecycle import ReferralState, ReferralStatus
from services.referral.domain.supervision import Level
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


class Record:
    """A case row read once (locked) and carried through an action: :meth:`changed` is the same record
    after an UPDATE the action has just issued, so an action never reads its case again to learn what
    it wrote itself. Columns read as attributes, like a row's."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not a column (and no recursion before __init__ has run)
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def changed(self, **values: Any) -> Record:
        unknown = values.keys() - self._values.keys()
        if unknown:
            raise AttributeError(f"no column {', '.join(sorted(unknown))}")
        return Record({**self._values, **values})


async def lock_case(
    session: AsyncSession, case_no: str, visible: ColumnElement[bool] | None = None
) -> Record | None:
    """The case, locked; with ``visible`` (services/referral/scoping.py), only if the caller may see it."""
    query = select(cases).where(cases.c.case_no == case_no).with_for_update()
    if visible is not None:
        query = query.where(visible)
    row = (await session.execute(query)).first()
    return Record(row._asdict()) if row is not None else None


async def lock_referral(session: AsyncSession, referral_id: str) -> Row[Any] | None:
    query = select(referrals).where(referrals.c.id == referral_id).with_for_update()
    return (await session.execute(query)).first()


async def find_referral(
    session: AsyncSession, referral_id: str, visible: ColumnElement[bool] | None = None
) -> Row[Any] | None:
    query = select(referrals).where(referrals.c.id == referral_id)
    if visible is not None:
        query = query.where(visible)
    return (await session.execute(query)).first()


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
