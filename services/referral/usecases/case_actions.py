"""Actions on a whole case: the callback rating (回访: closes, or reopens and dispatches the next round),
closure (销号), withdrawal, merging into another case, referral onward (信调裁诉), joint consultation
meetings (联席会商), intake's re-grading, and giving a case back to its channel (回退).

The life cycle is the domain's (:mod:`services.referral.domain.lifecycle`): an action it does not allow
raises `TransitionRefused`, and a late or repeated update whose target state lies behind (or is) the
current one is a no-op (False), never a step backwards. A case that ends cancels its open referrals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import (
    CaseClosedV1,
    CaseMeetingHeldV1,
    CaseReferredToCourtV1,
    CaseReopenedV1,
    CaseReturnedToChannelV1,
    CaseWithdrawnV1,
)
from services.referral import store
from services.referral.actors import SYSTEM, Actor
from services.referral.domain.centres import redact_reason
from services.referral.domain.deadlines import DeadlineKind
from services.referral.domain.lifecycle import (
    CASE_MACHINE,
    CaseAction,
    CaseState,
    ReferralState,
    TransitionRefused,
    rating_action,
)
from services.referral.errors import InvalidRequest, StateConflict, field_error
from services.referral.store import Record
from services.referral.tables import cases, deadlines, meetings, referrals
from services.referral.usecases.centres import Centres
from services.referral.usecases.channel_limits import ChannelLimits
from services.referral.usecases.context import Context
from services.referral.usecases.dispatch import Dispatch
from services.referral.usecases.followups import FollowUps

ONWARD_OUTCOMES = ("unresolved", "referred_to_litigation")


class CaseActions:
    def __init__(
        self,
        ctx: Context,
        dispatch: Dispatch,
        centres: Centres,
        limits: ChannelLimits,
        followups: FollowUps,
        *,
        channel_returns: Sequence[str] = ("hotline12345",),
    ) -> None:
        self.ctx = ctx
        self.dispatch = dispatch
        self.centres = centres
        self.limits = limits
        self.followups = followups
        self.channel_returns = frozenset(channel_returns)  # channels a case can be given back to (回退)

    # --- callback (回访) and the next round -------------------------------------------------------

    async def callback(
        self,
        session: AsyncSession,
        case_no: str,
        satisfaction: str,
        comment: str | None,
        actor: Actor,
        *,
        via: str = "staff",
    ) -> bool:
        """A rating (回访): satisfied or basically satisfied closes the case, dissatisfied reopens it and
        dispatches round N+1 to the departments of round N."""
        case = await self.ctx.load_case(session, case_no, actor)
        rating = rating_action(satisfaction)
        target = CaseState.reopened if rating is CaseAction.rate_dissatisfied else CaseState.closed
        current = CaseState(case.status)
        if current is target or CASE_MACHINE.is_regression(current, target):
            return False
        if current is CaseState.replied:
            CASE_MACHINE.apply(
                CASE_MACHINE.apply(current, CaseAction.callback_requested), rating
            )  # 409 first
            case = await self.ctx.advance_case(session, case, CaseAction.callback_requested, self.ctx.clock())
        else:
            CASE_MACHINE.apply(current, rating)
        now = self.ctx.clock()
        rated = {
            "satisfaction": satisfaction,
            "callback_comment": comment,
            "rated_at": now,
            "updated_at": now,
        }
        await session.execute(update(cases).where(cases.c.case_no == case_no).values(**rated))
        case = case.changed(**rated)
        if target is CaseState.closed:
            await self.close_case(session, case, rating, "callback", satisfaction, actor, now, via=via)
            return True
        case = await self.ctx.advance_case(session, case, rating, now)
        await self.reopen_and_redispatch(session, case, actor, now, satisfaction=satisfaction, via=via)
        return True

    async def reopen_and_redispatch(
        self,
        session: AsyncSession,
        case: Record,
        actor: Actor,
        now: datetime,
        *,
        satisfaction: str | None,
        via: str,
    ) -> None:
        case_no = case.case_no
        previous = (
            await session.execute(
                select(referrals)
                .where(
                    referrals.c.case_no == case_no,
                    referrals.c.round == case.round,
                    referrals.c.status.notin_([ReferralState.returned.value, ReferralState.cancelled.value]),
                )
                .order_by(referrals.c.dispatched_at)
            )
        ).all()
        new_round = case.round + 1
        await session.execute(
            update(cases).where(cases.c.case_no == case_no).values(round=new_round, updated_at=now)
        )
        case = case.changed(round=new_round, updated_at=now)
        await self.ctx.emit(
            session,
            CaseReopenedV1(case_no=case_no, round=new_round, satisfaction=satisfaction, reopened_at=now),
            actor,
            via=via,
        )
        units = self.ctx.config.registry.units
        lead = next((r for r in previous if r.role == "lead" and r.department in units), None)
        if lead is None:
            await self.dispatch.route_and_dispatch(session, case, SYSTEM, now)
            return
        assisting = [units[r.department] for r in previous if r.role == "assisting" and r.department in units]
        await self.dispatch.dispatch(session, case, units[lead.department], assisting, SYSTEM, now)

    # --- the case ends ----------------------------------------------------------------------------

    async def close(self, session: AsyncSession, case_no: str, reason: str | None, actor: Actor) -> bool:
        actor.require("centre")
        case = await self.ctx.load_case(session, case_no, actor)
        if case.status == CaseState.closed.value:
            return False
        CASE_MACHINE.apply(case.status, CaseAction.close)
        await self.close_case(
            session, case, CaseAction.close, reason or "centre", None, actor, self.ctx.clock()
        )
        return True

    async def withdraw(self, session: AsyncSession, case_no: str, reason: str, actor: Actor) -> bool:
        actor.require("centre", "adapter")
        case = await self.ctx.load_case(session, case_no, actor)
        if case.status == CaseState.withdrawn.value:
            return False
        CASE_MACHINE.apply(case.status, CaseAction.withdraw)
        now = self.ctx.clock()
        await self.finish(
            session, case, CaseAction.withdraw, now, actor, "case_withdrawn", withdraw_reason=reason
        )
        await self.ctx.emit(session, CaseWithdrawnV1(case_no=case_no, withdrawn_at=now), actor)
        return True

    async def merged(
        self,
        session: AsyncSession,
        case_no: str,
        into: str,
        actor: Actor,
        *,
        limits: Sequence[tuple[datetime, str]] = (),
    ) -> bool | None:
        """The case was merged into ``into``: its referrals end; the channel limits it carried (its own
        12345 办理时限 and those it had taken over) bind ``into`` where they are earlier than its own.
        None: the case has not reached referral yet."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return None
        current = CaseState(case.status)
        if current is CaseState.merged or CASE_MACHINE.is_final(current):
            return False
        now = self.ctx.clock()
        await self.finish(session, case, CaseAction.merge, now, actor, "case_merged", merged_into=into)
        if limits:
            await self.limits.take_over(session, into, min(limits), case_no, actor, now)
        return True

    async def return_to_channel(
        self, session: AsyncSession, case_no: str, reason_code: str, reason: str, actor: Actor
    ) -> bool:
        """回退: the centre decides a case from a channel that takes returns (12345) is not the hub's;
        it goes back to that channel with a coded reason (the gateway tells 12345), its open referrals
        are cancelled. Allowed until the lead has replied."""
        actor.require("centre")
        case = await self.ctx.load_case(session, case_no, actor)
        if case.status == CaseState.returned_to_channel.value:
            return False
        if case.channel not in self.channel_returns:
            raise StateConflict(
                "channel-not-returnable",
                "该来源渠道不支持回退",
                f"事项 {case_no} 来自 {case.channel}，只有来自 {'、'.join(sorted(self.channel_returns)) or '无'} "
                "的事项可以回退；本平台受理的事项请撤回（withdraw）或由部门退回（return）",
                channel=case.channel,
                returnable_channels=sorted(self.channel_returns),
            )
        CASE_MACHINE.apply(case.status, CaseAction.return_to_channel)  # 409 after a reply
        now = self.ctx.clock()
        text = redact_reason(reason.strip())
        await self.finish(
            session,
            case,
            CaseAction.return_to_channel,
            now,
            actor,
            "case_returned",
            channel_return_code=reason_code,
            channel_return_reason=text,
        )
        event = CaseReturnedToChannelV1(
            case_no=case_no,
            channel=case.channel,
            reason_code=reason_code,  # type: ignore[arg-type]
            reason=text,
            returned_at=now,
        )
        await self.ctx.emit(session, event, actor)
        await self.ctx.record(
            session,
            actor,
            "case.returned_to_channel",
            case_no,
            {"channel": case.channel, "reason_code": reason_code, "from_status": case.status},
        )
        return True

    async def finish(
        self,
        session: AsyncSession,
        case: Record,
        action: CaseAction,
        now: datetime,
        actor: Actor,
        cancel_reason: str,
        **values: Any,
    ) -> Record:
        """The case ends (closed, merged, withdrawn, returned): its open referrals are cancelled, its
        queue entries resolved."""
        ended = await self.ctx.advance_case(session, case, action, now, manual_reason=None, **values)
        for referral in await store.open_referrals(session, case.case_no):
            await self.dispatch.cancel_referral(session, referral, cancel_reason, actor, now)
        await self.dispatch.resolve_queue(session, case.case_no, now)
        return ended

    async def close_case(
        self,
        session: AsyncSession,
        case: Record,
        action: CaseAction,
        reason: str,
        satisfaction: str | None,
        actor: Actor,
        now: datetime,
        **extra: Any,
    ) -> None:
        """Close (销号), recording the centre where the case was finally resolved; its follow-ups (三色
        回访) are scheduled."""
        centre = self.ctx.centre_of(case)
        await self.finish(
            session,
            case,
            action,
            now,
            actor,
            "case_closed",
            close_reason=reason,
            closed_at=now,
            resolved_centre_id=centre.id if centre else None,
            resolved_level=centre.level.value if centre else None,
        )
        event = CaseClosedV1(
            case_no=case.case_no, reason=reason, satisfaction=satisfaction, colour=case.colour, closed_at=now
        )
        await self.ctx.emit(session, event, actor, **extra)
        await self.followups.schedule(session, case, now)

    # --- while the case runs ----------------------------------------------------------------------

    async def assessment_changed(
        self, session: AsyncSession, case_no: str, colour: str, category: str | None
    ) -> bool | None:
        """Intake re-graded the case (a supervisor's override or a category correction): the case's
        colour and category follow, so lists, statistics and stalls show the current grading; a case
        raised to red is put before the district at once, as a red registration is. Running deadlines
        keep what they started under. None: the case has not reached referral yet."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return None
        values: dict[str, Any] = {}
        if colour != case.colour:
            values["colour"] = colour
        if category and category != case.category:
            values["category"] = category
        if not values:
            return False
        now = self.ctx.clock()
        await session.execute(
            update(cases).where(cases.c.case_no == case_no).values(**values, updated_at=now)
        )
        holding = self.ctx.centre_of(case)
        if holding is not None and not CASE_MACHINE.is_final(case.status):
            await self.centres.alert_district_if_red(session, case_no, colour, holding, now)
        return True

    async def refer_onward(self, session: AsyncSession, case_no: str, to: str, actor: Actor) -> bool:
        actor.require("centre")
        case = await self.ctx.load_case(session, case_no, actor)
        if case.referred_onward_to == to:
            return False
        allowed_states = (CaseState.replied.value, CaseState.callback.value, CaseState.closed.value)
        if (
            case.status not in allowed_states
            or case.referred_onward_to
            or case.reply_outcome not in ONWARD_OUTCOMES
        ):
            allowed = [a.value for a in CASE_MACHINE.allowed_actions(case.status)]
            raise StateConflict(
                "transition-refused",
                "不能转入仲裁或诉讼",
                "只有牵头部门答复为 unresolved 或 referred_to_litigation 的事项（状态 replied、callback 或 closed）"
                f"才能转出，且只能转出一次；当前状态 {case.status}，答复结果 {case.reply_outcome or '无'}，"
                f"可执行的操作: {'、'.join(allowed) or '无'}",
                current_state=case.status,
                action="refer_onward",
                allowed_actions=allowed,
            )
        now = self.ctx.clock()
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no)
            .values(referred_onward_to=to, referred_onward_at=now, updated_at=now)
        )
        event = CaseReferredToCourtV1(
            case_no=case_no,
            to=to,  # type: ignore[arg-type]
            outcome=case.reply_outcome,
            category=case.category,
            colour=case.colour,
            street_code=case.street_code,
            referred_at=now,
        )
        await self.ctx.emit(session, event, actor)
        return True

    async def record_meeting(
        self,
        session: AsyncSession,
        case_no: str,
        held_at: datetime,
        departments: Sequence[str],
        decisions: Sequence[str],
        actor: Actor,
    ) -> bool:
        actor.require("centre")
        unknown = [
            field_error(f"departments.{i}", f"unknown unit {code}")
            for i, code in enumerate(departments)
            if code not in self.ctx.config.registry.units
        ]
        if unknown:
            raise InvalidRequest("未知单位", "参会单位编码不存在", errors=unknown)
        case = await self.ctx.load_case(session, case_no, actor)
        if CASE_MACHINE.is_final(case.status):
            raise TransitionRefused("case", case.status, "record_meeting", [])
        now = self.ctx.clock()
        await session.execute(
            meetings.insert().values(
                case_no=case_no,
                held_at=held_at,
                departments=list(departments),
                decisions=list(decisions),
                recorded_at=now,
                actor_role=actor.role,
            )
        )
        await session.execute(
            update(deadlines)
            .where(
                deadlines.c.case_no == case_no,
                deadlines.c.kind == DeadlineKind.meeting.value,
                deadlines.c.status == "open",
            )
            .values(status="met", met_at=now, next_check_at=None, updated_at=now)
        )
        event = CaseMeetingHeldV1(case_no=case_no, held_at=held_at, departments=list(departments))
        await self.ctx.emit(session, event, actor)
        return True
