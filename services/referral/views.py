"""Read models of the referral service's HTTP interface (never ORM rows as API schemas)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Row, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.problems import Problem
from services.referral import store
from services.referral.actors import Actor
from services.referral.domain.calendar import business_tz
from services.referral.domain.centres import CentreLevel, CentreTree
from services.referral.domain.deadlines import PROCEDURE_SOURCE
from services.referral.domain.lifecycle import CASE_MACHINE, referral_allowed_actions
from services.referral.domain.routing import area_level
from services.referral.domain.supervision import Level, higher
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


class DeadlineOut(BaseModel):
    id: int
    kind: str  # acknowledge | handling | meeting | acceptance | return_window | follow_up
    status: str  # open | met | closed
    started_at: datetime
    due_at: datetime
    limit: str | None  # "7 working_days"; for follow_up the cadence
    procedure_id: str | None
    procedure_version: int | None
    extension: int
    provisional: bool
    provisional_years: list[int]
    supervision_level: str
    met_at: datetime | None
    next_check_at: datetime | None
    overdue: bool
    # Whose limit `due_at` is: "procedure" (ours) or an external one ("hotline12345.limitTime": the
    # earlier of ours and theirs applies); `why` says so in words for the console.
    source: str = PROCEDURE_SOURCE
    own_due_at: datetime | None = None  # ours, when an external limit is recorded
    external_due_at: datetime | None = None  # theirs
    floored: bool = False  # theirs was already past / before the acknowledge deadline
    why: str | None = None


class DueByOut(BaseModel):
    """An obligation the channel holds the case to (12345's 办理时限), and whose it is."""

    at: datetime
    source: str


class ExtensionOut(BaseModel):
    amount: int
    unit: str
    reason: str
    requested_at: datetime
    decided_at: datetime | None
    approved: bool | None
    note: str | None
    new_due_at: datetime | None


class ReferralOut(BaseModel):
    id: str
    case_no: str
    round: int
    department: str
    department_name: str
    role: str
    status: str
    suspended: bool
    dispatched_at: datetime
    ack_due_at: datetime
    due_at: datetime
    return_until: datetime
    deadline_provisional: bool
    supervision_level: str
    overdue: bool
    # Same as deadline_provisional: some deadline was counted on weekends only (a year no official
    # schedule covers yet); it is recomputed once when the schedule is loaded.
    provisional: bool = False
    centre_id: str | None = None  # the centre that dispatched it
    procedure_id: str
    procedure_version: int
    response_level: str
    acknowledged_at: datetime | None
    replied_at: datetime | None
    reply_outcome: str | None
    reply_summary: str | None
    returned_at: datetime | None
    return_reason_code: str | None
    return_reason: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    allowed_actions: list[str]
    deadlines: list[DeadlineOut]
    extensions: list[ExtensionOut]
    due_source: str = PROCEDURE_SOURCE  # whose limit `due_at` (handling) is, see DeadlineOut.source
    due_why: str | None = None


class QueueEntryOut(BaseModel):
    reason_code: str
    reason: str
    department: str | None
    referral_id: str | None
    queued_at: datetime
    resolved_at: datetime | None


class MeetingOut(BaseModel):
    held_at: datetime
    departments: list[str]
    decisions: list[str]
    recorded_at: datetime


class CentreMoveOut(BaseModel):
    kind: str  # assigned | escalated (上报) | delegated (下派)
    from_centre: str | None
    to_centre: str
    reason: str | None
    actor_role: str
    at: datetime


class CaseStateOut(BaseModel):
    case_no: str
    status: str
    colour: str
    category: str
    response_level: str
    manual_reason: str | None
    trace_id: str | None
    referrals: list[ReferralOut]
    intake_response_level: str
    round: int
    supervision_level: str  # the highest level among the current round's referrals
    overdue: bool
    anonymous: bool
    reply_outcome: str | None
    satisfaction: str | None
    close_reason: str | None
    closed_at: datetime | None
    merged_into: str | None
    referred_onward_to: str | None
    allowed_actions: list[str]
    dispatch_queue: list[QueueEntryOut]
    meetings: list[MeetingOut]
    follow_ups: list[DeadlineOut]
    # Any open referral of the case has a provisional deadline (see ReferralOut.provisional).
    provisional: bool = False
    # Tiered centres: who holds the case (area code and level), where it was finally resolved.
    centre_id: str | None = None
    centre_level: str | None = None
    resolved_centre_id: str | None = None
    resolved_level: str | None = None
    district_alerted_at: datetime | None = None
    centre_moves: list[CentreMoveOut] = []
    due_by: DueByOut | None = None  # the channel's limit in force (moves when it approves 延期)
    channel_return_code: str | None = None  # 回退 to the channel: the reason code
    channel_return_reason: str | None = None


class ReferralActionOut(BaseModel):
    changed: bool  # false: a late or repeated update, ignored (the state never moves backwards)
    referral: ReferralOut


class CaseActionOut(BaseModel):
    changed: bool
    case: CaseStateOut


class ReferralPage(BaseModel):
    items: list[ReferralOut]
    total: int
    page: int
    page_size: int


class QueuePage(BaseModel):
    items: list[CaseStateOut]


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


def _deadline_out(row: Row[Any], now: datetime) -> DeadlineOut:
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
            by_referral[d.referral_id].append(_deadline_out(d, now))
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
    row = await store.find_referral(session, referral_id)
    if row is None or (actor.is_department and row.department != actor.department):
        raise Problem(404, "未找到该转办", f"没有编号为 {referral_id} 的转办", type_="referral-not-found")
    return (await referrals_out(session, [row], now))[0]


async def case_view(session: AsyncSession, case_no: str, now: datetime) -> CaseStateOut:
    case = (await session.execute(select(cases).where(cases.c.case_no == case_no))).first()
    if case is None:
        raise Problem(404, "未找到该事项", f"分流服务中没有编号为 {case_no} 的事项", type_="case-not-found")
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
        centre_level=_level_of(case.centre_id),
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
        follow_ups=[_deadline_out(f, now) for f in follow_ups],
        due_by=DueByOut(at=case.due_by, source=case.due_by_source or "") if case.due_by is not None else None,
        channel_return_code=case.channel_return_code,
        channel_return_reason=case.channel_return_reason,
    )


