"""What tiered centres read (分级调处): the cases a centre sees (its own and those below it; the district
centre also every red case at once), and where closed cases were finally resolved (the seeds' "over 90%
settled in the community").
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.http.referral import (
    CentreCaseOut,
    CentreCasesOut,
    CentreCount,
    LevelCount,
    ResolutionLevelsOut,
)
from hub.ranges import Range
from services.referral import scoping
from services.referral.actors import Actor
from services.referral.case_views import level_of
from services.referral.domain.centres import CentreLevel, CentreTree
from services.referral.tables import cases


async def resolution_levels(
    session: AsyncSession,
    tree: CentreTree,
    actor: Actor,
    window: Range,
    *,
    centre: str | None = None,
    category: str | None = None,
) -> ResolutionLevelsOut:
    """Counted over the cases the actor may see (a centre's person: its subtree), closed in `window`."""
    query = (
        select(cases.c.resolved_centre_id, cases.c.resolved_level, func.count())
        .where(
            cases.c.status == "closed",
            cases.c.closed_at >= window.start,
            cases.c.closed_at < window.end,
            cases.c.resolved_level.is_not(None),
            scoping.cases_visible(actor),
        )
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
        from_=window.start,
        to=window.end,
        resolved=total,
        by_level=[
            LevelCount(level=lv, resolved=n, share=round(n / total, 4) if total else 0.0)
            for lv, n in per_level.items()
        ],
        by_centre=[
            CentreCount(
                centre_id=cid,
                name_zh=tree.centres[cid].name_zh if cid in tree.centres else "",
                level=level_of(cid) or "",
                resolved=n,
            )
            for cid, n in sorted(per_centre.items())
        ],
    )


async def centre_cases(
    session: AsyncSession,
    tree: CentreTree,
    centre_id: str,
    actor: Actor,
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
    conditions: list[ColumnElement[bool]] = [condition, scoping.cases_visible(actor)]
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
                centre_level=level_of(r.centre_id),
                district_alerted_at=r.district_alerted_at,
                resolved_level=r.resolved_level,
            )
            for r in rows
        ],
    )
