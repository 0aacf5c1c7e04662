"""The case list (`GET /api/v1/cases`) and the referral list (a department: its own), filtered and
paged, as the HTTP interface answers them; no personal data (referral holds none).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.http.referral import CasePage, CaseSummaryOut, ReferralPage
from services.referral import scoping, store
from services.referral.actors import Actor
from services.referral.case_views import referrals_out
from services.referral.domain.supervision import Level, higher
from services.referral.tables import cases, deadlines, referrals


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
    actor: Actor,
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
    holds none). A case registered a moment ago appears once referral has consumed its registration.
    Only the cases the actor may see (services/referral/scoping.py)."""
    conditions: list[ColumnElement[bool]] = [scoping.cases_visible(actor)]
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
    conditions = [scoping.referrals_visible(actor)]
    if department and not actor.is_department:
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