async def list_referrals(
    session: AsyncSession,
    actor: Actor,
    now: datetime,
    *,
    status: str | None,
    overdue: bool | None,
    department: str | None,
    case_no: str | None,
    page: int,
    page_size: int,
) -> ReferralPage:
    conditions = []
    if actor.is_department:
        conditions.append(referrals.c.department == actor.department)
    elif department:
        conditions.append(referrals.c.department == department)
    if status:
        conditions.append(referrals.c.status == status)
    if case_no:
        conditions.append(referrals.c.case_no == case_no)
    if overdue is not None:
        late = exists().where(
            deadlines.c.referral_id == referrals.c.id,
            deadlines.c.status == "open",
            deadlines.c.kind.in_(store.LADDER_KINDS),
            deadlines.c.due_at <= now,
        )
        conditions.append(
            and_(referrals.c.status.in_(store.OPEN_REFERRAL_STATES), late) if overdue else ~late
        )
    where = and_(*conditions) if conditions else None
    count = select(func.count()).select_from(referrals)
    query = select(referrals).order_by(referrals.c.dispatched_at.desc(), referrals.c.id)
    if where is not None:
        count, query = count.where(where), query.where(where)
    total = (await session.execute(count)).scalar_one()
    rows = (await session.execute(query.offset((page - 1) * page_size).limit(page_size))).all()
    return ReferralPage(
        items=await referrals_out(session, rows, now), total=total, page=page, page_size=page_size
    )


async def dispatcher_queue(session: AsyncSession, now: datetime) -> QueuePage:
    """Open cases waiting for a dispatcher (no rule matched, a department returned them…)."""
    numbers = (
        await session.execute(
            select(dispatch_queue.c.case_no)
            .where(dispatch_queue.c.resolved_at.is_(None))
            .group_by(dispatch_queue.c.case_no)
            .order_by(func.min(dispatch_queue.c.queued_at))
        )
    ).scalars()
    return QueuePage(items=[await case_view(session, n, now) for n in numbers])


# --- tiered centres: where cases were finally resolved, and what a centre sees -----------------------


def _level_of(centre_id: str | None) -> str | None:
    if not centre_id:
        return None
    try:
        return area_level(centre_id).value
    except ValueError:
        return None


