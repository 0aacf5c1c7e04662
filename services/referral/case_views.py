"""Reading one case (and the referrals, deadlines, queue entries, meetings, centre moves that make it
up) and one referral, as the HTTP interface answers them; the dispatcher's queue is a list of case
reads. A department reading another department's referral finds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.http.referral import (
    CaseStateOut,
    CentreMoveOut,
    DeadlineOut,
    DueByOut,
    ExtensionOut,
    MeetingOut,
    QueueEntryOut,
    QueuePage,
    ReferralOut,
)
from services.referral import scoping, store
from services.referral.actors import Actor
from services.referral.domain.calendar import business_tz
from services.referral.domain.deadlines import PROCEDURE_SOURCE
from services.referral.domain.lifecycle import CASE_MACHINE, referral_allowed_actions
from services.referral.domain.routing import area_level
from services.referral.domain.supervision import Level, higher
from services.referral.errors import NotFound
from services.referral.tables import (
    cases,
    centre_moves,
    deadlines,
    dispatch_queue,
    extension_requests,
    meetings,
    referrals,
)

# How the console names an external limit's source.
EXTERNAL_NAMES_ZH = {"hotline12345.limitTime": "12345 办理时限"}


def _local(moment: datetime) -> str:
    return moment.astimezone(business_tz()).strftime("%Y-%m-%d %H:%M")


def _why(row: Row[Any]) -> str | None:
    """The deadline's source in words (Chinese, for the console)."""
    if row.external_due_at is None:
        return None
    theirs, ours = _local(row.external_due_at), _local(row.own_due_at or row.due_at)
    name = EXTERNAL_NAMES_ZH.get(row.external_source, row.external_source)
    if row.due_at > row.external_due_at and row.external_due_at < (row.own_due_at or row.due_at):
        return (
            f"{name} {theirs} 早于报到时限，办理时限按报到时限 {_local(row.due_at)} 计；"
            "已无法在平台时限内办结，请申请延期"
        )
    if row.external_due_at < (row.own_due_at or row.due_at):
        return f"{name} {theirs} 早于本平台办理时限 {ours}，以较早者为准"
    return f"本平台办理时限 {ours} 早于{name} {theirs}，以较早者为准"


def _source(row: Row[Any]) -> str:
    own = row.own_due_at or row.due_at
    if row.external_due_at is not None and row.external_source and row.external_due_at < own:
        return str(row.external_source)
    return PROCEDURE_SOURCE


def deadline_out(row: Row[Any], now: datetime) -> DeadlineOut:
    source = _source(row)
    return DeadlineOut(
        source=source,
        own_due_at=row.own_due_at,
        external_due_at=row.external_due_at,
        floored=source != PROCEDURE_SOURCE and row.due_at > row.external_due_at,
        why=_why(row),
        id=row.id,
        kind=row.kind,
        status=row.status,
        started_at=row.started_at,
        due_at=row.due_at,
        limit=row.limit_text,
        procedure_id=row.procedure_id,
        procedure_version=row.procedure_version,
        extension=row.extension,
        provisional=row.provisional,
        provisional_years=list(row.provisional_years or []),
        supervision_level=row.supervision_level,
        met_at=row.met_at,
        next_check_at=row.next_check_at,
        overdue=row.status == "open" and row.kind in store.LADDER_KINDS and row.due_at <= now,
    )


async def referrals_out(session: AsyncSession, rows: Sequence[Row[Any]], now: datetime) -> list[ReferralOut]:
    ids = [r.id for r in rows]
    by_referral: dict[str, list[DeadlineOut]] = defaultdict(list)
    extensions: dict[str, list[ExtensionOut]] = defaultdict(list)
    if ids:
        for d in await session.execute(
            select(deadlines).where(deadlines.c.referral_id.in_(ids)).order_by(deadlines.c.id)
        ):
            by_referral[d.referral_id].append(deadline_out(d, now))
        for e in await session.execute(
            select(extension_requests)
            .where(extension_requests.c.referral_id.in_(ids))
            .order_by(extension_requests.c.id)
        ):
            extensions[e.referral_id].append(ExtensionOut.model_validate(e, from_attributes=True))
    out = []
    for r in rows:
        found = by_referral[r.id]
        handling = next((d for d in found if d.kind == "handling" and d.status == "open"), None) or next(
            (d for d in reversed(found) if d.kind == "handling"), None
        )
        values = {
            k: getattr(r, k)
            for k in ReferralOut.model_fields
            if k
            not in (
                "allowed_actions",
                "deadlines",
                "extensions",
                "overdue",
                "provisional",
                "due_source",
                "due_why",
            )
        }
        out.append(
            ReferralOut(
                **values,
                overdue=any(d.overdue for d in found),
                provisional=bool(r.deadline_provisional),
                allowed_actions=referral_allowed_actions(store.status_of(r)),
                deadlines=found,
                extensions=extensions[r.id],
                due_source=handling.source if handling else PROCEDURE_SOURCE,
                due_why=handling.why if handling else None,
            )
        )
    return out


