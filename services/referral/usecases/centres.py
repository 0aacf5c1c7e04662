"""Tiered centres (分级调处: "小事不出社区、大事不出街道"): a case's home centre at registration, 上报
(escalate to the parent centre, with a reason), 下派 (delegate to a centre below whose area holds the
case), and red cases put before the district centre at once, whichever centre holds them.

A moved case is dispatched afresh within its new centre's area (:meth:`Dispatch.reroute_at_centre`);
every move is an event, a metric and an audit entry. The tree is data (centres.yaml,
:mod:`services.referral.domain.centres`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import CaseCentreAssignedV1, CaseCentreMovedV1, CaseDistrictAlertedV1
from hub.contracts.vocabulary import Colour
from services.referral.actors import SYSTEM, Actor
from services.referral.domain.centres import Centre, CentreLevel, area_contains, redact_reason
from services.referral.domain.lifecycle import CASE_MACHINE, TransitionRefused
from services.referral.errors import InvalidRequest, StateConflict, field_error
from services.referral.store import Record
from services.referral.tables import cases, centre_moves
from services.referral.usecases.context import Context
from services.referral.usecases.dispatch import Dispatch


class Centres:
    def __init__(self, ctx: Context, dispatch: Dispatch) -> None:
        self.ctx = ctx
        self.dispatch = dispatch

    async def assign_home_centre(self, session: AsyncSession, case: Record, now: datetime) -> Record:
        """At registration: the case belongs to the deepest centre of its area; a red case held below the
        district is put before the district centre at once (RULES.md "Tiered centres")."""
        home = self.ctx.config.centres.home_for(case.street_code)
        if home is None:
            return case
        await session.execute(update(cases).where(cases.c.case_no == case.case_no).values(centre_id=home.id))
        await session.execute(
            centre_moves.insert().values(
                case_no=case.case_no,
                kind="assigned",
                from_centre=None,
                to_centre=home.id,
                reason=None,
                actor_role=SYSTEM.role,
                at=now,
            )
        )
        event = CaseCentreAssignedV1(
            case_no=case.case_no,
            centre_id=home.id,
            centre_level=home.level.value,
            centre_name=home.name_zh,
        )
        await self.ctx.emit(session, event, SYSTEM)
        case = case.changed(centre_id=home.id)
        if await self.alert_district_if_red(session, case.case_no, case.colour, home, now):
            case = case.changed(district_alerted_at=case.district_alerted_at or now)
        return case

    async def alert_district_if_red(
        self, session: AsyncSession, case_no: str, colour: str, holding: Centre, now: datetime
    ) -> bool:
        """A red case held below the district is put before the district centre (once); True if red."""
        if colour != Colour.red.value or holding.level is CentreLevel.district:
            return False
        district = self.ctx.config.centres.root_of(holding)
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no, cases.c.district_alerted_at.is_(None))
            .values(district_alerted_at=now)
        )
        event = CaseDistrictAlertedV1(
            case_no=case_no, district_centre=district.id, holding_centre=holding.id, colour=Colour(colour)
        )
        await self.ctx.emit(session, event, SYSTEM)
        return True

    async def escalate(self, session: AsyncSession, case_no: str, reason: str, actor: Actor) -> bool:
        """上报: the holding centre cannot resolve the case; its parent takes it (reason required) and
        dispatches it within its own area, to its level's units."""
        actor.require("centre")
        if not reason.strip():
            raise InvalidRequest(
                "上报须说明理由",
                "escalating a case needs a reason",
                errors=[field_error("reason", "required")],
            )
        case = await self.ctx.load_case(session, case_no, actor)
        _refuse_if_final(case, "escalate")
        here = self.ctx.centre_of(case)
        parent = self.ctx.config.centres.parent(here) if here is not None else None
        if here is None or parent is None:
            raise StateConflict(
                "no-parent-centre",
                "没有上级中心",
                f"事项 {case_no} 已在最高一级中心（{here.name_zh if here else '未归属中心'}），无法上报",
                centre_id=here.id if here else None,
            )
        await self._move(session, case, here, parent, "escalated", redact_reason(reason.strip()), actor)
        return True

    async def delegate(
        self, session: AsyncSession, case_no: str, to_centre: str, reason: str | None, actor: Actor
    ) -> bool:
        """下派: hand the case to a centre below the holding one whose area holds the case's location."""
        actor.require("centre")
        tree = self.ctx.config.centres
        target = tree.centres.get(to_centre)
        if target is None:
            raise InvalidRequest(
                "未知中心",
                f"没有编码为 {to_centre} 的中心",
                errors=[field_error("to_centre", f"unknown centre {to_centre}")],
            )
        case = await self.ctx.load_case(session, case_no, actor)
        _refuse_if_final(case, "delegate")
        here = self.ctx.centre_of(case)
        if here is not None and here.id == target.id:
            return False
        if here is None or not tree.is_below(target, here):
            raise StateConflict(
                "not-a-lower-centre",
                "只能下派给下级中心",
                f"{target.name_zh} 不是 {here.name_zh if here else '未归属中心'} 的下级中心",
            )
        # The location must lie in the target's area, unless it is coarser (a street code only: the
        # centre knows the address lies in that community).
        location = case.street_code
        if location and not (_holds(target.area, location) or _holds(location, target.area)):
            raise StateConflict(
                "outside-centre-area",
                "事项不在该中心辖区",
                f"事项地点 {location} 不在 {target.name_zh}（{target.area}）辖区内",
            )
        text = redact_reason(reason.strip()) if reason and reason.strip() else None
        await self._move(session, case, here, target, "delegated", text, actor)
        return True

    async def _move(
        self,
        session: AsyncSession,
        case: Record,
        here: Centre,
        target: Centre,
        kind: str,
        reason: str | None,
        actor: Actor,
    ) -> None:
        now = self.ctx.clock()
        await session.execute(
            update(cases).where(cases.c.case_no == case.case_no).values(centre_id=target.id, updated_at=now)
        )
        await session.execute(
            centre_moves.insert().values(
                case_no=case.case_no,
                kind=kind,
                from_centre=here.id,
                to_centre=target.id,
                reason=reason,
                actor_role=actor.role,
                at=now,
            )
        )
        event = CaseCentreMovedV1(
            case_no=case.case_no,
            kind=kind,  # type: ignore[arg-type]
            from_centre=here.id,
            from_level=here.level.value,
            to_centre=target.id,
            to_level=target.level.value,
            reason=reason,
        )
        await self.ctx.emit(session, event, actor)
        self.ctx.metrics.centre_moves.labels(kind=kind, to_level=target.level.value).inc()
        moved = case.changed(centre_id=target.id, updated_at=now)
        await self.dispatch.reroute_at_centre(session, moved, actor, now)
        await self.ctx.record(
            session,
            actor,
            f"case.{kind}",
            case.case_no,
            {
                "from_centre": here.id,
                "from_level": here.level.value,
                "to_centre": target.id,
                "to_level": target.level.value,
                "reason_given": reason is not None,
            },
        )


def _refuse_if_final(case: Record, action: str) -> None:
    if CASE_MACHINE.is_final(case.status):
        raise TransitionRefused("case", case.status, action, [])


def _holds(outer: str, inner: str) -> bool:
    try:
        return area_contains(outer, inner)
    except ValueError:
        return False