class LevelCount(BaseModel):
    level: str  # community | street | district
    resolved: int
    share: float  # of all resolved cases in scope, 0..1


class CentreCount(BaseModel):
    centre_id: str
    name_zh: str
    level: str
    resolved: int


class ResolutionLevelsOut(BaseModel):
    """Where cases were finally resolved (the seeds' "over 90% settled in the community")."""

    scope: str | None  # a centre id: that centre and those below it; None: everything
    resolved: int  # closed cases (rated, anonymous reply, closed by the centre); merged/withdrawn excluded
    by_level: list[LevelCount]
    by_centre: list[CentreCount]


async def resolution_levels(
    session: AsyncSession, tree: CentreTree, *, centre: str | None = None, category: str | None = None
) -> ResolutionLevelsOut:
    query = (
        select(cases.c.resolved_centre_id, cases.c.resolved_level, func.count())
        .where(cases.c.status == "closed", cases.c.resolved_level.is_not(None))
        .group_by(cases.c.resolved_centre_id, cases.c.resolved_level)
    )
    if centre is not None:
        query = query.where(cases.c.resolved_centre_id.in_(sorted(tree.subtree_ids(tree.get(centre)))))
    if category is not None:
        query = query.where(cases.c.category == category)
    rows = (await session.execute(query)).all()
    total = sum(int(n) for _c, _l, n in rows)
    per_level = {level.value: 0 for level in sorted(CentreLevel, key=lambda lv: lv.rank)}
    per_centre: dict[str, int] = defaultdict(int)
    for centre_id, level, n in rows:
        per_level[level] = per_level.get(level, 0) + int(n)
        per_centre[centre_id] += int(n)
    return ResolutionLevelsOut(
        scope=centre,
        resolved=total,
        by_level=[
            LevelCount(level=lv, resolved=n, share=round(n / total, 4) if total else 0.0)
            for lv, n in per_level.items()
        ],
        by_centre=[
            CentreCount(
                centre_id=cid,
                name_zh=tree.centres[cid].name_zh if cid in tree.centres else "",
                level=_level_of(cid) or "",
                resolved=n,
            )
            for cid, n in sorted(per_centre.items())
        ],
    )


class CentreCaseOut(BaseModel):
    case_no: str
    status: str
    colour: str
    category: str
    centre_id: str | None
    centre_level: str | None
    district_alerted_at: datetime | None
    resolved_level: str | None


class CentreCasesOut(BaseModel):
    centre_id: str
    items: list[CentreCaseOut]
    total: int