async def referral_view(session: AsyncSession, referral_id: str, actor: Actor, now: datetime) -> ReferralOut:
    row = await store.find_referral(session, referral_id, scoping.referrals_visible(actor))
    if row is None:
        raise NotFound("referral-not-found", "未找到该转办", f"没有编号为 {referral_id} 的转办")
    return (await referrals_out(session, [row], now))[0]


async def case_view(session: AsyncSession, case_no: str, actor: Actor, now: datetime) -> CaseStateOut:
    """The case as ``actor`` may see it: outside their scope it is not found (404)."""
    case = (
        await session.execute(select(cases).where(cases.c.case_no == case_no, scoping.cases_visible(actor)))
    ).first()
    if case is None:
        raise NotFound("case-not-found", "未找到该事项", f"分流服务中没有编号为 {case_no} 的事项")
    rows = (
        await session.execute(
            select(referrals)
            .where(referrals.c.case_no == case_no)
            .order_by(referrals.c.round, referrals.c.dispatched_at, referrals.c.role.desc())
        )
    ).all()
    refs = await referrals_out(session, rows, now)
    current = [r for r in refs if r.round == case.round]
    level = Level.none
    for r in current:
        level = higher(level, Level(r.supervision_level))
    queue = (
        await session.execute(
            select(dispatch_queue).where(dispatch_queue.c.case_no == case_no).order_by(dispatch_queue.c.id)
        )
    ).all()
    held = (
        await session.execute(
            select(meetings).where(meetings.c.case_no == case_no).order_by(meetings.c.held_at)
        )
    ).all()
    follow_ups = (
        await session.execute(
            select(deadlines)
            .where(deadlines.c.case_no == case_no, deadlines.c.kind == store.FOLLOW_UP)
            .order_by(deadlines.c.id)
        )
    ).all()
    moves = (
        await session.execute(
            select(centre_moves).where(centre_moves.c.case_no == case_no).order_by(centre_moves.c.id)
        )
    ).all()
    return CaseStateOut(
        provisional=any(r.provisional for r in refs if r.status in store.OPEN_REFERRAL_STATES),
        centre_id=case.centre_id,
        centre_level=level_of(case.centre_id),
        resolved_centre_id=case.resolved_centre_id,
        resolved_level=case.resolved_level,
        district_alerted_at=case.district_alerted_at,
        centre_moves=[CentreMoveOut.model_validate(m, from_attributes=True) for m in moves],
        case_no=case.case_no,
        status=case.status,
        colour=case.colour,
        category=case.category,
        response_level=case.response_level,
        manual_reason=case.manual_reason,
        trace_id=case.trace_id,
        referrals=refs,
        intake_response_level=case.intake_response_level,
        round=case.round,
        supervision_level=level.value,
        overdue=any(r.overdue for r in current if r.status in store.OPEN_REFERRAL_STATES),
        anonymous=case.anonymous,
        reply_outcome=case.reply_outcome,
        satisfaction=case.satisfaction,
        close_reason=case.close_reason,
        closed_at=case.closed_at,
        merged_into=case.merged_into,
        referred_onward_to=case.referred_onward_to,
        allowed_actions=[a.value for a in CASE_MACHINE.allowed_actions(case.status)],
        dispatch_queue=[QueueEntryOut.model_validate(q, from_attributes=True) for q in queue],
        meetings=[MeetingOut.model_validate(m, from_attributes=True) for m in held],
        follow_ups=[deadline_out(f, now) for f in follow_ups],
        due_by=DueByOut(at=case.due_by, source=case.due_by_source or "") if case.due_by is not None else None,
        channel_return_code=case.channel_return_code,
        channel_return_reason=case.channel_return_reason,
    )


async def dispatcher_queue(session: AsyncSession, actor: Actor, now: datetime, limit: int = 100) -> QueuePage:
    """Open cases waiting for a dispatcher (no rule matched, a department returned them…), of the
    actor's scope: the `limit` oldest (each is read whole), and how many wait in all."""
    waiting = (
        select(dispatch_queue.c.case_no)
        .join(cases, cases.c.case_no == dispatch_queue.c.case_no)
        .where(dispatch_queue.c.resolved_at.is_(None), scoping.cases_visible(actor))
        .group_by(dispatch_queue.c.case_no)
    )
    total = (await session.execute(select(func.count()).select_from(waiting.subquery()))).scalar_one()
    numbers = (
        await session.execute(
            waiting.order_by(func.min(dispatch_queue.c.queued_at), dispatch_queue.c.case_no).limit(limit)
        )
    ).scalars()
    return QueuePage(items=[await case_view(session, n, actor, now) for n in numbers], total=int(total))


def level_of(centre_id: str | None) -> str | None:
    if not centre_id:
        return None
    try:
        return area_level(centre_id).value
    except ValueError:
        return None