async def centre_cases(
    session: AsyncSession,
    tree: CentreTree,
    centre_id: str,
    *,
    open_only: bool,
    colour: str | None,
    page: int,
    page_size: int,
) -> CentreCasesOut:
    """What a centre's staff see: the cases held by the centre or any centre below it; for the district
    centre, red cases anywhere below are there from registration on (district_alerted_at)."""
    centre = tree.get(centre_id)
    ids = sorted(tree.subtree_ids(centre))
    condition: ColumnElement[bool] = cases.c.centre_id.in_(ids)
    if centre.parent_id is None:
        condition = condition | cases.c.district_alerted_at.is_not(None)
    conditions: list[ColumnElement[bool]] = [condition]
    if open_only:
        conditions.append(cases.c.status.notin_(["closed", "merged", "withdrawn", "returned_to_channel"]))
    if colour:
        conditions.append(cases.c.colour == colour)
    where = and_(*conditions)
    total = (await session.execute(select(func.count()).select_from(cases).where(where))).scalar_one()
    rows = (
        await session.execute(
            select(cases)
            .where(where)
            .order_by(cases.c.registered_at.desc(), cases.c.case_no)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).all()
    return CentreCasesOut(
        centre_id=centre_id,
        total=int(total),
        items=[
            CentreCaseOut(
                case_no=r.case_no,
                status=r.status,
                colour=r.colour,
                category=r.category,
                centre_id=r.centre_id,
                centre_level=_level_of(r.centre_id),
                district_alerted_at=r.district_alerted_at,
                resolved_level=r.resolved_level,
            )
            for r in rows
        ],
    )


# --- the case list (GET /api/v1/cases) -------------------------------------------------------------


class CaseSummaryOut(BaseModel):
    case_no: str
    status: str
    channel: str
    category: str
    colour: str
    response_level: str
    street_code: str | None
    registered_at: datetime
    updated_at: datetime
    lead_department: str | None  # the open (or latest) lead referral's unit
    supervision_level: str  # the highest level among its current round's referrals, as the case read
    overdue: bool  # an open referral past an open deadline
    provisional: bool  # a deadline counted on weekends only (that year's schedule not loaded)
    anonymous: bool
    close_reason: str | None
    trace_id: str | None


class CasePage(BaseModel):
    items: list[CaseSummaryOut]
    total: int
    page: int
    page_size: int


def _overdue_case(now: datetime) -> ColumnElement[bool]:
    return exists().where(
        deadlines.c.case_no == cases.c.case_no,
        deadlines.c.status == "open",
        deadlines.c.kind.in_(store.LADDER_KINDS),
        deadlines.c.due_at <= now,
        deadlines.c.referral_id.in_(
            select(referrals.c.id).where(
                referrals.c.case_no == cases.c.case_no, referrals.c.status.in_(store.OPEN_REFERRAL_STATES)
            )
        ),
    )


async def list_cases(
    session: AsyncSession,
    now: datetime,
    *,
    status: str | None,
    colour: str | None,
    category: str | None,
    street_code: str | None,
    overdue: bool | None,
    page: int,
    page_size: int,
) -> CasePage:
    """Cases newest first, filtered as API.md's `GET /api/v1/cases` says; no personal data (referral
    holds none). A case registered a moment ago appears once referral has consumed its registration."""
    conditions: list[ColumnElement[bool]] = []
    if status:
        conditions.append(cases.c.status == status)
    if colour:
        conditions.append(cases.c.colour == colour)
    if category:
        conditions.append(cases.c.category == category)
    if street_code:
        conditions.append(cases.c.street_code.startswith(street_code, autoescape=True))
    if overdue is not None:
        conditions.append(_overdue_case(now) if overdue else ~_overdue_case(now))
    where = and_(*conditions) if conditions else None
    count = select(func.count()).select_from(cases)
    query = select(cases).order_by(cases.c.registered_at.desc(), cases.c.case_no)
    if where is not None:
        count, query = count.where(where), query.where(where)
    total = int((await session.execute(count)).scalar_one())
    rows = (await session.execute(query.offset((page - 1) * page_size).limit(page_size))).all()
    numbers = [r.case_no for r in rows]
    current_round = {r.case_no: r.round for r in rows}
    lead: dict[str, str] = {}
    provisional: set[str] = set()
    levels: dict[str, Level] = {}
    late: set[str] = set()
    if numbers:
        for ref in (
            await session.execute(
                select(referrals.c.case_no, referrals.c.department, referrals.c.role, referrals.c.round)
                .add_columns(
                    referrals.c.status, referrals.c.deadline_provisional, referrals.c.supervision_level
                )
                .where(referrals.c.case_no.in_(numbers))
                .order_by(referrals.c.dispatched_at)
            )
        ).all():
            if ref.role == "lead":
                lead[ref.case_no] = ref.department  # the latest lead wins
            if ref.deadline_provisional and ref.status in store.OPEN_REFERRAL_STATES:
                provisional.add(ref.case_no)
            if ref.round == current_round[ref.case_no]:  # as case_view: the current round's highest
                levels[ref.case_no] = higher(
                    levels.get(ref.case_no, Level.none), Level(ref.supervision_level)
                )
        late = set(
            (
                await session.execute(
                    select(cases.c.case_no).where(cases.c.case_no.in_(numbers), _overdue_case(now))
                )
            )
            .scalars()
            .all()
        )
    items = [
        CaseSummaryOut(
            case_no=r.case_no,
            status=r.status,
            channel=r.channel,
            category=r.category,
            colour=r.colour,
            response_level=r.response_level,
            street_code=r.street_code,
            registered_at=r.registered_at,
            updated_at=r.updated_at,
            lead_department=lead.get(r.case_no),
            supervision_level=levels.get(r.case_no, Level.none).value,
            overdue=r.case_no in late,
            provisional=r.case_no in provisional,
            anonymous=bool(r.anonymous),
            close_reason=r.close_reason,
            trace_id=r.trace_id,
        )
        for r in rows
    ]
    return CasePage(items=items, total=total, page=page, page_size=page_size)
